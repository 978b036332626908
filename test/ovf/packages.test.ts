/**
 * OVA and Vagrant boxes written through BoxSink, checked by real consumers:
 * GNU tar (member order, owners, modes, times), gzip -t, xmllint (the OVF is
 * well-formed and namespace-well-formed; XPath reads the ids back),
 * qemu-img check / compare / info on the disk images inside, sha256sum for
 * the OVA manifest. Also: the same bytes across runs, worker counts and
 * scratch locations; writeBox on an existing image.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatUuid } from "../../src/bin/guid.js";
import { pump } from "../../src/io/pump.js";
import { VmdkSink } from "../../src/vmdk/index.js";
import { Qcow2Sink } from "../../src/qcow2/index.js";
import { resolveMachine, writeBox, type PackageKind } from "../../src/ovf/index.js";
import { VMDK_STREAM_OPTIMIZED_URI } from "../../src/ovf/descriptor.js";
import { run, runOk, sha256File, tempDir } from "../helpers/tools.js";
import { ctxFor, DISK_BYTES, diskExtents, EPOCH, writePackageFile, writeRawFile } from "./support.js";

const dir = tempDir("mkdisk-ovf-");
afterAll(() => dir.cleanup());
const raw = join(dir.path, "disk.raw");
const out = (n: string) => join(dir.path, n);
const ctx = ctxFor();
const machine = resolveMachine(undefined, ctx);

/** Bytes of the synthetic disk in non-zero 64 KiB grains (what populatedSize counts). */
// 1 MiB at 0 (16 grains), one grain for the lone sector, 300 KiB ending the disk (touches 5 grains).
const POPULATED = (16 + 1 + 5) * 65536;

function tarList(path: string, gz: boolean): string[][] {
  const r = run("tar", [gz ? "-tzvf" : "-tvf", path, "--numeric-owner", "--full-time"], { env: { ...process.env, TZ: "UTC" } });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.trim().split("\n").map((l) => l.split(/\s+/));
}

function extract(path: string, to: string, gz: boolean): void {
  mkdirSync(to, { recursive: true });
  runOk("tar", [gz ? "-xzf" : "-xf", path, "-C", to]);
}

function lintOvf(path: string): void {
  const r = run("xmllint", ["--noout", path]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
}

function xp(path: string, expr: string): string {
  const o = runOk("xmllint", ["--xpath", expr, path]);
  return o.endsWith("\n") ? o.slice(0, -1) : o;
}
const any = (local: string) => `*[local-name()="${local}"]`;
const attr = (local: string) => `@*[local-name()="${local}"]`;

function checkVmdk(path: string): void {
  const c = run("qemu-img", ["check", "-f", "vmdk", path]);
  expect(c.status, c.stdout + c.stderr).toBe(0);
  const cmp = run("qemu-img", ["compare", "-f", "raw", "-F", "vmdk", raw, path]);
  expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
  const info = JSON.parse(runOk("qemu-img", ["info", "-f", "vmdk", "--output=json", path]));
  expect(info["virtual-size"]).toBe(DISK_BYTES);
  expect(info["format-specific"].data["create-type"]).toBe("streamOptimized");
}

/** ddb.uuid from the VMDK's embedded descriptor, as a canonical UUID string. */
function ddbUuid(path: string): string {
  const text = readFileSync(path).subarray(512, 512 + 4096).toString("latin1");
  const m = /ddb\.uuid = "([0-9a-f ]+)-([0-9a-f ]+)"/.exec(text);
  expect(m).not.toBeNull();
  const h = (m![1] + m![2]).replace(/ /g, "");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The checks every OVF we write must pass; returns the disk uuid. */
function checkOvf(ovf: string, vmdkName: string, vmdkPath: string): string {
  lintOvf(ovf);
  const text = readFileSync(ovf, "utf8");
  expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<Envelope ')).toBe(true);
  const disk = `/${any("Envelope")}/${any("DiskSection")}/${any("Disk")}`;
  const diskUuid = xp(ovf, `string(${disk}/${attr("uuid")})`);
  const imageUuid = xp(ovf, `string(//${any("Machine")}/${any("StorageControllers")}/${any("StorageController")}/${any("AttachedDevice")}/${any("Image")}/@uuid)`);
  expect(imageUuid).toBe(`{${diskUuid}}`);
  expect(diskUuid).toBe(formatUuid(machine.diskUuid));
  expect(ddbUuid(vmdkPath)).toBe(diskUuid);
  expect(xp(ovf, `string(//${any("Machine")}/@uuid)`)).toBe(`{${formatUuid(machine.machineUuid)}}`);
  expect(xp(ovf, `string(${disk}/${attr("format")})`)).toBe(VMDK_STREAM_OPTIMIZED_URI);
  expect(xp(ovf, `string(${disk}/${attr("capacity")})`)).toBe(String(DISK_BYTES));
  expect(xp(ovf, `string(${disk}/${attr("populatedSize")})`)).toBe(String(POPULATED));
  const file = `/${any("Envelope")}/${any("References")}/${any("File")}`;
  expect(xp(ovf, `string(${file}/${attr("href")})`)).toBe(vmdkName);
  expect(xp(ovf, `string(${file}/${attr("size")})`)).toBe(String(readFileSync(vmdkPath).length));
  expect(xp(ovf, `string(//${any("Adapter")}/@MACAddress)`)).toBe(machine.macAddress);
  expect(machine.macAddress).toMatch(/^080027[0-9A-F]{6}$/);
  // Namespace-aware reads: the sections live in the OVF namespace, vbox:Machine in VirtualBox's.
  expect(xp(ovf, `count(//*[local-name()="Machine" and namespace-uri()="http://www.virtualbox.org/ovf/machine"])`)).toBe("1");
  expect(xp(ovf, `count(//*[local-name()="VirtualSystem" and namespace-uri()="http://schemas.dmtf.org/ovf/envelope/1"])`)).toBe("1");
  // The parts refer to each other: Disk → File, the disk Item → Disk (OVF 1.0's
  // "ovf:/disk/<diskId>" form), the network adapter → Network.
  expect(xp(ovf, `string(${disk}/${attr("fileRef")})`)).toBe(xp(ovf, `string(${file}/${attr("id")})`));
  expect(xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="17"]/${any("HostResource")})`)).toBe(`ovf:/disk/${xp(ovf, `string(${disk}/${attr("diskId")})`)}`);
  expect(xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="10"]/${any("Connection")})`)).toBe(xp(ovf, `string(//${any("NetworkSection")}/${any("Network")}/${attr("name")})`));
  // Each Item's rasd elements in the order of the CIM RASD schema's sequence (alphabetical).
  const items = Number(xp(ovf, `count(//${any("Item")})`));
  expect(items).toBe(5);
  for (let i = 1; i <= items; i++) {
    const names = xp(ovf, `//${any("Item")}[${i}]/*`).match(/<rasd:\w+/g)!.map((n) => n.slice(6));
    expect(names, `Item ${i}`).toEqual([...names].sort());
  }
  // No wall-clock or epoch time anywhere in the descriptor.
  expect(text).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d|lastStateChange/);
  return diskUuid;
}

const built: Record<PackageKind, string> = { ova: out("a.ova"), "vagrant-virtualbox": out("vb.box"), "vagrant-libvirt": out("lv.box") };

beforeAll(async () => {
  await writeRawFile(raw);
  for (const [k, p] of Object.entries(built)) await writePackageFile(k as PackageKind, p, { ctx });
});

describe("ova", () => {
  it("tar: descriptor, disk, manifest; root-owned 0644 at the epoch; not compressed", () => {
    const l = tarList(built.ova, false);
    expect(l.map((f) => f[5])).toEqual(["mkdisk.ovf", "mkdisk-disk001.vmdk", "mkdisk.mf"]);
    for (const f of l) expect([f[0], f[1], f[3], f[4]]).toEqual(["-rw-r--r--", "0/0", "2022-09-01", "15:26:49"]);
    expect(runOk("tar", ["-tvf", built.ova]).split("\n").filter((s) => s).every((s) => s.includes(" root/root "))).toBe(true);
    expect(readFileSync(built.ova).length % 10240).toBe(0);
    expect(new Date(EPOCH * 1000).toISOString()).toBe("2022-09-01T15:26:49.000Z");
  });

  it("the OVF passes xmllint and names the disk by the VMDK's own uuid; the disk passes qemu-img", () => {
    const x = out("ova.x");
    extract(built.ova, x, false);
    checkVmdk(join(x, "mkdisk-disk001.vmdk"));
    checkOvf(join(x, "mkdisk.ovf"), "mkdisk-disk001.vmdk", join(x, "mkdisk-disk001.vmdk"));
  });

  it("the manifest holds the SHA-256 of both members (sha256sum agrees)", () => {
    const x = out("ova.x2");
    extract(built.ova, x, false);
    const mf = readFileSync(join(x, "mkdisk.mf"), "utf8");
    const lines = mf.trimEnd().split("\n");
    expect(lines.length).toBe(2);
    // In archive order: the descriptor, then the disk.
    expect(lines.map((l) => /^SHA256\(([^)]+)\)/.exec(l)?.[1])).toEqual(["mkdisk.ovf", "mkdisk-disk001.vmdk"]);
    for (const line of lines) {
      const m = /^SHA256\(([^)]+)\)= ([0-9a-f]{64})$/.exec(line);
      expect(m).not.toBeNull();
      expect(runOk("sha256sum", [join(x, m![1])]).split(" ")[0]).toBe(m![2]);
    }
  });
});

describe("vagrant-virtualbox box", () => {
  it("gzip -t passes; members in order, root-owned, at the epoch", () => {
    expect(run("gzip", ["-t", built["vagrant-virtualbox"]]).status).toBe(0);
    const l = tarList(built["vagrant-virtualbox"], true);
    expect(l.map((f) => f[5])).toEqual(["metadata.json", "Vagrantfile", "box.ovf", "box-disk001.vmdk"]);
    for (const f of l) expect([f[0], f[1], f[3], f[4]]).toEqual(["-rw-r--r--", "0/0", "2022-09-01", "15:26:49"]);
    // gzip header: no name, mtime 0, OS 3.
    expect(Array.from(readFileSync(built["vagrant-virtualbox"]).subarray(0, 10))).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  });

  it("metadata, Vagrantfile base_mac = the OVF's MAC, OVF and VMDK pass their oracles", () => {
    const x = out("vb.x");
    extract(built["vagrant-virtualbox"], x, true);
    expect(JSON.parse(readFileSync(join(x, "metadata.json"), "utf8"))).toEqual({ provider: "virtualbox" });
    const vf = readFileSync(join(x, "Vagrantfile"), "utf8");
    const mac = /config\.vm\.base_mac = "([0-9A-F]{12})"/.exec(vf);
    expect(mac?.[1]).toBe(xp(join(x, "box.ovf"), `string(//${any("Adapter")}/@MACAddress)`));
    checkVmdk(join(x, "box-disk001.vmdk"));
    checkOvf(join(x, "box.ovf"), "box-disk001.vmdk", join(x, "box-disk001.vmdk"));
  });
});

describe("vagrant-libvirt box", () => {
  it("gzip -t passes; metadata.json, Vagrantfile, box.img in order", () => {
    expect(run("gzip", ["-t", built["vagrant-libvirt"]]).status).toBe(0);
    const l = tarList(built["vagrant-libvirt"], true);
    expect(l.map((f) => f[5])).toEqual(["metadata.json", "Vagrantfile", "box.img"]);
    for (const f of l) expect([f[0], f[1], f[3], f[4]]).toEqual(["-rw-r--r--", "0/0", "2022-09-01", "15:26:49"]);
  });

  it("box.img passes qemu-img check and equals the raw disk; metadata says qcow2 and the size in GiB", () => {
    const x = out("lv.x");
    extract(built["vagrant-libvirt"], x, true);
    const img = join(x, "box.img");
    const c = run("qemu-img", ["check", "-f", "qcow2", img]);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    expect(run("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, img]).status).toBe(0);
    expect(JSON.parse(runOk("qemu-img", ["info", "--output=json", img])).format).toBe("qcow2");
    expect(JSON.parse(readFileSync(join(x, "metadata.json"), "utf8"))).toEqual({ provider: "libvirt", format: "qcow2", virtual_size: 1 });
    expect(readFileSync(join(x, "Vagrantfile"), "utf8")).toContain("config.vm.provider :libvirt do |libvirt|");
  });
});

describe("reproducibility", () => {
  it("same SHA-256 across runs, worker counts and scratch directories", async () => {
    const scratch = out("scratch");
    mkdirSync(scratch);
    for (const [k, p] of Object.entries(built)) {
      const again = out(`again-${k}`);
      await writePackageFile(k as PackageKind, again, { ctx: ctxFor(), workers: 3, scratchDir: scratch });
      expect(sha256File(again)).toBe(sha256File(p));
    }
    // Scratch files never stay behind.
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("without SOURCE_DATE_EPOCH every member time is 0 (1970-01-01), never the clock", async () => {
    const p = out("noepoch.box");
    await writePackageFile("vagrant-virtualbox", p, { ctx: ctxFor(undefined, null) });
    for (const f of tarList(p, true)) expect([f[3], f[4]]).toEqual(["1970-01-01", "00:00:00"]);
  });

  it("a different seed changes the ids and nothing else about the structure", async () => {
    const p = out("seed2.ova");
    const other = ctxFor("6b1d2a43-1c2f-4c35-8bd8-3c6b4e0a9f10");
    await writePackageFile("ova", p, { ctx: other });
    const x = out("seed2.x");
    extract(p, x, false);
    const m2 = resolveMachine(undefined, other);
    expect(m2.macAddress).not.toBe(machine.macAddress);
    expect(xp(join(x, "mkdisk.ovf"), `string(//${any("Disk")}/${attr("uuid")})`)).toBe(formatUuid(m2.diskUuid));
    expect(ddbUuid(join(x, "mkdisk-disk001.vmdk"))).toBe(formatUuid(m2.diskUuid));
  });
});

describe("options", () => {
  it("EFI, IDE, name, OS type, CPUs and memory reach the OVF and the Vagrantfiles", async () => {
    const opts = { name: 'web & "db" <1>', osType: "Debian_64", cpus: 4, memoryMiB: 3072, firmware: "efi" as const, controller: "ide" as const };
    const p = out("opts.ova");
    await writePackageFile("ova", p, { ctx, machine: opts });
    const l = tarList(p, false).map((f) => f[5]);
    expect(l).toEqual(["web____db___1_.ovf", "web____db___1_-disk001.vmdk", "web____db___1_.mf"]);
    const x = out("opts.x");
    extract(p, x, false);
    const ovf = join(x, l[0]);
    lintOvf(ovf);
    expect(xp(ovf, `string(//${any("VirtualSystem")}/${attr("id")})`)).toBe(opts.name);
    expect(xp(ovf, `string(//${any("Machine")}/@name)`)).toBe(opts.name);
    expect(xp(ovf, `string(//${any("Machine")}/@OSType)`)).toBe("Debian_64");
    expect(xp(ovf, `string(//${any("OperatingSystemSection")}/${attr("id")})`)).toBe("96");
    expect(xp(ovf, `string(//${any("Firmware")}/@type)`)).toBe("EFI");
    expect(xp(ovf, `string(//${any("CPU")}/@count)`)).toBe("4");
    expect(xp(ovf, `string(//${any("Memory")}/@RAMSize)`)).toBe("3072");
    expect(xp(ovf, `string(//${any("StorageController")}/@type)`)).toBe("PIIX4");
    expect(xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="5"]/${any("ResourceSubType")})`)).toBe("PIIX4");
    expect(xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="4"]/${any("VirtualQuantity")})`)).toBe("3072");
    expect(xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="3"]/${any("VirtualQuantity")})`)).toBe("4");
    expect(xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="17"]/${any("Parent")})`)).toBe(
      xp(ovf, `string(//${any("Item")}[${any("ResourceType")}="5"]/${any("InstanceID")})`),
    );
    // The boxes' Vagrantfiles carry the same CPUs and memory.
    for (const [kind, prefix] of [["vagrant-virtualbox", "vb"], ["vagrant-libvirt", "libvirt"]] as const) {
      const box = out(`opts-${kind}.box`);
      await writePackageFile(kind, box, { ctx, machine: opts });
      const bx = out(`opts-${kind}.x`);
      extract(box, bx, true);
      const vf = readFileSync(join(bx, "Vagrantfile"), "utf8");
      expect(vf, kind).toContain(`    ${prefix}.cpus = 4\n`);
      expect(vf, kind).toContain(`    ${prefix}.memory = 3072\n`);
    }
  });

  it("BIOS (the default) writes no Firmware element; bad options fail before any byte is written", async () => {
    const x = out("vb.x3");
    extract(built["vagrant-virtualbox"], x, true);
    expect(xp(join(x, "box.ovf"), `count(//${any("Firmware")})`)).toBe("0");
    for (const bad of [{ cpus: 0 }, { memoryMiB: 1.5 }, { osType: "Plan9" }, { name: "" }, { name: "a\u0001" }, { firmware: "uefi" }, { controller: "scsi" }]) {
      await expect(writePackageFile("ova", out("bad.ova"), { ctx, machine: bad as never })).rejects.toMatchObject({ code: "E_USAGE" });
    }
  });
});

describe("writeBox on existing images", () => {
  it("a qcow2 file gives the same .box as the sink; a VMDK gives an OVA that passes the same checks", async () => {
    const q = out("in.qcow2");
    let fd = openSync(q, "w");
    await pump(diskExtents(), DISK_BYTES, [new Qcow2Sink(fd, { workers: 1 })]);
    closeSync(fd);
    writeBox("vagrant-libvirt", q, { ctx, outPath: out("wb-lv.box") });
    expect(sha256File(out("wb-lv.box"))).toBe(sha256File(built["vagrant-libvirt"]));

    const v = out("in.vmdk");
    fd = openSync(v, "w");
    await pump(diskExtents(), DISK_BYTES, [new VmdkSink({ write: (b) => void writeFileSync(fd, b) }, { ctx, workers: 1 })]);
    closeSync(fd);
    writeBox("ova", v, { ctx, outPath: out("wb.ova") });
    const x = out("wb.x");
    extract(out("wb.ova"), x, false);
    const ovf = join(x, "mkdisk.ovf");
    lintOvf(ovf);
    expect(xp(ovf, `string(//${any("Disk")}/${attr("uuid")})`)).toBe(ddbUuid(join(x, "mkdisk-disk001.vmdk")));
    expect(xp(ovf, `count(//${any("Disk")}/${attr("populatedSize")})`)).toBe("0");
    expect(createHash("sha256").update(readFileSync(join(x, "mkdisk-disk001.vmdk"))).digest("hex")).toBe(sha256File(v));
    // The wrong kind of image is refused.
    expect(() => writeBox("ova", q, { ctx, outPath: out("wrong.ova") })).toThrow(/KDMV/);
    expect(() => writeBox("vagrant-libvirt", v, { ctx, outPath: out("wrong.box") })).toThrow(/QFI/);
  });
});
