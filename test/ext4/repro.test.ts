/**
 * Reproducibility: the image's SHA-256 is the same across runs, across two
 * copies of the source made in different orders (cp -a, and a copy created
 * in reverse byte order so readdir order differs), and after every file was
 * read (atime changes). Oracle: sha256 of the image files; e2fsck -fn on one.
 */
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { scanTree } from "../../src/tree/scan.js";
import { runOk, sha256File, tempDir } from "../helpers/tools.js";
import { buildImage, fsck } from "./helpers.js";
import { makeExampleTree, mknod } from "./fixture.js";

/** Copies src to dst creating entries in reverse byte order, preserving metadata and hard links. */
function reverseCopy(src: string, dst: string): void {
  const seen = new Map<string, string>();
  const dirMeta: Array<[string, BigIntStats]> = [];
  const copy = (s: string, d: string, st: BigIntStats) => {
    if (st.isDirectory()) {
      mkdirSync(d);
      const names = readdirSync(s).sort().reverse();
      for (const n of names) copy(join(s, n), join(d, n), lstatSync(join(s, n), { bigint: true }));
      dirMeta.push([d, st]);
      return;
    }
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1n && seen.has(key)) {
      linkSync(seen.get(key)!, d);
      return;
    }
    seen.set(key, d);
    if (st.isFile()) writeFileSync(d, readFileSync(s));
    else if (st.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
    else if (st.isFIFO()) mknod(d, "p");
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
      const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
      mknod(d, st.isCharacterDevice() ? "c" : "b", major, minor);
    } else runOk("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", d]);
    lchownSync(d, Number(st.uid), Number(st.gid));
    if (!st.isSymbolicLink()) chmodSync(d, Number(st.mode & 0o7777n));
    runOk("touch", ["-h", "-d", `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, "0")}`, d]);
  };
  copy(src, dst, lstatSync(src, { bigint: true }));
  for (const [d, st] of dirMeta) {
    lchownSync(d, Number(st.uid), Number(st.gid));
    chmodSync(d, Number(st.mode & 0o7777n));
    runOk("touch", ["-h", "-d", `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, "0")}`, d]);
  }
}

describe("ext4 reproducibility", () => {
  const t = tempDir("mkdisk-ext4-repro-");
  afterAll(() => t.cleanup());

  it("same SHA-256 across runs, copies made in different orders, and after reading every file", async () => {
    const a = join(t.path, "a");
    mkdirSync(a);
    makeExampleTree(a);
    mkdirSync(join(a, "wide"));
    for (let i = 0; i < 600; i++) writeFileSync(join(a, "wide", `n${(i * 7919) % 600}`), String(i)); // htree dir
    const b = join(t.path, "b");
    runOk("cp", ["-a", a, b]);
    const c = join(t.path, "c");
    reverseCopy(a, c);
    // The two copies were created in opposite orders (host inode numbers show it;
    // readdir order may follow the host's own name hashing).
    const creationOrder = (dir: string) => readdirSync(join(dir, "wide")).sort((x, y) => lstatSync(join(dir, "wide", x)).ino - lstatSync(join(dir, "wide", y)).ino);
    expect(creationOrder(b)).not.toEqual(creationOrder(c));

    const img = async (dir: string, name: string) => {
      const p = join(t.path, name);
      await buildImage(scanTree(dir), p, { sizeBytes: 96 << 20 });
      return p;
    };
    const first = await img(a, "a1.img");
    expect(fsck(first).status).toBe(0);
    const hashes = [sha256File(first), sha256File(await img(a, "a2.img")), sha256File(await img(b, "b.img")), sha256File(await img(c, "c.img"))];
    runOk("sh", ["-c", `find "${a}" -type f -exec cat {} + > /dev/null`]);
    hashes.push(sha256File(await img(a, "a3.img")));
    expect(new Set(hashes).size, hashes.join("\n")).toBe(1);
  }, 120_000);
});
