/**
 * Hash collisions across htree leaves. When two names share a major hash and
 * a leaf boundary falls between them, the second leaf's index hash carries
 * bit 0 (the continuation bit): the kernel's lookup then goes on from the
 * first leaf into the next. Without it, the kernel finds the name at the end
 * of the first leaf under the second leaf's index entry, and misses it.
 *
 * The tests construct that case: a pair of names with the same major hash
 * (found by search under the file system's hash seed), and filler names
 * chosen by hash so that exactly one leaf (and, in a two-level tree, one
 * whole index node) fills before the pair. Oracles: e2fsck -fn, debugfs
 * htree_dump (that the index really has the continuation entry, so the test
 * exercises what it claims), and kernel lookups by name through a loop mount.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseUuid } from "../../src/bin/guid.js";
import { halfMd4HashInto, hashSeedWords } from "../../src/ext4/hash.js";
import { DX_NODE_LIMIT, LEAF_SPACE, entryBytes } from "../../src/ext4/dir.js";
import { SIGNED_DIR_HASH } from "../../src/ext4/index.js";
import { scanTree } from "../../src/tree/scan.js";
import { runOk, tempDir } from "../helpers/tools.js";
import { UUID, buildImage, ctx, fsck } from "./helpers.js";
import { compareMounted, withMount } from "./fixture.js";

const seed = hashSeedWords(parseUuid(UUID));
const out = new Uint32Array(2);
const majorOf = (name: string): number => {
  halfMd4HashInto(Buffer.from(name), seed, SIGNED_DIR_HASH, out, 0);
  return out[0];
};

/** Names of `len` bytes: `tag`, a decimal counter, padded with "x". */
const nameOf = (tag: string, i: number, len: number) => `${tag}${i}-`.padEnd(len, "x");

/** Two names of `len` bytes with the same major hash, that hash between 1/4 and 3/4 of the range (fillers exist on both sides). */
function collidingPair(len: number): { a: string; b: string; hash: number } {
  const seen = new Map<number, number>();
  for (let i = 0; i < 2_000_000; i++) {
    const h = majorOf(nameOf("c", i, len));
    const j = seen.get(h);
    if (j !== undefined && h > 0x40000000 && h < 0xc0000000) return { a: nameOf("c", j, len), b: nameOf("c", i, len), hash: h };
    seen.set(h, i);
  }
  throw new Error("no collision found");
}

/** `below` names hashing under `hash` and `above` names hashing over it, all `len` bytes. */
function fillers(hash: number, len: number, below: number, above: number): string[] {
  const lo: string[] = [];
  const hi: string[] = [];
  for (let i = 0; lo.length < below || hi.length < above; i++) {
    const n = nameOf("f", i, len);
    const h = majorOf(n);
    if (h < hash && lo.length < below) lo.push(n);
    else if (h > hash && hi.length < above) hi.push(n);
  }
  return [...lo, ...hi];
}

/** Root/node index entries of `debugfs htree_dump`: [hash, block]. */
function indexHashes(dump: string): number[] {
  return [...dump.matchAll(/Entry #\d+: Hash 0x([0-9a-f]{8}), block \d+/g)].map((m) => parseInt(m[1], 16));
}

describe("ext4 htree: a hash collision split across leaves", () => {
  const t = tempDir("mkdisk-ext4-collide-");
  afterAll(() => t.cleanup());

  async function check(label: string, len: number, leavesBefore: number, extraAbove: number) {
    const perLeaf = Math.floor(LEAF_SPACE / entryBytes(len));
    const { a, b, hash } = collidingPair(len);
    expect(majorOf(a)).toBe(majorOf(b));
    // Exactly perLeaf * leavesBefore - 1 names sort before the pair: the pair's
    // first name ends leaf leavesBefore - 1, the second starts the next leaf.
    const names = [a, b, ...fillers(hash, len, perLeaf * leavesBefore - 1, extraAbove)];
    const src = join(t.path, label, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    for (const n of names) writeFileSync(join(src, "d", n), n.slice(0, 8));
    const tree = scanTree(src);
    const img = join(t.path, label, "fs.img");
    await buildImage(tree, img, { sizeBytes: 64 << 20 });
    const r = fsck(img);
    expect(r.status, r.out).toBe(0);

    // The index really has the continuation: an entry with hash | 1.
    const dump = runOk("debugfs", ["-R", "htree_dump /d", img]);
    expect(indexHashes(dump)).toContain((hash | 1) >>> 0);

    await withMount(img, join(t.path, label, "mnt"), () => {
      // Each name looked up through the index (no readdir first, so no cached dentries).
      const missing = [a, b].filter((n) => {
        try {
          runOk("stat", ["-c", "%s", join(t.path, label, "mnt", "d", n)]);
          return false;
        } catch {
          return true;
        }
      });
      expect(missing).toEqual([]);
      expect(compareMounted(tree, join(t.path, label, "mnt"), ctx())).toBe(tree.nodeCount);
    });
    return dump;
  }

  it("between two leaves under the root", async () => {
    // 12-byte names: 20-byte entries, 204 to a leaf; the pair straddles leaves 0 and 1.
    const dump = await check("one-level", 12, 1, 300);
    expect(dump).toMatch(/Indirect levels: 0/);
  }, 120_000);

  it("between two index nodes of a two-level tree", async () => {
    // 200-byte names: 19 to a leaf; the pair straddles leaf 509 (last of the
    // first dx_node) and leaf 510 (first of the second), so the root's entry
    // for the second node carries the continuation bit.
    const dump = await check("two-level", 200, DX_NODE_LIMIT, 40);
    expect(dump).toMatch(/Indirect levels: 1/);
  }, 180_000);
});
