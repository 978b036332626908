/**
 * The reproducibility matrix: each row builds the example disk (ESP FAT32 +
 * ext4 root + swap) under one changed condition and compares SHA-256 with a
 * reference build. Conditions: readdir order (copies made in opposite
 * orders), inode numbers and ctimes (a copy on tmpfs), atimes changed by
 * reading, a source file made sparse, umask, TZ, LANG, output file name,
 * worker count (reader threads, compression), a different system time (faketime).
 */
import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool, run, runOk, sha256File, tempDir } from "../helpers/tools.js";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");
let tmp: ReturnType<typeof tempDir>;
let src: string;
let layout: string;
let reference: string;

const LAYOUT = {
  seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
  sourceDateEpoch: 1662046009,
  size: "auto",
  partitions: [
    { type: "esp", format: "vfat", size: "40M", copyFiles: ["/boot:/"] },
    { type: "root", format: "ext4", size: "48M", copyFiles: ["/:/"], excludeFiles: ["/boot/"] },
    { type: "swap", format: "swap", size: "4M" },
  ],
};

function build(rootfs: string, out: string, opts: { env?: NodeJS.ProcessEnv; umask?: string; pre?: string[]; args?: string[] } = {}): string {
  const cmd = `umask ${opts.umask ?? "022"} && exec "$@"`;
  const argv = [...(opts.pre ?? []), process.execPath, CLI, "--rootfs", rootfs, "--layout", layout, "-o", out, "--force", ...(opts.args ?? [])];
  const r = spawnSync("sh", ["-c", cmd, "sh", ...argv], { encoding: "utf8", env: { PATH: process.env.PATH, ...opts.env } });
  if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stderr}`);
  return sha256File(out);
}

/** A tree with files of several sizes, nested dirs, a hard link, symlinks, a sparse-able file. */
function makeTree(dir: string): void {
  const w = (p: string, c: string | Buffer) => {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), c);
  };
  w("boot/vmlinuz", Buffer.alloc(300_000, 0x5a));
  w("boot/loader/entries/a.conf", "title a\n");
  w("boot/EFI/BOOT/BOOTX64.EFI", Buffer.alloc(5000, 1));
  for (let i = 0; i < 60; i++) w(`usr/share/doc/pkg${i % 7}/file-${i}.txt`, `line ${i}\n`.repeat(i * 10));
  w("var/lib/big-with-zeros", Buffer.concat([Buffer.alloc(8192, 1), Buffer.alloc(1 << 20), Buffer.alloc(4096, 2)]));
  w("etc/hostname", "repro\n");
  runOk("ln", [join(dir, "etc/hostname"), join(dir, "etc/hostname.hard")]);
  runOk("ln", ["-s", "hostname", join(dir, "etc/hostname.sym")]);
  runOk("ln", ["-s", "../../" + "x".repeat(80), join(dir, "etc/long.sym")]);
  runOk("chmod", ["-R", "u=rwX,go=rX", dir]);
}

/**
 * Copies `from` to `to`, creating each directory's entries in byte order or
 * in reverse byte order, then restoring directory times. On tmpfs, readdir
 * lists entries newest first, so the two copies list directories in
 * opposite orders (and get different inode numbers).
 */
function orderedCopy(from: string, to: string, reverse: boolean): void {
  runOk("mkdir", [to]);
  const walk = (rel: string) => {
    const names = readdirSync(join(from, rel)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (reverse) names.reverse();
    for (const n of names) {
      const r = join(rel, n);
      if (lstatSync(join(from, r)).isDirectory()) {
        runOk("mkdir", [join(to, r)]);
        walk(r);
      } else runOk("cp", ["-a", join(from, r), join(to, r)]);
    }
  };
  walk(".");
  // Hard links were copied as separate files: link them again as in the source.
  runOk("ln", ["-f", join(to, "etc/hostname"), join(to, "etc/hostname.hard")]);
  runOk("sh", ["-c", `cd '${from}' && find . -type d | while read -r d; do chmod --reference="$d" "${to}/$d"; touch -h -r "$d" "${to}/$d"; done`]);
}

beforeAll(() => {
  requireTool("faketime");
  tmp = tempDir();
  src = join(tmp.path, "src");
  makeTree(src);
  layout = join(tmp.path, "layout.json");
  writeFileSync(layout, JSON.stringify(LAYOUT));
  reference = build(src, join(tmp.path, "ref.img"));
});
afterAll(() => tmp.cleanup());

describe("reproducibility matrix", () => {
  it("the image passes the oracles (so the rows compare real images)", () => {
    const out = runOk("sgdisk", ["-v", join(tmp.path, "ref.img")]);
    expect(out).toContain("No problems found");
  });

  it("a second build in the same conditions", () => {
    expect(build(src, join(tmp.path, "again.img"))).toBe(reference);
  });

  it("readdir order: copies made in opposite orders (on tmpfs, where readdir follows creation order)", () => {
    const mnt = join(tmp.path, "order");
    mkdirSync(mnt);
    runOk("mount", ["-t", "tmpfs", "tmpfs", mnt]);
    try {
      const a = join(mnt, "forward");
      orderedCopy(src, a, false);
      const b = join(mnt, "rev");
      orderedCopy(src, b, true);
      // The condition really differs: the two copies list a directory in different orders
      // (getdents order, as `ls -U` shows it; Node's readdir sorts its result).
      const la = runOk("ls", ["-U", join(a, "usr/share/doc")]).split("\n");
      const lb = runOk("ls", ["-U", join(b, "usr/share/doc")]).split("\n");
      expect([...la].sort()).toEqual([...lb].sort());
      expect(la).not.toEqual(lb);
      expect(build(a, join(tmp.path, "cpa.img"))).toBe(reference);
      expect(build(b, join(tmp.path, "rev.img"))).toBe(reference);
    } finally {
      run("umount", [mnt]);
    }
  });

  it("inode numbers and ctimes: a copy on tmpfs", () => {
    const mnt = join(tmp.path, "tmpfs");
    mkdirSync(mnt);
    runOk("mount", ["-t", "tmpfs", "tmpfs", mnt]);
    try {
      runOk("cp", ["-a", src, join(mnt, "t")]);
      expect(build(join(mnt, "t"), join(tmp.path, "tmpfs.img"))).toBe(reference);
    } finally {
      run("umount", [mnt]);
    }
  });

  it("atimes changed by reading every file", () => {
    const c = join(tmp.path, "atime");
    runOk("cp", ["-a", src, c]);
    runOk("sh", ["-c", `find '${c}' -type f -exec cat {} + > /dev/null; find '${c}' -exec touch -a -d '2030-01-01' {} +`]);
    expect(build(c, join(tmp.path, "atime.img"))).toBe(reference);
  });

  it("a source file made sparse, and made dense", () => {
    const s = join(tmp.path, "sparse");
    runOk("cp", ["-a", src, s]);
    const f = join(s, "var/lib/big-with-zeros");
    runOk("cp", ["-p", "--sparse=always", f, f + ".tmp"]);
    runOk("mv", [f + ".tmp", f]);
    runOk("touch", ["-r", join(src, "var/lib/big-with-zeros"), f]);
    runOk("touch", ["-r", join(src, "var/lib"), join(s, "var/lib")]);
    expect(build(s, join(tmp.path, "sparse.img"))).toBe(reference);
    const d = join(tmp.path, "dense");
    runOk("cp", ["-a", "--sparse=never", src, d]);
    expect(build(d, join(tmp.path, "dense.img"))).toBe(reference);
  });

  it("umask, TZ, LANG and the output file name", () => {
    expect(build(src, join(tmp.path, "a-completely-different-name.img"), { umask: "077", env: { TZ: "Asia/Kathmandu", LANG: "de_DE.UTF-8", LC_ALL: "tr_TR.UTF-8" } })).toBe(reference);
  });

  it("a different system time (faketime)", () => {
    expect(build(src, join(tmp.path, "faketime.img"), { pre: ["faketime", "2001-02-03 04:05:06"] })).toBe(reference);
    expect(build(src, join(tmp.path, "faketime2.img"), { pre: ["faketime", "2038-02-03 04:05:06"] })).toBe(reference);
  });

  it("worker count (reader threads: none with --workers 1)", () => {
    expect(build(src, join(tmp.path, "r1.img"), { args: ["--workers", "1"] })).toBe(reference);
    expect(build(src, join(tmp.path, "r3.img"), { args: ["--workers", "3"] })).toBe(reference);
  });

  it("worker count (qcow2 compression)", () => {
    const q1 = build(src, join(tmp.path, "w1.qcow2"), { args: ["--format", "qcow2", "--compress", "--workers", "1"] });
    const q2 = build(src, join(tmp.path, "w2.qcow2"), { args: ["--format", "qcow2", "--compress", "--workers", "2"] });
    expect(q2).toBe(q1);
    expect(readFileSync(join(tmp.path, "w1.qcow2")).subarray(0, 4).toString("latin1")).toBe("QFI\xfb");
  });
});
