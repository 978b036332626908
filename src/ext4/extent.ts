/**
 * Extent trees, kernel Documentation/filesystems/ext4/ifork.rst. Little-endian.
 *
 *  ext4_extent_header (12 B)      ext4_extent (leaf, 12 B)     ext4_extent_idx (12 B)
 *  0x0 eh_magic 0xF30A            0x0 ee_block (logical)       0x0 ei_block (logical)
 *  0x2 eh_entries                 0x4 ee_len (<= 32768)        0x4 ei_leaf_lo
 *  0x4 eh_max                     0x6 ee_start_hi              0x8 ei_leaf_hi
 *  0x6 eh_depth (0 = leaves)      0x8 ee_start_lo              0xA ei_unused
 *  0x8 eh_generation
 *
 * The root lives in i_block (60 bytes: header + 4 entries). When a file has
 * more than 4 extents, they go into leaf blocks of 340 entries
 * ((4096 - 12 - 4) / 12), and the root indexes the leaves; with more than
 * 4 leaves another index level is added, and so on. Each tree block ends with
 * ext4_extent_tail { eb_checksum } at 12 + 12 * eh_max = 4092:
 * ext4_chksum(inodeSeed, block[0..4092)).
 */
import { defineStruct } from "../bin/struct.js";
import { fail } from "../bin/errors.js";
import { crc32cRaw } from "./csum.js";
import { BLOCK_BYTES, EXT4_EXT_MAGIC, EXT_INIT_MAX_LEN } from "./constants.js";

export const ExtentHeader = defineStruct("Ext4ExtentHeader", 12, {
  eh_magic: { off: 0x0, type: "u16le" },
  eh_entries: { off: 0x2, type: "u16le" },
  eh_max: { off: 0x4, type: "u16le" },
  eh_depth: { off: 0x6, type: "u16le" },
  eh_generation: { off: 0x8, type: "u32le" },
});
export const ExtentLeaf = defineStruct("Ext4Extent", 12, {
  ee_block: { off: 0x0, type: "u32le" },
  ee_len: { off: 0x4, type: "u16le" },
  ee_start_hi: { off: 0x6, type: "u16le" },
  ee_start_lo: { off: 0x8, type: "u32le" },
});
export const ExtentIndex = defineStruct("Ext4ExtentIdx", 12, {
  ei_block: { off: 0x0, type: "u32le" },
  ei_leaf_lo: { off: 0x4, type: "u32le" },
  ei_leaf_hi: { off: 0x8, type: "u16le" },
  ei_unused: { off: 0xa, type: "u16le" },
});

export const ROOT_MAX_ENTRIES = 4;
export const BLOCK_MAX_ENTRIES = (BLOCK_BYTES - 12 - 4) / 12; // 340
const TAIL_OFFSET = 12 + 12 * BLOCK_MAX_ENTRIES; // 4092

/** One extent: `count` blocks of the file from `logicalBlock` stored at `physicalBlock`. */
export interface FileExtent {
  logicalBlock: number;
  physicalBlock: number;
  count: number;
}

/**
 * Entries per tree level, from the leaves up to (excluding) the root.
 * n extents → [ceil(n/340) leaves, ceil(leaves/340) index blocks, …] until a
 * level has <= 4 entries for the root.
 */
export function extentTreeLevels(extentCount: number): number[] {
  const levels: number[] = [];
  let n = extentCount;
  while (n > ROOT_MAX_ENTRIES) {
    n = Math.ceil(n / BLOCK_MAX_ENTRIES);
    levels.push(n);
  }
  return levels;
}

export function extentTreeBlockCount(extentCount: number): number {
  // The sum of extentTreeLevels, without its array (called once per inode).
  let blocks = 0;
  for (let n = extentCount; n > ROOT_MAX_ENTRIES; ) {
    n = Math.ceil(n / BLOCK_MAX_ENTRIES);
    blocks += n;
  }
  return blocks;
}

/*
 * Hot path: entries are written with direct DataView stores (one per inode and
 * per extent); the tables above describe the same bytes and the codec test
 * checks these writers against them (`encodeExtentParts`).
 */
function header(out: Uint8Array, at: number, entries: number, max: number, depth: number): void {
  const d = new DataView(out.buffer, out.byteOffset + at, 12);
  d.setUint16(0, EXT4_EXT_MAGIC, true);
  d.setUint16(2, entries, true);
  d.setUint16(4, max, true);
  d.setUint16(6, depth, true);
  d.setUint32(8, 0, true); // eh_generation
}
function leaf(out: Uint8Array, at: number, logical: number, physical: number, count: number): void {
  if (count < 1 || count > EXT_INIT_MAX_LEN) fail("E_INTERNAL", `extent length ${count}`, "ext4 extent");
  if (!(logical >= 0 && logical + count <= 2 ** 32 && physical < 2 ** 48)) fail("E_INTERNAL", `extent out of range`, "ext4 extent");
  const d = new DataView(out.buffer, out.byteOffset + at, 12);
  d.setUint32(0, logical, true);
  d.setUint16(4, count, true);
  d.setUint16(6, Math.floor(physical / 0x1_0000_0000), true);
  d.setUint32(8, physical % 0x1_0000_0000, true);
}
function index(out: Uint8Array, at: number, logical: number, physical: number): void {
  const d = new DataView(out.buffer, out.byteOffset + at, 12);
  d.setUint32(0, logical, true);
  d.setUint32(4, physical % 0x1_0000_0000, true);
  d.setUint16(8, Math.floor(physical / 0x1_0000_0000), true);
  d.setUint16(10, 0, true); // ei_unused
}

/** The fast writers, exported for the codec test. */
export const extentWriters = { header, leaf, index };

/**
 * A planned tree. `treeBlocks` are the physical blocks of the tree blocks, in
 * level order: all leaves (level 0) first, then level-1 index blocks, …
 */
export class ExtentTree {
  readonly levels: number[];
  constructor(
    readonly extents: readonly FileExtent[],
    readonly treeBlocks: readonly number[],
  ) {
    this.levels = extentTreeLevels(extents.length);
    const need = this.levels.reduce((a, b) => a + b, 0);
    if (need !== treeBlocks.length) fail("E_INTERNAL", `extent tree needs ${need} blocks, got ${treeBlocks.length}`);
  }

  get depth(): number {
    return this.levels.length;
  }

  /** First logical block covered by entry `i` of level `lvl` (-1 = the extents themselves). */
  private firstLogical(lvl: number, i: number): number {
    // Entry i of level lvl covers extents starting at i * 340^(lvl+1).
    return this.extents[i * BLOCK_MAX_ENTRIES ** (lvl + 1)].logicalBlock;
  }

  private levelStart(lvl: number): number {
    let s = 0;
    for (let k = 0; k < lvl; k++) s += this.levels[k];
    return s;
  }

  /** Writes entries [from, to) of level `lvl - 1` (or extents when lvl = 0) into out at `at`. */
  private entries(lvl: number, from: number, to: number, out: Uint8Array, at: number): void {
    for (let i = from; i < to; i++) {
      const o = at + 12 * (i - from);
      if (lvl === 0) leaf(out, o, this.extents[i].logicalBlock, this.extents[i].physicalBlock, this.extents[i].count);
      else index(out, o, this.firstLogical(lvl - 1, i), this.treeBlocks[this.levelStart(lvl - 1) + i]);
    }
  }

  /** The 60-byte i_block: the root node. */
  rootIBlock(): Uint8Array {
    const out = new Uint8Array(60);
    const depth = this.depth;
    const count = depth === 0 ? this.extents.length : this.levels[depth - 1];
    header(out, 0, count, ROOT_MAX_ENTRIES, depth);
    this.entries(depth, 0, count, out, 12);
    return out;
  }

  /** Bytes of tree block k (index into treeBlocks). */
  block(k: number, inodeSeed: number): Uint8Array {
    let lvl = 0;
    let i = k;
    while (i >= this.levels[lvl]) i -= this.levels[lvl++];
    const below = lvl === 0 ? this.extents.length : this.levels[lvl - 1];
    const from = i * BLOCK_MAX_ENTRIES;
    const to = Math.min(below, from + BLOCK_MAX_ENTRIES);
    const out = new Uint8Array(BLOCK_BYTES);
    header(out, 0, to - from, BLOCK_MAX_ENTRIES, lvl);
    this.entries(lvl, from, to, out, 12);
    new DataView(out.buffer).setUint32(TAIL_OFFSET, crc32cRaw(inodeSeed, out, 0, TAIL_OFFSET), true);
    return out;
  }
}

/**
 * The i_block of an inode whose extents all fit in it (depth 0), from
 * parallel arrays, into `out` (60 bytes, reused by the caller): the bytes
 * ExtentTree.rootIBlock makes, with the same writers, without an object per
 * extent.
 */
export function rootIBlockInto(out: Uint8Array, count: number, logical: Float64Array, physical: Float64Array, length: Uint32Array): void {
  if (count > ROOT_MAX_ENTRIES) fail("E_INTERNAL", `${count} extents do not fit in the inode`, "ext4 extent");
  out.fill(0);
  header(out, 0, count, ROOT_MAX_ENTRIES, 0);
  for (let i = 0; i < count; i++) leaf(out, 12 + 12 * i, logical[i], physical[i], length[i]);
}

/** Appends the extents (at most 32768 blocks each) for `count` blocks at logical → physical to `out`. */
export function pushExtents(out: FileExtent[], logicalBlock: number, physicalBlock: number, count: number): void {
  for (let d = 0; d < count; d += EXT_INIT_MAX_LEN) {
    out.push({ logicalBlock: logicalBlock + d, physicalBlock: physicalBlock + d, count: Math.min(EXT_INIT_MAX_LEN, count - d) });
  }
}
