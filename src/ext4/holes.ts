/**
 * Hole detection by content: which 4 KiB blocks of a regular file are not all
 * zero. Format modules do not read files, so the caller injects `readAt`
 * (a positional read, e.g. fs.readSync); the result plugs into
 * Ext4Options.readDataRuns. All-zero blocks become holes in the file (not
 * allocated, no extent), the way `cp --sparse=always` would store them.
 *
 * Cost: every regular file is read once at plan time (and again when its
 * data blocks are written). Memory: one chunk buffer; the planner keeps the
 * runs only of files that have holes.
 */
import { fail } from "../bin/errors.js";
import { BLOCK_BYTES } from "./constants.js";
import type { DataRuns, ReadDataRuns } from "./plan.js";
import type { TreeNode } from "../tree/types.js";

/** Reads up to into.length bytes at fileOffsetBytes; returns the count read (0 at end of file). */
export type ReadAt = (path: string | Buffer, into: Uint8Array, fileOffsetBytes: number) => number;

const CHUNK_BYTES = 128 << 10;

/** True when block [at, at + lenBytes) of `buf` is zero, compared by 32-bit words (no BigInt). */
function zeroBlock(words: Uint32Array, at: number, lenBytes: number): boolean {
  const from = at >>> 2;
  const to = from + (lenBytes >>> 2);
  for (let i = from; i < to; i++) if (words[i] !== 0) return false;
  return true;
}

export function zeroBlockRuns(readAt: ReadAt): ReadDataRuns {
  const buf = new Uint8Array(CHUNK_BYTES);
  const words = new Uint32Array(buf.buffer);
  return (node: TreeNode): DataRuns => {
    const size = node.sizeBytes;
    const path = node.sourcePath; // once per file: a scanned node builds it on each read
    const runs: Array<[number, number]> = [];
    let runStart = -1;
    for (let off = 0; off < size; off += CHUNK_BYTES) {
      const want = Math.min(CHUNK_BYTES, size - off);
      let got = 0;
      while (got < want) {
        const n = readAt(path, buf.subarray(got, want), (node.contentOffsetBytes ?? 0) + off + got);
        if (n <= 0) fail("E_TREE", `file is shorter than when it was scanned (changed during the build?)`, node.path);
        got += n;
      }
      buf.fill(0, want, Math.ceil(want / BLOCK_BYTES) * BLOCK_BYTES); // the last block's tail past EOF
      for (let b = 0; b < want; b += BLOCK_BYTES) {
        const block = (off + b) / BLOCK_BYTES;
        if (zeroBlock(words, b, BLOCK_BYTES)) {
          if (runStart >= 0) runs.push([runStart, block - runStart]);
          runStart = -1;
        } else if (runStart < 0) runStart = block;
      }
    }
    const total = Math.ceil(size / BLOCK_BYTES);
    if (runStart >= 0) runs.push([runStart, total - runStart]);
    return runs.length < 16 ? runs.slice() : runs; // kept per sparse file: no spare capacity
  };
}
