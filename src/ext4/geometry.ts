/**
 * Geometry planner: pure arithmetic from (size, inodes needed) to group
 * count, inodes per group and where every group's bitmaps and inode table go.
 *
 * Derivations (4 KiB blocks, first data block 0):
 *   blockCount   = floor(sizeBytes / 4096)
 *   groupCount   = ceil(blockCount / 32768)        (one bitmap block = 32768 bits)
 *   A last group too small for its own metadata + 50 blocks is dropped, as
 *   mke2fs does: overhead = 3 + inodeTableBlocks (+ 1 + gdtBlocks when it holds
 *   a superblock backup).
 *   inodes       = blockCount * 4096 / 16384        (mke2fs inode_ratio), raised
 *                  to the number the tree needs; inodesPerGroup = that / groups
 *                  rounded up to 16 (a whole inode-table block), at most 32768.
 *   gdtBlocks    = ceil(groupCount * 64 / 4096); no reserved GDT blocks
 *                  (no resize_inode).
 *   Superblock + GDT copies: group 0, 1 and powers of 3, 5, 7 (sparse_super).
 *   flex_bg 16: the block bitmaps, then inode bitmaps, then inode tables of
 *   groups 16f..16f+15 are packed right after the header (if any) of group
 *   16f. An inode table never straddles a superblock backup: it moves past it.
 */
import { fail } from "../bin/errors.js";
import { divCeil } from "../bin/int.js";
import { BLOCK_BYTES, BLOCKS_PER_GROUP, DESC_BYTES, FLEX_BG_GROUPS, INODE_RATIO_BYTES, INODES_PER_BLOCK } from "./constants.js";

export interface BlockRange {
  start: number;
  end: number; // exclusive
}

export interface Geometry {
  blockCount: number;
  groupCount: number;
  inodesPerGroup: number;
  inodeCount: number;
  inodeTableBlocks: number;
  gdtBlocks: number;
  blockBitmap: number[];
  inodeBitmap: number[];
  inodeTable: number[];
  /** Blocks no file may use: superblock/GDT copies and flex-group metadata, sorted, disjoint. */
  reserved: BlockRange[];
}

export const MAX_INODES_PER_GROUP = BLOCK_BYTES * 8;

function isPowerOf(n: number, b: number): boolean {
  while (n > 1 && n % b === 0) n /= b;
  return n === 1;
}

/** sparse_super: groups 0, 1 and powers of 3, 5 and 7 carry superblock + GDT copies. */
export function groupHasSuper(g: number): boolean {
  return g === 0 || g === 1 || isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

export const groupFirstBlock = (g: number) => g * BLOCKS_PER_GROUP;

/**
 * Plans the geometry. Throws E_FIT when `inodesNeeded` cannot be had at this
 * size (32768 inodes per group at most) or the size is below one usable group.
 */
export function planGeometry(sizeBytes: number, inodesNeeded: number, where: string): Geometry {
  let blockCount = Math.floor(sizeBytes / BLOCK_BYTES);
  for (;;) {
    if (blockCount < 64) fail("E_FIT", `${sizeBytes} bytes is too small for an ext4 file system`, where);
    const groupCount = divCeil(blockCount, BLOCKS_PER_GROUP);
    const gdtBlocks = divCeil(groupCount * DESC_BYTES, BLOCK_BYTES);
    const ratioInodes = Math.floor((blockCount * BLOCK_BYTES) / INODE_RATIO_BYTES);
    const wanted = Math.max(ratioInodes, inodesNeeded);
    let ipg = Math.ceil(divCeil(wanted, groupCount) / INODES_PER_BLOCK) * INODES_PER_BLOCK;
    ipg = Math.max(ipg, INODES_PER_BLOCK);
    if (ipg > MAX_INODES_PER_GROUP) {
      if (inodesNeeded > MAX_INODES_PER_GROUP * groupCount) {
        fail("E_FIT", `the tree needs ${inodesNeeded} inodes; ${groupCount} block groups hold at most ${MAX_INODES_PER_GROUP * groupCount}`, where);
      }
      ipg = MAX_INODES_PER_GROUP;
    }
    const inodeTableBlocks = (ipg * 256) / BLOCK_BYTES;
    const lastGroup = groupCount - 1;
    const rem = blockCount - groupFirstBlock(lastGroup);
    const overhead = 3 + inodeTableBlocks + (groupHasSuper(lastGroup) ? 1 + gdtBlocks : 0);
    if (rem < BLOCKS_PER_GROUP && rem < overhead + 50) {
      if (groupCount === 1) fail("E_FIT", `${sizeBytes} bytes is too small for an ext4 file system with ${ipg} inodes`, where);
      blockCount = groupFirstBlock(lastGroup);
      continue;
    }
    if (ipg * groupCount >= 2 ** 32) fail("E_FIT", `too many inodes`, where);

    const headers: BlockRange[] = [];
    for (let g = 0; g < groupCount; g++) {
      if (groupHasSuper(g)) headers.push({ start: groupFirstBlock(g), end: groupFirstBlock(g) + 1 + gdtBlocks });
    }
    /** First block >= b outside any header; moves a run of n blocks past headers it would cross. */
    const placeRun = (b: number, n: number): number => {
      for (const h of headers) {
        if (h.end <= b) continue;
        if (h.start >= b + n) break;
        b = h.end;
      }
      return b;
    };
    const blockBitmap: number[] = new Array(groupCount);
    const inodeBitmap: number[] = new Array(groupCount);
    const inodeTable: number[] = new Array(groupCount);
    const meta: BlockRange[] = [];
    for (let f = 0; f * FLEX_BG_GROUPS < groupCount; f++) {
      const g0 = f * FLEX_BG_GROUPS;
      const g1 = Math.min(groupCount, g0 + FLEX_BG_GROUPS);
      let b = groupFirstBlock(g0);
      for (let g = g0; g < g1; g++) {
        b = placeRun(b, 1);
        meta.push({ start: b, end: b + 1 });
        blockBitmap[g] = b++;
      }
      for (let g = g0; g < g1; g++) {
        b = placeRun(b, 1);
        meta.push({ start: b, end: b + 1 });
        inodeBitmap[g] = b++;
      }
      for (let g = g0; g < g1; g++) {
        b = placeRun(b, inodeTableBlocks);
        inodeTable[g] = b;
        meta.push({ start: b, end: b + inodeTableBlocks });
        b += inodeTableBlocks;
      }
    }
    // Headers and metadata pieces as one sorted list of disjoint ranges.
    const reserved = mergeRanges([...headers, ...meta]);
    const end = reserved[reserved.length - 1].end;
    if (end > blockCount) {
      if (groupCount === 1) fail("E_FIT", `${sizeBytes} bytes is too small for the ext4 metadata`, where);
      blockCount = groupFirstBlock(lastGroup);
      continue;
    }
    return { blockCount, groupCount, inodesPerGroup: ipg, inodeCount: ipg * groupCount, inodeTableBlocks, gdtBlocks, blockBitmap, inodeBitmap, inodeTable, reserved };
  }
}

export function mergeRanges(rs: BlockRange[]): BlockRange[] {
  const s = rs.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out: BlockRange[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/**
 * Hands out data blocks in increasing order, skipping reserved ranges. Every
 * block below `cursor` ends up used (allocated or reserved), which is what
 * makes the block bitmaps a function of (reserved, cursor) alone.
 */
export class BlockAllocator {
  cursor = 0;
  private ri = 0;
  constructor(
    private readonly reserved: readonly BlockRange[],
    private readonly blockCount: number,
  ) {}

  /** An allocator resuming at `cursor` (as one that had handed out everything below it). */
  static at(reserved: readonly BlockRange[], blockCount: number, cursor: number): BlockAllocator {
    return new BlockAllocator(reserved, blockCount).resetAt(cursor);
  }

  /** This allocator, moved to resume at `cursor` (reused where an allocator per call would be garbage). */
  resetAt(cursor: number): this {
    this.cursor = cursor;
    let lo = 0;
    let hi = this.reserved.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.reserved[mid].end <= cursor) lo = mid + 1;
      else hi = mid;
    }
    this.ri = lo; // first reserved range not wholly below the cursor
    return this;
  }

  /** Where the run `takeRun` last handed out starts. */
  runStart = 0;

  /** Takes the next run of at most n free blocks (from `runStart`); returns its length. */
  takeRun(n: number): number {
    const k = this.nextRun(n);
    this.runStart = this.cursor;
    this.cursor += k;
    return k;
  }

  private skip(): void {
    while (this.ri < this.reserved.length && this.reserved[this.ri].end <= this.cursor) this.ri++;
    while (this.ri < this.reserved.length && this.reserved[this.ri].start <= this.cursor) {
      this.cursor = this.reserved[this.ri].end;
      this.ri++;
    }
  }

  /** Allocates n blocks as runs [start, count] split around reserved ranges. */
  take(n: number): Array<[number, number]> {
    const runs: Array<[number, number]> = [];
    this.takeEach(n, (start, count) => runs.push([start, count]));
    return runs;
  }

  /** The length of the next run of at most n free blocks, which starts at the cursor; OutOfSpace when there is none. */
  private nextRun(n: number): number {
    this.skip();
    const limit = this.ri < this.reserved.length ? this.reserved[this.ri].start : this.blockCount;
    const k = Math.min(n, limit - this.cursor);
    if (k <= 0) throw new OutOfSpace();
    return k;
  }

  /** As take, handing each run to `run` instead of building an array (the per-inode hot path). */
  takeEach(n: number, run: (start: number, count: number) => void): void {
    while (n > 0) {
      const k = this.nextRun(n);
      run(this.cursor, k);
      this.cursor += k;
      n -= k;
    }
  }

  /**
   * As takeEach, keeping nothing (no callback to allocate): returns how many
   * pieces of at most `maxRun` blocks the runs make (extents, when maxRun is
   * an extent's limit).
   */
  takeCounting(n: number, maxRun: number): number {
    let pieces = 0;
    while (n > 0) {
      const k = this.nextRun(n);
      pieces += Math.ceil(k / maxRun);
      this.cursor += k;
      n -= k;
    }
    return pieces;
  }

  /** Used blocks: [0, cursor) plus reserved ranges. */
  usedBlocks(): number {
    let n = this.cursor;
    for (const r of this.reserved) if (r.end > this.cursor) n += r.end - Math.max(r.start, this.cursor);
    return n;
  }
}

export class OutOfSpace extends Error {
  constructor() {
    super("out of space");
  }
}
