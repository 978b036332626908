/**
 * Hole detection by content: which 4 KiB blocks of a regular file are not all
 * zero. Format modules do not read files, so the caller injects `readAt`
 * (a positional read, e.g. fs.readSync); the result plugs into
 * Ext4Options.readDataRuns. All-zero blocks become holes in the file (not
 * allocated, no extent), the way `cp --sparse=always` would store them.
 *
 * Cost: every regular file is read once at plan time (and again when its
 * data blocks are written). Memory: one chunk buffer; the planner keeps the
 * runs only of files that have holes. io/holes.ts spreads that read over
 * threads with the same `scanDataRuns`.
 */
import { fail } from "../bin/errors.js";
import type { DataRuns, ReadDataRuns } from "./plan.js";
import type { TreeNode } from "../tree/types.js";

/** Reads up to into.length bytes at fileOffsetBytes; returns the count read (0 at end of file). */
export type ReadAt = (path: string | Buffer, into: Uint8Array, fileOffsetBytes: number) => number;

/** Bytes read at a time; the buffer given to scanDataRuns. */
export const SCAN_CHUNK_BYTES = 128 << 10;

/**
 * The data runs ([first block, block count], ascending) of the `sizeBytes`
 * bytes that start at `startBytes` in what `read` reads, in 4 KiB blocks; a
 * block is data unless all its bytes are zero (the tail of the last block,
 * past the end, counts as zero). Returns null when `read` ends early (0).
 * `buf` is SCAN_CHUNK_BYTES long and `words` a Uint32Array view of it.
 *
 * Self-contained on purpose, with no imports and no outer names: reader
 * threads run it from its source text (io/holes.ts), so every thread finds
 * the same runs with the same code.
 */
export function scanDataRuns(read: (into: Uint8Array, fileOffsetBytes: number) => number, startBytes: number, sizeBytes: number, buf: Uint8Array, words: Uint32Array): Array<[number, number]> | null {
  const block = 4096;
  const chunk = buf.length;
  const runs: Array<[number, number]> = [];
  let runStart = -1;
  for (let off = 0; off < sizeBytes; off += chunk) {
    const want = Math.min(chunk, sizeBytes - off);
    let got = 0;
    while (got < want) {
      const n = read(buf.subarray(got, want), startBytes + off + got);
      if (n <= 0) return null;
      got += n;
    }
    buf.fill(0, want, Math.ceil(want / block) * block);
    for (let b = 0; b < want; b += block) {
      // Compared by 32-bit words: no per-byte loop, no BigInt.
      let zero = true;
      for (let i = b >>> 2, end = (b + block) >>> 2; i < end; i++) {
        if (words[i] !== 0) {
          zero = false;
          break;
        }
      }
      const k = (off + b) / block;
      if (zero) {
        if (runStart >= 0) runs.push([runStart, k - runStart]);
        runStart = -1;
      } else if (runStart < 0) runStart = k;
    }
  }
  const total = Math.ceil(sizeBytes / block);
  if (runStart >= 0) runs.push([runStart, total - runStart]);
  return runs;
}

/**
 * Whether `runs` is the dense case: one run over all of a `sizeBytes` file.
 * Self-contained, like scanDataRuns: reader threads run it from its source text.
 */
export function isDenseRuns(runs: ReadonlyArray<readonly [number, number]>, sizeBytes: number): boolean {
  return runs.length === 1 && runs[0][0] === 0 && runs[0][1] === Math.ceil(sizeBytes / 4096);
}

export function zeroBlockRuns(readAt: ReadAt): ReadDataRuns {
  const buf = new Uint8Array(SCAN_CHUNK_BYTES);
  const words = new Uint32Array(buf.buffer);
  return (node: TreeNode): DataRuns => {
    const path = node.sourcePath; // once per file: a scanned node builds it on each read
    const runs = scanDataRuns((into, off) => readAt(path, into, off), node.contentOffsetBytes ?? 0, node.sizeBytes, buf, words);
    if (!runs) fail("E_TREE", `file is shorter than when it was scanned (changed during the build?)`, node.path);
    return runs.length < 16 ? runs.slice() : runs; // kept per sparse file: no spare capacity
  };
}
