/**
 * mkdisk convert and multi-format builds, checked by qemu-img (check,
 * compare, info): raw → qcow2/vmdk/raw, qcow2/vmdk → the others, images made
 * by qemu-img as input, and a dense raw file converting to the same bytes as
 * its sparse twin (zero clusters found by content).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOk, sha256File, tempDir } from "../helpers/tools.js";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");
let tmp: ReturnType<typeof tempDir>;
let raw: string;

function mkdisk(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mkdisk ${args.join(" ")} → ${r.status}\n${r.stderr}`);
  return r;
}

beforeAll(() => {
  tmp = tempDir();
  writeFileSync(
    join(tmp.path, "layout.json"),
    JSON.stringify({
      seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
      sourceDateEpoch: 1662046009,
      ownership: "root",
      partitions: [
        { type: "esp", format: "vfat", size: "40M", copyFiles: ["/boot:/", "/efi:/"] },
        { type: "root", format: "ext4", size: "64M", copyFiles: ["/:/"], excludeFiles: ["/boot/", "/efi/"] },
      ],
    }),
  );
  // One build, three formats, one pass over the sources.
  mkdisk(["--rootfs", join(ROOT, "examples/basic/rootfs"), "--layout", join(tmp.path, "layout.json"), "-o", join(tmp.path, "disk"), "--format", "raw,qcow2,vmdk"]);
  raw = join(tmp.path, "disk.img");
});
afterAll(() => tmp.cleanup());

const check = (img: string) => {
  const j = JSON.parse(runOk("qemu-img", ["check", "--output=json", img]));
  expect(j["check-errors"] ?? 0).toBe(0);
  expect(j.leaks ?? 0).toBe(0);
  expect(j.corruptions ?? 0).toBe(0);
};
const same = (a: string, b: string) => expect(runOk("qemu-img", ["compare", a, b])).toContain("Images are identical");

describe("multi-format build and convert", () => {
  it("one build writes raw, qcow2 and vmdk that qemu-img finds identical", () => {
    check(join(tmp.path, "disk.qcow2"));
    check(join(tmp.path, "disk.vmdk"));
    same(raw, join(tmp.path, "disk.qcow2"));
    same(raw, join(tmp.path, "disk.vmdk"));
    const info = JSON.parse(runOk("qemu-img", ["info", "--output=json", join(tmp.path, "disk.qcow2")]));
    expect(info["virtual-size"]).toBe(statSync(raw).size);
    expect(info["format-specific"].data.compat).toBe("1.1");
  });

  it("converts raw to each format, and back, losslessly", () => {
    for (const [fmt, extra] of [["qcow2", []], ["qcow2", ["--compress"]], ["vmdk", []], ["raw", []]] as const) {
      const out = join(tmp.path, `conv-${fmt}${extra.length ? "-c" : ""}.${fmt}`);
      mkdisk(["convert", raw, "-O", fmt, out, ...extra]);
      if (fmt !== "raw") check(out);
      same(raw, out);
      const back = join(tmp.path, `back-${fmt}${extra.length ? "-c" : ""}.img`);
      mkdisk(["convert", out, "-O", "raw", back]);
      expect(sha256File(back)).toBe(sha256File(raw));
    }
    // A build's qcow2 and a converted qcow2 of its raw image are the same bytes.
    expect(sha256File(join(tmp.path, "conv-qcow2.qcow2"))).toBe(sha256File(join(tmp.path, "disk.qcow2")));
  });

  it("--compress compresses (also the qcow2 in a vagrant-libvirt box); --seed sets the VMDK's ids; outputs repeat byte for byte", () => {
    // qemu-img map shows compressed clusters as data without a host offset.
    const compressed = (img: string) => (JSON.parse(runOk("qemu-img", ["map", "-f", "qcow2", "--output=json", img])) as { data: boolean; offset?: number }[]).some((m) => m.data && m.offset === undefined);
    expect(compressed(join(tmp.path, "conv-qcow2-c.qcow2"))).toBe(true);
    expect(compressed(join(tmp.path, "conv-qcow2.qcow2"))).toBe(false);
    for (const extra of [[], ["--compress"]]) {
      const box = join(tmp.path, `conv${extra.length}.box`);
      mkdisk(["convert", raw, "-O", "vagrant-libvirt", box, ...extra]);
      const x = join(tmp.path, `conv${extra.length}-box`);
      runOk("mkdir", ["-p", x]);
      runOk("tar", ["-xzf", box, "-C", x, "box.img"]);
      check(join(x, "box.img"));
      same(raw, join(x, "box.img"));
      expect(compressed(join(x, "box.img")), `box ${extra.join(" ")}`).toBe(extra.length > 0);
    }
    // The VMDK's CID and ddb.uuid come from --seed: same seed, same bytes; another seed, other ids.
    const ids = (vmdk: string) => {
      const text = readFileSync(vmdk).subarray(0, 65536).toString("latin1");
      return { cid: /^CID=([0-9a-f]{8})$/m.exec(text)?.[1], uuid: /^ddb\.uuid = "([^"]+)"$/m.exec(text)?.[1] };
    };
    const v = (name: string, seed: string) => {
      const p = join(tmp.path, name);
      mkdisk(["convert", raw, "-O", "vmdk", p, "--seed", seed]);
      return p;
    };
    const a1 = v("seed-a1.vmdk", "11111111-2222-4333-8444-555555555555");
    const a2 = v("seed-a2.vmdk", "11111111-2222-4333-8444-555555555555");
    const b = v("seed-b.vmdk", "99999999-2222-4333-8444-555555555555");
    expect(sha256File(a2)).toBe(sha256File(a1));
    expect(ids(a1).cid).toMatch(/^[0-9a-f]{8}$/);
    expect(ids(a1).uuid).toMatch(/^([0-9a-f]{2} ){7}[0-9a-f]{2}-([0-9a-f]{2} ){7}[0-9a-f]{2}$/); // VMware's form
    expect(ids(b).cid).not.toBe(ids(a1).cid);
    expect(ids(b).uuid).not.toBe(ids(a1).uuid);
    same(raw, b);
  });

  it("a qcow2 too large for 64 KiB clusters (over 2 PiB) gets larger ones; smaller disks keep 64 KiB", () => {
    const huge = join(tmp.path, "huge.qcow2");
    runOk("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=2M", huge, "4P"]);
    const out = join(tmp.path, "huge-out.qcow2");
    mkdisk(["convert", huge, "-O", "qcow2", out]); // was exit 3: "use a cluster size of at least 131072"
    const info = JSON.parse(runOk("qemu-img", ["info", "--output=json", out])) as { "cluster-size": number; "virtual-size": number };
    expect(info).toMatchObject({ "cluster-size": 131072, "virtual-size": 4 * 2 ** 50 });
    runOk("qemu-img", ["check", out]);
    const small = join(tmp.path, "small-out.qcow2");
    mkdisk(["convert", raw, "-O", "qcow2", small]);
    expect(JSON.parse(runOk("qemu-img", ["info", "--output=json", small]))["cluster-size"]).toBe(65536);
  });

  it("reads images made by qemu-img", () => {
    for (const [fmt, opts] of [["qcow2", ["-c"]], ["vmdk", ["-o", "subformat=streamOptimized"]]] as const) {
      const q = join(tmp.path, `qemu.${fmt}`);
      runOk("qemu-img", ["convert", "-f", "raw", "-O", fmt, ...opts, raw, q]);
      const back = join(tmp.path, `from-qemu-${fmt}.img`);
      mkdisk(["convert", q, "-O", "raw", back]);
      expect(sha256File(back)).toBe(sha256File(raw));
      expect(JSON.parse(mkdisk(["inspect", "--json", q]).stdout).partitions.length).toBe(2);
    }
  });

  it("refuses VMDKs whose data is elsewhere (descriptor files, delta disks) and writes nothing; reads their flattened parent", () => {
    const parent = join(tmp.path, "parent.vmdk");
    runOk("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", raw, parent]);
    const child = join(tmp.path, "child.vmdk");
    runOk("qemu-img", ["create", "-q", "-f", "vmdk", "-b", parent, "-F", "vmdk", child]);
    runOk("qemu-io", ["-f", "vmdk", "-c", "write -P 0x11 0 4096", child]);
    const cases: [string, RegExp][] = [[child, /a delta disk \(parentCID [0-9a-f]+, parent ".*parent\.vmdk"\)/]];
    for (const sub of ["monolithicFlat", "twoGbMaxExtentSparse"]) {
      const d = join(tmp.path, `${sub}.vmdk`);
      runOk("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", `subformat=${sub}`, raw, d]);
      cases.push([d, /a VMDK descriptor file \(its data is in separate extent files\)/]);
    }
    for (const [input, why] of cases) {
      const out = join(tmp.path, "never.qcow2");
      const r = spawnSync(process.execPath, [CLI, "convert", input, "-O", "qcow2", out], { encoding: "utf8" });
      expect(r.status, `${input}: ${r.stderr}`).toBe(7);
      expect(r.stderr).toMatch(why);
      expect(existsSync(out)).toBe(false);
      const i = spawnSync(process.execPath, [CLI, "inspect", input], { encoding: "utf8" });
      expect(i.status, `inspect ${input}: ${i.stderr}`).toBe(7);
    }
    // The parent alone (parentCID ffffffff) is a whole disk.
    const back = join(tmp.path, "from-parent.img");
    mkdisk(["convert", parent, "-O", "raw", back]);
    expect(sha256File(back)).toBe(sha256File(raw));
  });

  it("finds zero clusters by content: a dense copy converts to the same qcow2 as the sparse one", () => {
    const dense = join(tmp.path, "dense.img");
    runOk("cp", ["--sparse=never", raw, dense]);
    expect(statSync(dense).blocks * 512).toBeGreaterThanOrEqual(statSync(raw).size);
    mkdisk(["convert", dense, "-O", "qcow2", join(tmp.path, "dense.qcow2")]);
    expect(sha256File(join(tmp.path, "dense.qcow2"))).toBe(sha256File(join(tmp.path, "disk.qcow2")));
  });

  it("refuses to overwrite without --force and reports a bad input image", () => {
    const r = spawnSync(process.execPath, [CLI, "convert", raw, "-O", "qcow2", join(tmp.path, "disk.qcow2")], { encoding: "utf8" });
    expect(r.status).toBe(6);
    const bad = join(tmp.path, "bad.qcow2");
    writeFileSync(bad, Buffer.concat([Buffer.from("QFI\xfb", "latin1"), Buffer.alloc(100, 0xff)]));
    const b = spawnSync(process.execPath, [CLI, "convert", bad, "-O", "raw", join(tmp.path, "never.img")], { encoding: "utf8" });
    expect(b.status).toBe(8);
    expect(b.stderr).toContain("bad.qcow2");
    expect(b.stderr).not.toMatch(/\n\s+at /);
  });
});
