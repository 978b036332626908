/**
 * Whole FAT32 volumes checked by real consumers: fsck.fat -n (dosfstools),
 * mtools read-back (mdir/mcopy), and mkfs.vfat + mcopy as the reference
 * writer. Images are bare partitions (no GPT).
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { join } from "node:path";
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { buildDisk } from "../../src/build.js";
import { requireTool, run, runOk, sha256File, tempDir } from "../helpers/tools.js";
import { scanTree } from "../../src/tree/scan.js";
import { planFat32 } from "../../src/fat32/index.js";
import { buildImage, ctx, EPOCH, fsckComplaints, listDir, makeTree, MTOOLS_ENV, mtoolsReadBack, type Spec, writeImage } from "./helpers.js";
import { FAT_EPOCH_SEC } from "../../src/fat32/fattime.js";
import { foldName } from "../../src/fat32/names.js";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** An ESP-like example: boot loader paths, lower/upper/mixed 8.3 names, long and unicode names, 8.3 collisions. */
const EXAMPLE: Spec = {
  EFI: {
    BOOT: { "BOOTX64.EFI": bytes(150_000, 1) },
    systemd: { "systemd-bootx64.efi": bytes(90_000, 2) },
    Linux: {},
  },
  loader: {
    "loader.conf": "timeout 3\n",
    entries: { "debian.conf": "title Debian\nlinux /vmlinuz\n" },
    "random-seed": bytes(32, 3),
  },
  "vmlinuz-6.1.0-13-amd64": bytes(1_000_003, 4),
  "README.TXT": "upper 8.3\n",
  "readme.md": "lower 8.3\n",
  "Mixed.Txt": "mixed\n",
  "lower.TXT": "lower base, upper ext\n",
  "grüße.txt": "unicode\n",
  "日本語のファイル名.txt": "cjk\n",
  "a very long file name that needs several long-name entries to hold it.conf": "long\n",
  "longfilename1.txt": "1",
  "longfilename2.txt": "2",
  "longfilename3.txt": "3",
  ".hidden": "dot file\n",
  "two.dots.in.name": "dots\n",
  "with space": "space\n",
  "plus+sign;semi=eq[1]": "lossy chars\n",
  "empty-file": "",
  "cluster-512": bytes(512, 5),
  "cluster-513": bytes(513, 6),
  "empty-dir": {},
};

let tmp: { path: string; cleanup(): void };
let src: string;
let img: string;

beforeAll(async () => {
  requireTool("faketime");
  tmp = tempDir("mkdisk-fat32-");
  src = join(tmp.path, "src");
  img = join(tmp.path, "esp.img");
  makeTree(src, EXAMPLE, 1_600_000_001);
  await buildImage(src, img, { sizeBytes: 64 * 1048576 });
});
afterAll(() => tmp.cleanup());

describe("fsck.fat -n", () => {
  test("accepts the example volume without a single complaint", () => {
    const r = fsckComplaints(img);
    expect(r.complaints).toEqual([]);
    expect(r.status).toBe(0);
    // fsck counts every file and directory, the root included
    const n = Object.keys(listDir(src)).length + 1;
    expect(r.summary).toMatch(new RegExp(`: ${n} files, \\d+/\\d+ clusters$`));
  });

  test("reports the geometry mkfs.fat would choose (512-byte clusters up to 260 MiB, 32 reserved sectors)", () => {
    const out = runOk("fsck.fat", ["-n", "-v", img]);
    expect(out).toContain("512 bytes per cluster");
    expect(out).toContain("32 reserved sectors");
    expect(out).toContain("Media byte 0xf8");
    expect(out).toContain("Root directory start at cluster 2");
    expect(out).toContain("2 FATs, 32 bit entries");
    expect(out).not.toMatch(/differ|wrong|Wrong|invalid|Invalid/);
  });

  test("accepts a 4096-byte-sector volume", async () => {
    const img4k = join(tmp.path, "esp4k.img");
    await buildImage(src, img4k, { sizeBytes: 300 * 1048576, sectorBytes: 4096, hiddenSectors: 2048 });
    const r = fsckComplaints(img4k);
    expect(r.complaints).toEqual([]);
    expect(r.status).toBe(0);
    const out = runOk("fsck.fat", ["-n", "-v", img4k]);
    expect(out).toContain("4096 bytes per logical sector");
    expect(out).toContain("2048 hidden sectors");
    expect(mtoolsReadBack(img4k, join(tmp.path, "out4k"))).toEqual(expectedListing(src));
  });

  test("accepts a volume with 4 KiB clusters (> 260 MiB)", async () => {
    const imgBig = join(tmp.path, "big.img");
    await buildImage(src, imgBig, { sizeBytes: 300 * 1048576 });
    expect(fsckComplaints(imgBig).complaints).toEqual([]);
    expect(runOk("fsck.fat", ["-n", "-v", imgBig])).toContain("4096 bytes per cluster");
  });
});

/** What mtools should read back: the source listing with times clamped and cut to FAT's 2 s. */
function expectedListing(dir: string, epoch = EPOCH): ReturnType<typeof listDir> {
  const l = listDir(dir);
  for (const v of Object.values(l)) {
    let t = Math.min(v.mtimeSec, epoch);
    if (t < FAT_EPOCH_SEC) t = FAT_EPOCH_SEC;
    v.mtimeSec = t - (t % 2);
  }
  return l;
}

describe("mtools read-back", () => {
  test("mcopy -s -m gives the same names, bytes and (2-second, clamped) times", () => {
    const got = mtoolsReadBack(img, join(tmp.path, "out"));
    expect(got).toEqual(expectedListing(src));
  });

  test("mdir shows the label, the serial, lower-case 8.3 names in lower case and generated short names", () => {
    const out = runOk("mdir", ["-i", img, "::/"], { env: MTOOLS_ENV });
    expect(out).toContain("Volume in drive : is ESP");
    expect(out).toContain("Volume Serial Number is 1234-5678");
    expect(out).toMatch(/^readme\s+md\s+10 /m); // NT case bits, no long name
    expect(out).toMatch(/^lower\s+TXT\s+/m); // base lower, extension upper
    expect(out).toMatch(/^README\s+TXT\s+/m);
    expect(out).toMatch(/^MIXED\s+TXT\s+6 .* Mixed\.Txt$/m); // mixed case: upper short name + long name, no tail
    expect(out).toMatch(/^LONGFI~1 TXT .* longfilename1\.txt$/m);
    expect(out).toMatch(/^LONGFI~2 TXT .* longfilename2\.txt$/m);
    expect(out).toMatch(/^LONGFI~3 TXT .* longfilename3\.txt$/m);
    expect(out).toMatch(/^HIDDEN~1\s+.* \.hidden$/m);
    expect(out).toMatch(/^PLUS_S~1\s+.* plus\+sign;semi=eq\[1\]$/m); // + ; = [ ] -> _
    expect(out).toMatch(/^GR__E~1\s+TXT .* grüße\.txt$/m); // each non-ASCII code point -> _
    expect(out).toMatch(/^TWODOT~1 NAM .* two\.dots\.in\.name$/m); // last period splits, others dropped
    expect(out).toMatch(/^EMPTY-~1\s+<DIR> .* empty-dir$/m);
  });

  test("times in the entries follow the clamp rule (mdir, TZ=UTC)", async () => {
    const t = tempDir("mkdisk-fat32-times-");
    try {
      const s = join(t.path, "src");
      makeTree(s, { old: "1", new: "2", odd: "3" });
      const { utimesSync } = await import("node:fs");
      utimesSync(join(s, "old"), 100, 100); // 1970: before FAT's 1980 -> 1980-01-01 00:00
      utimesSync(join(s, "new"), EPOCH + 86400 * 400, EPOCH + 86400 * 400); // after the epoch -> the epoch
      utimesSync(join(s, "odd"), 1_600_000_001, 1_600_000_001); // odd second -> cut to even
      const i = join(t.path, "t.img");
      await buildImage(s, i, { sizeBytes: 40 * 1048576 });
      const out = runOk("mdir", ["-i", i, "::/"], { env: MTOOLS_ENV });
      expect(out).toMatch(/^old\s+1 1980-01-01\s+0:00 $/m);
      expect(out).toMatch(/^new\s+1 2023-11-14\s+22:13 $/m); // EPOCH = 2023-11-14T22:13:20Z
      expect(out).toMatch(/^odd\s+1 2020-09-13\s+12:26 $/m);
      const back = mtoolsReadBack(i, join(t.path, "out"));
      expect(back["/old"].mtimeSec).toBe(FAT_EPOCH_SEC);
      expect(back["/new"].mtimeSec).toBe(EPOCH);
      expect(back["/odd"].mtimeSec).toBe(1_600_000_000);
    } finally {
      t.cleanup();
    }
  });
});

describe("compared with mkfs.vfat + mcopy", () => {
  test("same file set and contents through mtools", () => {
    const ref = join(tmp.path, "ref.img");
    runOk("mkfs.vfat", ["-F", "32", "-i", "12345678", "-n", "ESP", "-C", ref, String(64 * 1024)]);
    runOk("mcopy", ["-s", "-p", "-Q", "-m", "-i", ref, ...Object.keys(EXAMPLE).map((n) => join(src, n)), "::/"], { env: MTOOLS_ENV });
    const theirs = mtoolsReadBack(ref, join(tmp.path, "ref-out"));
    const ours = mtoolsReadBack(img, join(tmp.path, "our-out"));
    // mcopy 4.0.32 upper-cases non-ASCII letters of the long names it writes
    // ("grüße.txt" -> "grÜße.txt"), so names are compared case-folded.
    const strip = (l: typeof ours) => Object.fromEntries(Object.entries(l).map(([k, v]) => [foldName(k), { type: v.type, sha256: v.sha256 }]));
    expect(strip(ours)).toEqual(strip(theirs));
    expect(fsckComplaints(ref).complaints).toEqual([]);
  });
});

describe("reproducibility", () => {
  test("same SHA-256 across runs, system times and two copies of the tree listed in opposite orders; mcopy's differ", async () => {
    // Two copies on tmpfs, which lists a directory newest first: created in
    // opposite orders, they list every directory in opposite orders.
    const mnt = join(tmp.path, "order");
    mkdirSync(mnt);
    runOk("mount", ["-t", "tmpfs", "tmpfs", mnt]);
    try {
      const asc = join(mnt, "asc");
      const desc = join(mnt, "desc");
      makeTree(asc, EXAMPLE, 1_600_000_001, "asc");
      makeTree(desc, EXAMPLE, 1_600_000_001, "desc");
      const ls = (d: string) => runOk("ls", ["-U", join(d, "loader/entries"), join(d, "EFI"), join(d, "loader")]);
      expect(ls(asc)).not.toBe(ls(desc)); // the condition really differs (Node's readdir sorts; getdents does not)

      // mkdisk: the same bytes, also with the system clock moved (in case a clock read leaks in).
      const a = join(tmp.path, "a.img");
      const b = join(tmp.path, "b.img");
      await buildImage(asc, a, { sizeBytes: 64 * 1048576 });
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        vi.setSystemTime(new Date("2041-06-01T12:34:57Z"));
        await buildImage(desc, b, { sizeBytes: 64 * 1048576 });
      } finally {
        vi.useRealTimers();
      }
      expect(sha256File(a)).toBe(sha256File(img));
      expect(sha256File(b)).toBe(sha256File(img));

      // mkfs.vfat + mcopy, with a frozen clock and a fixed volume id: the same
      // copy gives the same image twice, the other copy a different one
      // (mcopy writes entries and clusters in readdir order).
      const mcopyImage = (from: string, out: string) => {
        // -f: a frozen clock (without it, faketime 0.9.10 starts the clock there and lets it run, so a
        // run that crosses a 2-second boundary stamps different times: this test then failed 1 run in 7).
        runOk("faketime", ["-f", "2023-01-01 00:00:00", "mkfs.vfat", "-F", "32", "-i", "12345678", "-n", "ESP", "-C", out, String(64 * 1024)]);
        runOk("faketime", ["-f", "2023-01-01 00:00:00", "mcopy", "-s", "-p", "-Q", "-m", "-i", out, ...Object.keys(EXAMPLE).sort().map((n) => join(from, n)), "::/"], { env: MTOOLS_ENV });
        expect(fsckComplaints(out).complaints).toEqual([]);
        return sha256File(out);
      };
      const c1 = mcopyImage(asc, join(tmp.path, "c1.img"));
      const c2 = mcopyImage(asc, join(tmp.path, "c2.img"));
      const c3 = mcopyImage(desc, join(tmp.path, "c3.img"));
      expect(c2).toBe(c1);
      expect(c3).not.toBe(c1);
    } finally {
      run("umount", [mnt]);
    }
  });

  test("extents() can be replayed and yields the same stream", () => {
    const region = planFat32(scanTree(src), { sizeBytes: 64 * 1048576, sectorBytes: 512, volumeId: 1, label: "esp", ctx: ctx() });
    const flat = (it: Iterable<{ offsetBytes: number; lengthBytes: number }>) => [...it].map((e) => `${e.offsetBytes}+${e.lengthBytes}`).join(",");
    expect(flat(region.extents())).toBe(flat(region.extents()));
  });

  test("the volume id and label land in the BPB (read by mtools) and the image size is the partition size", () => {
    expect(statSync(img).size).toBe(64 * 1048576);
    const boot = readFileSync(img).subarray(0, 512);
    expect(Buffer.from(boot.subarray(0x47, 0x52)).toString("latin1")).toBe("ESP        ");
    expect(boot.readUInt32LE(0x43)).toBe(0x12345678);
  });
});

describe("minimum size", () => {
  test("fat32MinimumSizeBytes fits and a size one cluster smaller does not", async () => {
    const { fat32MinimumSizeBytes } = await import("../../src/fat32/index.js");
    const tree = scanTree(src);
    const min = fat32MinimumSizeBytes(tree, 512, { label: "esp" });
    expect(min % 512).toBe(0);
    const i = join(tmp.path, "min.img");
    await writeImage(tree, i, { sizeBytes: min });
    expect(fsckComplaints(i).complaints).toEqual([]);
    expect(() => planFat32(tree, { sizeBytes: min - 512, sectorBytes: 512, volumeId: 1, label: "esp", ctx: ctx() })).toThrow(/at least/);
  });
});

describe("followSymlinks", () => {
  test("links inside the tree are stored as their targets (fsck + mtools)", async () => {
    const { symlinkSync, writeFileSync, mkdirSync } = await import("node:fs");
    const t = tempDir("mkdisk-fat32-links-");
    try {
      const s = join(t.path, "src");
      mkdirSync(join(s, "real", "sub"), { recursive: true });
      writeFileSync(join(s, "real", "f.txt"), "file\n");
      writeFileSync(join(s, "real", "sub", "g.txt"), "g\n");
      symlinkSync("real/f.txt", join(s, "to-file"));
      symlinkSync("/real", join(s, "to-dir"));
      const i = join(t.path, "l.img");
      await buildImage(s, i, { sizeBytes: 40 * 1048576, followSymlinks: true });
      expect(fsckComplaints(i).complaints).toEqual([]);
      const got = mtoolsReadBack(i, join(t.path, "out"));
      expect(Object.keys(got)).toEqual(["/real", "/real/f.txt", "/real/sub", "/real/sub/g.txt", "/to-dir", "/to-dir/f.txt", "/to-dir/sub", "/to-dir/sub/g.txt", "/to-file"]);
      expect(got["/to-file"].sha256).toBe(got["/real/f.txt"].sha256);
      expect(got["/to-dir/sub/g.txt"].sha256).toBe(got["/real/sub/g.txt"].sha256);
    } finally {
      t.cleanup();
    }
  });

  test("with copyFiles, links resolve in the rootfs: absolute targets, targets outside the copied tree; never outside the rootfs", async () => {
    const t = tempDir("mkdisk-fat32-rootfs-links-");
    try {
      const s = join(t.path, "root");
      mkdirSync(join(s, "boot"), { recursive: true });
      mkdirSync(join(s, "usr/lib/initrd"), { recursive: true });
      mkdirSync(join(s, "usr/lib/dtbs/vendor"), { recursive: true });
      writeFileSync(join(s, "boot/vmlinuz-6.1"), "kernel\n");
      writeFileSync(join(s, "usr/lib/initrd/initrd-6.1"), "initrd\n");
      writeFileSync(join(s, "usr/lib/dtbs/vendor/board.dtb"), "dtb\n");
      symlinkSync("/boot/vmlinuz-6.1", join(s, "boot/vmlinuz")); // absolute, as the running system reads it
      symlinkSync("../usr/lib/initrd/initrd-6.1", join(s, "boot/initrd.img")); // outside what the ESP copies
      symlinkSync("/usr/lib/dtbs", join(s, "boot/dtbs")); // a directory outside it
      const layout = (extra: Record<string, unknown> = {}) => ({
        seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
        partitions: [{ type: "esp", format: "vfat", size: "40M", copyFiles: ["/boot:/"], followSymlinks: true, ...extra }],
      });
      const img = join(t.path, "d.img");
      const r = await buildDisk({ layout: layout(), rootfs: s, outputs: [{ format: "raw", path: img }] });
      const start = r.plan.partitions[0].startLba * 512;
      const part = join(t.path, "esp.img");
      writeFileSync(part, readFileSync(img).subarray(start, start + 40 * 1048576));
      expect(fsckComplaints(part).complaints).toEqual([]);
      const got = mtoolsReadBack(part, join(t.path, "out"));
      expect(Object.keys(got).sort()).toEqual(["/dtbs", "/dtbs/vendor", "/dtbs/vendor/board.dtb", "/initrd.img", "/vmlinuz", "/vmlinuz-6.1"]);
      expect(got["/vmlinuz"].sha256).toBe(got["/vmlinuz-6.1"].sha256);
      expect(got["/initrd.img"].sha256).toBe(sha256File(join(s, "usr/lib/initrd/initrd-6.1")));
      expect(got["/dtbs/vendor/board.dtb"].sha256).toBe(sha256File(join(s, "usr/lib/dtbs/vendor/board.dtb")));
      // Outside the rootfs, and a trailing slash after a file (ENOTDIR), are errors naming the link.
      for (const [name, target, why] of [["out", "../../../../etc/passwd", /\/out: symlink target ".*" points outside the rootfs/], ["slash", "vmlinuz-6.1/", /\/slash: symlink target "vmlinuz-6.1\/": .* is not a directory/]] as const) {
        symlinkSync(target, join(s, "boot", name));
        await expect(buildDisk({ layout: layout(), rootfs: s, outputs: [{ format: "raw", path: join(t.path, `${name}.img`) }] })).rejects.toThrow(why);
        rmSync(join(s, "boot", name));
      }
    } finally {
      t.cleanup();
    }
  });
});
