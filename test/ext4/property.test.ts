/**
 * Generated trees (fast-check) through e2fsck -fn and a kernel mount read-back:
 * unicode names up to 255 bytes, deep nesting, 0-byte and multi-block files,
 * a directory of a few thousand entries, hard links across directories,
 * short and long symlinks, device nodes, FIFOs, every mode bit, 32-bit ids,
 * times before 1970 and after the epoch.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { chmodSync, lchownSync, linkSync, lutimesSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanTree } from "../../src/tree/scan.js";
import { zeroBlockRuns } from "../../src/ext4/holes.js";
import { tempDir } from "../helpers/tools.js";
import { buildImage, ctx, fsck, nodeReadAt } from "./helpers.js";
import { compareMounted, mknod, withMount } from "./fixture.js";

const nameChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._-+ ~#@é€中文😀ß".split(/(?:)/u));
/** A name of 1..255 UTF-8 bytes (never "." or ".."). */
const nameArb = fc
  .array(nameChar, { minLength: 1, maxLength: 90 })
  .map((cs) => {
    let s = "";
    for (const c of cs) {
      if (Buffer.byteLength(s + c) > 255) break;
      s += c;
    }
    return s === "." || s === ".." ? s + "x" : s;
  });
const timeArb = fc.record({ sec: fc.integer({ min: -2_000_000_000, max: 2_100_000_000 }), usec: fc.integer({ min: 0, max: 999_999 }) });
const idArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 70000 }), fc.integer({ min: 0, max: 0xfffffffe }));
const sizeArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 4096, max: 300_000 }));

const specArb = fc.record({
  dirs: fc.array(fc.record({ parent: fc.nat(), name: nameArb, mode: fc.integer({ min: 0, max: 0o7777 }), time: timeArb }), { maxLength: 25 }),
  depth: fc.integer({ min: 0, max: 40 }),
  files: fc.array(
    fc.record({ dir: fc.nat(), name: nameArb, size: sizeArb, fill: fc.integer({ min: 0, max: 255 }), zeroHead: fc.boolean(), mode: fc.integer({ min: 0, max: 0o7777 }), uid: idArb, gid: idArb, time: timeArb }),
    { maxLength: 40 },
  ),
  links: fc.array(fc.record({ file: fc.nat(), dir: fc.nat(), name: nameArb }), { maxLength: 8 }),
  symlinks: fc.array(fc.record({ dir: fc.nat(), name: nameArb, target: fc.oneof(nameArb, fc.string({ minLength: 60, maxLength: 2000 }).filter((s) => s.length > 0 && !s.includes("\0"))), uid: idArb }), { maxLength: 10 }),
  devs: fc.array(fc.record({ dir: fc.nat(), name: nameArb, kind: fc.constantFrom("c", "b", "p") as fc.Arbitrary<"c" | "b" | "p">, major: fc.integer({ min: 0, max: 4095 }), minor: fc.integer({ min: 0, max: 0xfffff }) }), { maxLength: 6 }),
  bulk: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 3000 })),
  holes: fc.boolean(),
});
type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

function materialize(root: string, s: Spec): void {
  const dirs: string[] = [root];
  const used = new Map<string, Set<string>>([[root, new Set()]]);
  const claim = (dir: string, name: string): string | undefined => {
    const u = used.get(dir)!;
    if (u.has(name) || (dir === root && name === "lost+found")) return undefined;
    u.add(name);
    return join(dir, name);
  };
  let chain = root;
  for (let i = 0; i < s.depth; i++) {
    const p = claim(chain, `d${i}`)!;
    mkdirSync(p);
    used.set(p, new Set());
    dirs.push(p);
    chain = p;
  }
  const dirTimes: Array<[string, Spec["dirs"][number]]> = [];
  for (const d of s.dirs) {
    const parent = dirs[d.parent % dirs.length];
    const p = claim(parent, d.name);
    if (!p) continue;
    mkdirSync(p);
    used.set(p, new Set());
    dirs.push(p);
    dirTimes.push([p, d]);
  }
  const files: string[] = [];
  for (const f of s.files) {
    const p = claim(dirs[f.dir % dirs.length], f.name);
    if (!p) continue;
    const data = new Uint8Array(f.size).fill(f.fill);
    if (f.zeroHead) data.fill(0, 0, Math.min(f.size, 8192 + 17));
    writeFileSync(p, data);
    lchownSync(p, f.uid, f.gid);
    chmodSync(p, f.mode);
    lutimesSync(p, f.time.sec + f.time.usec / 1e6, f.time.sec + f.time.usec / 1e6);
    files.push(p);
  }
  for (const l of s.links) {
    if (files.length === 0) break;
    const p = claim(dirs[l.dir % dirs.length], l.name);
    if (p) linkSync(files[l.file % files.length], p);
  }
  for (const sl of s.symlinks) {
    const p = claim(dirs[sl.dir % dirs.length], sl.name);
    if (!p) continue;
    symlinkSync(sl.target, p);
    lchownSync(p, sl.uid, sl.uid);
  }
  for (const d of s.devs) {
    const p = claim(dirs[d.dir % dirs.length], d.name);
    if (p) mknod(p, d.kind, d.major, d.minor);
  }
  if (s.bulk > 0) {
    const b = join(root, "bulk");
    if (claim(root, "bulk")) {
      mkdirSync(b);
      for (let i = 0; i < s.bulk; i++) writeFileSync(join(b, `f${i}-${"é".repeat(i % 40)}`), i % 3 === 0 ? String(i) : "");
    }
  }
  // Directory modes and times last (creating entries changes a directory's mtime).
  for (const [p, d] of dirTimes.reverse()) {
    chmodSync(p, d.mode);
    lutimesSync(p, d.time.sec + d.time.usec / 1e6, d.time.sec + d.time.usec / 1e6);
  }
}

describe("ext4 generated trees (e2fsck -fn + kernel mount)", () => {
  const t = tempDir("mkdisk-ext4-prop-");
  afterAll(() => t.cleanup());
  it("every generated tree is fsck-clean and reads back identically", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(specArb, async (spec) => {
        const dir = join(t.path, `r${run++}`);
        const src = join(dir, "src");
        mkdirSync(src, { recursive: true });
        try {
          materialize(src, spec);
          const tree = scanTree(src);
          const img = join(dir, "fs.img");
          await buildImage(tree, img, { sizeBytes: 80 << 20, readDataRuns: spec.holes ? zeroBlockRuns(nodeReadAt) : undefined });
          const r = fsck(img);
          expect(r.status, r.out).toBe(0);
          const n = await withMount(img, join(dir, "mnt"), () => compareMounted(tree, join(dir, "mnt"), ctx()));
          expect(n).toBe(tree.nodeCount);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 8, seed: 20240601, endOnFailure: true },
    );
  }, 300_000);
});
