/**
 * ExtentReplay (the emitter's object-free replay of an inode's allocation)
 * against inodeBlocks (the object replay, which the e2fsck and mount tests
 * check through whole images): generated files, dense and sparse, in a file
 * system whose groups have backup superblocks, so runs are split around
 * reserved blocks, and with enough pieces that some inodes need extent-tree
 * blocks (replay must decline those).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { analyzeTree, ExtentReplay, inodeBlocks, layoutExt4, type DataRuns } from "../../src/ext4/plan.js";
import { rootIBlockInto } from "../../src/ext4/extent.js";
import { hashSeedWords } from "../../src/ext4/hash.js";
import { planExt4, SIGNED_DIR_HASH } from "../../src/ext4/index.js";
import type { Extent } from "../../src/io/extent.js";
import { parseUuid } from "../../src/bin/guid.js";
import type { Tree, TreeNode } from "../../src/tree/types.js";
import { ctx, UUID } from "./helpers.js";
import { EXT4_JOURNAL_INO } from "../../src/ext4/constants.js";

const BLOCK = 4096;

/** Runs of a file of `blocks` blocks from generated gaps and lengths (ascending, disjoint, inside the file). */
function runsOf(blocks: number, cuts: readonly number[]): DataRuns {
  const runs: Array<[number, number]> = [];
  let at = 0;
  for (let i = 0; i + 1 < cuts.length && at < blocks; i += 2) {
    const start = at + cuts[i];
    const count = Math.min(1 + cuts[i + 1], blocks - start);
    if (count <= 0) break;
    runs.push([start, count]);
    at = start + count + 1; // a gap of at least one block: runs never touch
  }
  return runs;
}

const fileArb = fc.record({
  blocks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1000, max: 12_000 })),
  sparse: fc.boolean(),
  cuts: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 2, maxLength: 16 }),
});

function treeOf(files: ReadonlyArray<{ blocks: number }>): Tree {
  const node = (name: string, type: "file" | "dir", sizeBytes: number, children?: TreeNode[]): TreeNode => ({
    name: Buffer.from(name), path: name === "" ? "/" : `/${name}`, sourcePath: Buffer.from(`/nonexistent/${name}`), type,
    mode: 0o644, uid: 0, gid: 0, sizeBytes, mtime: { sec: 0, nsec: 0 }, children,
  });
  const kids = files.map((f, i) => node(`f${String(i).padStart(4, "0")}`, "file", f.blocks * BLOCK));
  return { root: node("", "dir", 0, kids), nodeCount: kids.length + 1 };
}

describe("ExtentReplay", () => {
  it("replays what inodeBlocks does, byte for byte in the extent root, and declines inodes with tree blocks", () => {
    let replayed = 0;
    let declined = 0;
    let split = 0;
    fc.assert(
      fc.property(fc.array(fileArb, { minLength: 1, maxLength: 60 }), (files) => {
        const tree = treeOf(files);
        const runs = new Map<TreeNode, DataRuns>();
        tree.root.children!.forEach((n, i) => {
          const f = files[i];
          runs.set(n, f.sparse ? runsOf(f.blocks, f.cuts) : f.blocks > 0 ? [[0, f.blocks]] : []);
        });
        const a = analyzeTree(tree, hashSeedWords(parseUuid(UUID)), SIGNED_DIR_HASH, (n) => runs.get(n)!, "test");
        // 3 GiB: 24 groups, backup superblocks and GDT copies in groups 1, 3, 5, 7, 9 and flex_bg tables at 16.
        const l = layoutExt4(a, 3 * 2 ** 30, "test");
        const r = new ExtentReplay(a, l);
        const root = new Uint8Array(60);
        for (let ino = 1; ino <= a.lastIno; ino++) {
          const b = inodeBlocks(a, l, ino);
          const ok = r.replay(ino);
          // The journal is placed by the layout itself, not replayed.
          if (!b || b.tree.treeBlocks.length > 0 || ino === EXT4_JOURNAL_INO) {
            expect(ok, `inode ${ino}`).toBe(false);
            if (b && ino !== EXT4_JOURNAL_INO) declined++;
            continue;
          }
          expect(ok, `inode ${ino}`).toBe(true);
          replayed++;
          const got = Array.from({ length: r.count }, (_, i) => ({ logicalBlock: r.logical[i], physicalBlock: r.physical[i], count: r.length[i] }));
          expect(got, `inode ${ino}`).toEqual(b.extents);
          expect(r.blockCount, `inode ${ino}`).toBe(b.blockCount);
          rootIBlockInto(root, r.count, r.logical, r.physical, r.length);
          expect(root, `inode ${ino}`).toEqual(b.tree.rootIBlock());
          for (let i = 1; i < r.count; i++) if (r.physical[i] !== r.physical[i - 1] + r.length[i - 1] && r.logical[i] === r.logical[i - 1] + r.length[i - 1]) split++;
        }
      }),
      { numRuns: 60, seed: 20261201 },
    );
    // Both paths ran, and some runs were split around reserved blocks.
    expect(replayed).toBeGreaterThan(100);
    expect(declined).toBeGreaterThan(0);
    expect(split).toBeGreaterThan(0);
  });

  it("gives the same extents when the stream is iterated twice side by side", () => {
    // Sparse files of 2 to 4 runs: replayed (not declined), several extents each.
    const files = Array.from({ length: 40 }, (_, i) => ({ blocks: 50 + i * 7, sparse: i % 2 === 0, cuts: [i % 3, 4, 1, 2, 0, 9, 3, 1].slice(0, 2 * (2 + (i % 3))) }));
    const tree = treeOf(files);
    const runs = new Map<TreeNode, DataRuns>();
    tree.root.children!.forEach((n, i) => runs.set(n, files[i].sparse ? runsOf(files[i].blocks, files[i].cuts) : [[0, files[i].blocks]]));
    const region = planExt4(tree, { sizeBytes: 64 << 20, uuid: parseUuid(UUID), ctx: ctx(), readDataRuns: (n) => runs.get(n)! });
    const key = (e: Extent) => {
      const src = e.source;
      const what = src.kind === "file" ? `${String(src.path)}@${src.fileOffsetBytes}` : src.kind === "bytes" ? Buffer.from(src.bytes).toString("base64") : "zero";
      return `${e.offsetBytes}+${e.lengthBytes}:${what}`;
    };
    const alone = [...region.extents()].map(key);
    expect(alone.filter((k) => k.includes("@")).length).toBeGreaterThan(60); // many file extents, several per sparse file
    const a = region.extents()[Symbol.iterator]();
    const b = region.extents()[Symbol.iterator]();
    const ka: string[] = [];
    const kb: string[] = [];
    for (let i = 0; ; i++) {
      // B runs a few extents ahead of A, so they stand at different files.
      const ra = i < 3 ? { done: false, value: undefined } : a.next();
      const rb = b.next();
      if (ra.value) ka.push(key(ra.value));
      if (!rb.done) kb.push(key(rb.value));
      if (ra.done && rb.done) break;
    }
    expect(ka).toEqual(alone);
    expect(kb).toEqual(alone);
  });
});
