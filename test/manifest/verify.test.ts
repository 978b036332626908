/**
 * Build manifest and `mkdisk verify`: the manifest's digests are the real
 * bytes' digests; verify rebuilds with the recorded options (formats,
 * compression, ownership mode) and says "identical"; a changed input tree is
 * reported, and with --image the published image is explained down to the
 * changed file's path.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256File, tempDir } from "../helpers/tools.js";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");
let tmp: ReturnType<typeof tempDir>;

const LAYOUT = {
  seed: "4a9e1c2b-7d3f-4e8a-9b0c-1d2e3f405162",
  sourceDateEpoch: 1700000000,
  partitions: [
    { type: "esp", format: "vfat", size: "40M", copyFiles: ["/efi:/"] },
    { type: "root", format: "ext4", size: "32M", copyFiles: ["/:/"], excludeFiles: ["/efi"] },
  ],
};

function mkdisk(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { PATH: process.env.PATH } });
}

function sha256Range(path: string, start: number, length: number): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), start + done);
      h.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

beforeAll(() => {
  tmp = tempDir("mkdisk-verify-");
  const r = join(tmp.path, "root");
  mkdirSync(join(r, "efi/EFI/BOOT"), { recursive: true });
  mkdirSync(join(r, "etc"), { recursive: true });
  writeFileSync(join(r, "efi/EFI/BOOT/BOOTX64.EFI"), Buffer.alloc(70_000, 7));
  writeFileSync(join(r, "etc/os-release"), "ID=example\n");
  writeFileSync(join(r, "etc/hostname"), "box\n");
  writeFileSync(join(tmp.path, "layout.json"), JSON.stringify(LAYOUT));
  writeFileSync(join(tmp.path, "owners.txt"), "/etc/hostname mode=0600 uid=0 gid=0\n");
});
afterAll(() => tmp?.cleanup());

describe("build manifest and verify", () => {
  it("records the real digests and the options that change bytes", () => {
    const out = join(tmp.path, "disk");
    const manifest = join(tmp.path, "m.json");
    const r = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", join(tmp.path, "layout.json"), "--format", "raw,qcow2", "--compress", "--ownership", "root", "-o", out, "--manifest", manifest]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const m = JSON.parse(readFileSync(manifest, "utf8"));
    expect(m.disk.sha256).toBe(sha256File(out + ".img"));
    for (const p of m.disk.partitions) expect(p.sha256).toBe(sha256Range(out + ".img", p.startLba * 512, p.sizeBytes));
    expect(m.outputs).toEqual([
      { format: "raw", sha256: sha256File(out + ".img") },
      { format: "qcow2", sha256: sha256File(out + ".qcow2"), compress: true },
    ]);
    expect(m.ownership).toBe("root");
    expect(m.seed).toBe(LAYOUT.seed);
    expect(m.sourceDateEpoch).toBe(LAYOUT.sourceDateEpoch);
    expect(m.tree.entries).toBeGreaterThan(5);
    // No path of the build machine in it.
    expect(readFileSync(manifest, "utf8")).not.toContain(tmp.path);
  });

  it("verify rebuilds with the recorded options: identical", () => {
    const v = mkdisk(["verify", "--manifest", join(tmp.path, "m.json"), "--rootfs", join(tmp.path, "root")]);
    expect(v.stdout).toMatch(/^identical: disk [0-9a-f]{64}/);
    expect(v.status).toBe(0);
  });

  it("a changed tree: verify exits 1, names the partition, and --image explains it by path", () => {
    const changed = join(tmp.path, "changed");
    cpSync(join(tmp.path, "root"), changed, { recursive: true, preserveTimestamps: true });
    writeFileSync(join(changed, "etc/os-release"), "ID=tampered\n");
    const v = mkdisk(["verify", "--manifest", join(tmp.path, "m.json"), "--rootfs", changed, "--image", join(tmp.path, "disk.qcow2")]);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain("DIFFERENT");
    expect(v.stdout).toMatch(/input tree differs/);
    expect(v.stdout).toMatch(/partition 2 \(root-x86-64\) content differs/);
    expect(v.stdout).not.toMatch(/partition 1 .*differs/);
    expect(v.stdout).toContain("/etc/os-release");
  });

  it("GRUB images for BIOS boot: digests recorded, found through --layout-dir, a changed core.img named", () => {
    // boot.img / core.img look-alikes with the fields mkdisk patches.
    const grub = join(tmp.path, "grub");
    mkdirSync(grub);
    const boot = Buffer.alloc(512, 0xd1);
    boot[0x66] = 0xeb;
    boot[0x67] = 0x05;
    const core = Buffer.alloc(30_000, 0xc7);
    core.writeBigUInt64LE(2n, 0x1f4);
    core.writeUInt16LE(Math.ceil(core.length / 512) - 1, 0x1fc);
    core.writeUInt16LE(0x820, 0x1fe);
    writeFileSync(join(grub, "boot.img"), boot);
    writeFileSync(join(grub, "core.img"), core);
    const layout = { ...LAYOUT, partitions: [LAYOUT.partitions[0], { type: "bios-boot", size: "1M" }, LAYOUT.partitions[1]], biosBoot: { bootImage: "grub/boot.img", coreImage: "grub/core.img" } };
    writeFileSync(join(tmp.path, "bios.json"), JSON.stringify(layout));
    const manifest = join(tmp.path, "m3.json");
    const b = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", join(tmp.path, "bios.json"), "-o", join(tmp.path, "bios.img"), "--manifest", manifest]);
    expect(b.stderr).toBe("");
    expect(JSON.parse(readFileSync(manifest, "utf8")).biosBoot).toEqual({
      bootImageSha256: createHash("sha256").update(boot).digest("hex"),
      coreImageSha256: createHash("sha256").update(core).digest("hex"),
    });
    const args = ["verify", "--manifest", manifest, "--rootfs", join(tmp.path, "root"), "--layout-dir", tmp.path];
    expect(mkdisk(args).stdout).toMatch(/^identical/);
    core[1000] ^= 0xff;
    writeFileSync(join(grub, "core.img"), core);
    const v = mkdisk(args);
    expect(v.status).toBe(1);
    expect(v.stdout).toMatch(/GRUB core\.img differs/);
  });

  it("an ownership manifest must be given again, and is checked", () => {
    const manifest = join(tmp.path, "m2.json");
    const args = ["--rootfs", join(tmp.path, "root"), "--layout", join(tmp.path, "layout.json"), "-o", join(tmp.path, "owned.img"), "--manifest", manifest];
    expect(mkdisk([...args, "--ownership-manifest", join(tmp.path, "owners.txt")]).status).toBe(0);
    // The recorded digest is the file's, as sha256sum prints it.
    expect(JSON.parse(readFileSync(manifest, "utf8")).ownershipManifestSha256).toBe(sha256File(join(tmp.path, "owners.txt")));
    // A manifest that is not UTF-8 is refused (it used to be hashed after decoding, so two such files got one digest).
    writeFileSync(join(tmp.path, "owners-bad.txt"), Buffer.concat([Buffer.from("# \xff\n", "latin1"), readFileSync(join(tmp.path, "owners.txt"))]));
    const bad = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", join(tmp.path, "layout.json"), "-o", join(tmp.path, "owned-bad.img"), "--ownership-manifest", join(tmp.path, "owners-bad.txt")]);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/owners-bad\.txt: the ownership manifest is not valid UTF-8/);
    const missing = mkdisk(["verify", "--manifest", manifest, "--rootfs", join(tmp.path, "root")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--ownership-manifest");
    const ok = mkdisk(["verify", "--manifest", manifest, "--rootfs", join(tmp.path, "root"), "--ownership-manifest", join(tmp.path, "owners.txt")]);
    expect(ok.stdout).toMatch(/^identical/);
    expect(ok.status).toBe(0);
  });
});
