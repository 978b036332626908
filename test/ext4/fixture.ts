/**
 * Test trees and the kernel read-back check. Fixtures are made with real
 * syscalls (mknod, mkfifo, a bound AF_UNIX socket, chown, utimes), so the
 * scanner sees what it would see in a rootfs.
 */
import { chmodSync, closeSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeSync, writeFileSync, lutimesSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { expect } from "vitest";
import type { BuildContext } from "../../src/context/index.js";
import type { Tree, TreeNode } from "../../src/tree/types.js";
import { runOk } from "../helpers/tools.js";

export function mknod(path: string, kind: "c" | "b" | "p", major = 0, minor = 0): void {
  if (kind === "p") runOk("mknod", [path, "p"]);
  else runOk("mknod", [path, kind, String(major), String(minor)]);
}

export function mksock(path: string): void {
  runOk("python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", path]);
}

/** A sparse file with `dataBlocks` non-zero 4 KiB blocks, each followed by a one-block hole. */
export function sparseFile(path: string, dataBlocks: number): void {
  const fd = openSync(path, "w");
  const blk = new Uint8Array(4096).fill(0xa5);
  for (let i = 0; i < dataBlocks; i++) {
    blk[0] = i & 0xff;
    writeSync(fd, blk, 0, 4096, i * 8192);
  }
  writeSync(fd, Uint8Array.of(1), 0, 1, dataBlocks * 8192 + 5000); // ends mid-block after a hole
  closeSync(fd);
}

/** The example tree: every node type, mode bit, id width and time shape the writer handles. */
export function makeExampleTree(root: string): void {
  const p = (...s: string[]) => join(root, ...s);
  mkdirSync(p("etc/ssh"), { recursive: true });
  mkdirSync(p("usr/share/doc/ünïcødé-文档"), { recursive: true });
  mkdirSync(p("dev"));
  mkdirSync(p("tmp"));
  mkdirSync(p("a/b/c/d/e/f/g/h/i/j"), { recursive: true });
  writeFileSync(p("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(p("etc/empty"), "");
  writeFileSync(p("etc/ssh/sshd_config"), "PermitRootLogin no\n".repeat(500));
  writeFileSync(p("usr/share/doc/ünïcødé-文档/" + "n".repeat(251) + ".txt"), "long name\n");
  writeFileSync(p("a/b/c/d/e/f/g/h/i/j/deep"), "deep\n");
  const big = new Uint8Array(5 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
  writeFileSync(p("usr/big.bin"), big);
  writeFileSync(p("usr/zeros.bin"), new Uint8Array(3 * 4096 + 10)); // all zero
  sparseFile(p("usr/sparse.bin"), 1500); // > 4 * 340 extents with hole detection: depth 2
  sparseFile(p("usr/sparse-small.bin"), 20); // depth 1
  // Hard links across directories.
  writeFileSync(p("usr/hard1"), "hard link content\n");
  linkSync(p("usr/hard1"), p("etc/hard2"));
  linkSync(p("usr/hard1"), p("a/b/hard3"));
  // Symlinks: fast (< 60 bytes), slow (>= 60), long.
  symlinkSync("passwd", p("etc/short-link"));
  symlinkSync("x".repeat(59), p("etc/link59"));
  symlinkSync("y".repeat(60), p("etc/link60"));
  symlinkSync("/usr/share/doc/" + "z".repeat(3000), p("etc/long-link"));
  symlinkSync("../etc/passwd", p("usr/rel-link"));
  // Devices, fifo, socket.
  mknod(p("dev/null"), "c", 1, 3);
  mknod(p("dev/sda"), "b", 8, 0);
  mknod(p("dev/bigdev"), "c", 300, 70000);
  mknod(p("dev/fifo"), "p");
  mksock(p("dev/sock"));
  // Every mode bit.
  writeFileSync(p("usr/suid"), "#!/bin/sh\n");
  chmodSync(p("usr/suid"), 0o4755);
  writeFileSync(p("usr/sgid"), "x");
  chmodSync(p("usr/sgid"), 0o2711);
  writeFileSync(p("usr/all"), "x");
  chmodSync(p("usr/all"), 0o7777);
  writeFileSync(p("usr/none"), "x");
  chmodSync(p("usr/none"), 0o000);
  chmodSync(p("tmp"), 0o1777);
  // Owners, 16-bit and 32-bit.
  lchownSync(p("etc/passwd"), 1000, 1000);
  lchownSync(p("usr/sgid"), 65537, 70000);
  lchownSync(p("etc/short-link"), 4_000_000_000, 3_999_999_999);
  // Times: nanoseconds, before 1970, after the epoch (clamped).
  lutimesSync(p("etc/passwd"), 1_600_000_000.123456, 1_600_000_000.123456);
  lutimesSync(p("etc/empty"), -1000, -1000);
  lutimesSync(p("usr/big.bin"), 2_000_000_000, 2_000_000_000);
  lutimesSync(p("etc/long-link"), 1_234_567_890, 1_234_567_890);
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function typeOf(st: ReturnType<typeof lstatSync>): string {
  if (st!.isFile()) return "file";
  if (st!.isDirectory()) return "dir";
  if (st!.isSymbolicLink()) return "symlink";
  if (st!.isCharacterDevice()) return "chardev";
  if (st!.isBlockDevice()) return "blockdev";
  if (st!.isFIFO()) return "fifo";
  return "socket";
}

/**
 * Compares every path of `tree` with the mounted file system: type, mode,
 * uid, gid, size, link target, link count, mtime (clamped) and SHA-256; and
 * that no directory holds anything else (besides a generated /lost+found).
 * Mismatches are collected and asserted at the end (one line each).
 */
export function compareMounted(tree: Tree, mnt: string, ctx: BuildContext): number {
  const groupCount = new Map<number, number>();
  const walk = (n: TreeNode, f: (n: TreeNode) => void) => {
    f(n);
    n.children?.forEach((c) => walk(c, f));
  };
  walk(tree.root, (n) => {
    if (n.hardlinkGroup !== undefined) groupCount.set(n.hardlinkGroup, (groupCount.get(n.hardlinkGroup) ?? 0) + 1);
  });
  const diffs: string[] = [];
  const check = (where: string, what: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) diffs.push(`${where}: ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  const LPF = Buffer.from("lost+found").toString("hex");
  let checked = 0;
  walk(tree.root, (n) => {
    const mp = Buffer.concat([Buffer.from(mnt), n.path === "/" ? Buffer.alloc(0) : Buffer.from(n.sourcePath.subarray(tree.root.sourcePath.length))]);
    const st = lstatSync(mp, { bigint: true });
    const where = n.path;
    check(where, "type", typeOf(st as never), n.type);
    check(where, "mode", Number(st.mode & 0o7777n), n.mode);
    check(where, "uid", Number(st.uid), n.uid);
    check(where, "gid", Number(st.gid), n.gid);
    const t = ctx.clamp(n.mtime);
    check(where, "mtime ns", String(st.mtimeNs), String(BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec)));
    if (n.type === "file") {
      check(where, "size", Number(st.size), n.sizeBytes);
      check(where, "sha256", sha256(mp as unknown as string), sha256(n.sourcePath as unknown as string));
    }
    if (n.type === "symlink") check(where, "target", readlinkSync(mp, { encoding: "buffer" }).toString("hex"), Buffer.from(n.linkTarget!).toString("hex"));
    if (n.type === "chardev" || n.type === "blockdev") {
      const rdev = st.rdev;
      const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
      const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
      check(where, "rdev", [major, minor], [n.rdevMajor, n.rdevMinor]);
    }
    if (n.type === "dir") {
      const want = (n.children ?? []).map((c) => Buffer.from(c.name).toString("hex"));
      if (n === tree.root && !want.includes(LPF)) want.push(LPF);
      const subdirs = (n.children ?? []).filter((c) => c.type === "dir").length + (n === tree.root && !(n.children ?? []).some((c) => Buffer.from(c.name).toString("hex") === LPF) ? 1 : 0);
      check(where, "nlink", Number(st.nlink), 2 + subdirs);
      const names = readdirSync(mp, { encoding: "buffer" }).map((b) => b.toString("hex")).sort();
      check(where, "entries", names, want.sort());
    } else {
      check(where, "nlink", Number(st.nlink), n.hardlinkGroup === undefined ? 1 : groupCount.get(n.hardlinkGroup));
    }
    checked++;
  });
  expect(diffs.slice(0, 20)).toEqual([]);
  return checked;
}

/** Mounts read-only, runs `f`, always unmounts. */
export async function withMount<T>(img: string, mnt: string, f: () => T | Promise<T>): Promise<T> {
  mkdirSync(mnt, { recursive: true });
  runOk("mount", ["-o", "loop,ro", img, mnt]);
  try {
    return await f();
  } finally {
    runOk("umount", [mnt]);
  }
}
