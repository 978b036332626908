/**
 * Directories, kernel Documentation/filesystems/ext4/directory.rst.
 * Little-endian. Two shapes:
 *
 * Linear (the directory fits one block, or lost+found's empty blocks):
 *   ext4_dir_entry_2 { 0x0 inode u32, 0x4 rec_len u16, 0x6 name_len u8,
 *                      0x7 file_type u8, 0x8 name[name_len] } padded to 4 bytes;
 *   the last entry's rec_len reaches the 12-byte checksum tail at 4084:
 *   ext4_dir_entry_tail { 0x0 det_reserved_zero1 u32 = 0, 0x4 det_rec_len u16 = 12,
 *                         0x6 det_reserved_zero2 u8 = 0, 0x7 det_reserved_ft u8 = 0xDE,
 *                         0x8 det_checksum u32 = ext4_chksum(inodeSeed, block[0..4084)) }
 *
 * Hash tree (dir_index; more than one block of entries):
 *   block 0  dx_root: "." (rec_len 12), ".." (rec_len 4084, covering the rest),
 *            dx_root_info at 0x18 { reserved_zero u32, hash_version u8 = 1 (half_md4),
 *            info_length u8 = 8, indirect_levels u8, unused_flags u8 },
 *            dx_countlimit at 0x20 { limit u16 = 507, count u16 } overlaying the
 *            hash of entry 0, then dx_entry { hash u32, block u32 }[count],
 *            dx_tail at 0x20 + 8*limit { dt_reserved u32, dt_checksum u32 }.
 *   blocks 1..N (two-level trees only) dx_node: a fake empty dirent
 *            (inode 0, rec_len 4096), dx_countlimit at 0x08 (limit 510), entries,
 *            dx_tail at 0x08 + 8*510.
 *   then the leaves: linear blocks whose entries are sorted by (hash, minor hash, name).
 *   dx checksum: ext4_chksum(inodeSeed, block[0 .. countOffset + 8*count)
 *                ‖ dt_reserved ‖ 00 00 00 00).
 *   Index hash of a leaf = major hash of its first entry, with bit 0 set when
 *   the previous leaf ends with the same major hash (collision continuation).
 *   A root holds 507 leaves; a two-level tree 507 * 510. Three levels need the
 *   largedir feature, which mkdisk does not enable (E_UNSUPPORTED).
 */
import { defineStruct } from "../bin/struct.js";
import { fail } from "../bin/errors.js";
import { crc32cRaw } from "./csum.js";
import { halfMd4HashInto } from "./hash.js";
import { BLOCK_BYTES, DX_HASH_HALF_MD4, FT_DIR } from "./constants.js";

export const DirEntryHead = defineStruct("Ext4DirEntry2", 8, {
  inode: { off: 0x0, type: "u32le" },
  rec_len: { off: 0x4, type: "u16le" },
  name_len: { off: 0x6, type: "u8" },
  file_type: { off: 0x7, type: "u8" },
});
export const DirEntryTail = defineStruct("Ext4DirEntryTail", 12, {
  det_reserved_zero1: { off: 0x0, type: "u32le" },
  det_rec_len: { off: 0x4, type: "u16le" },
  det_reserved_zero2: { off: 0x6, type: "u8" },
  det_reserved_ft: { off: 0x7, type: "u8" },
  det_checksum: { off: 0x8, type: "u32le" },
});
export const DxRootInfo = defineStruct("Ext4DxRootInfo", 8, {
  reserved_zero: { off: 0x0, type: "u32le" },
  hash_version: { off: 0x4, type: "u8" },
  info_length: { off: 0x5, type: "u8" },
  indirect_levels: { off: 0x6, type: "u8" },
  unused_flags: { off: 0x7, type: "u8" },
});
export const DxCountLimit = defineStruct("Ext4DxCountLimit", 8, {
  limit: { off: 0x0, type: "u16le" },
  count: { off: 0x2, type: "u16le" },
  block: { off: 0x4, type: "u32le" },
});

const TAIL_BYTES = 12;
export const LEAF_SPACE = BLOCK_BYTES - TAIL_BYTES; // 4084
const DET_RESERVED_FT = 0xde;
const ROOT_COUNT_OFFSET = 0x20;
const NODE_COUNT_OFFSET = 0x08;
export const DX_ROOT_LIMIT = (BLOCK_BYTES - ROOT_COUNT_OFFSET - 8) / 8; // 507
export const DX_NODE_LIMIT = (BLOCK_BYTES - NODE_COUNT_OFFSET - 8) / 8; // 510

/** On-disk size of an entry with an n-byte name: 8 + n rounded up to 4. */
export const entryBytes = (nameLen: number) => (8 + nameLen + 3) & ~3;

/** Writes the 8-byte head of an ext4_dir_entry_2 (hot path: direct stores); the name follows at `at + 8`. */
function putEntryHead(out: Uint8Array, at: number, ino: number, recLen: number, nameLen: number, fileType: number): void {
  if (nameLen > 255 || recLen > BLOCK_BYTES || (recLen & 3) !== 0) fail("E_INTERNAL", `bad directory entry (name ${nameLen} bytes, rec_len ${recLen})`);
  const d = new DataView(out.buffer, out.byteOffset + at, 8);
  d.setUint32(0, ino, true);
  d.setUint16(4, recLen, true);
  d.setUint8(6, nameLen);
  d.setUint8(7, fileType);
}

/** Writes one ext4_dir_entry_2, head and name (the codec test checks it against DirEntryHead). */
export function putEntry(out: Uint8Array, at: number, ino: number, recLen: number, name: Uint8Array, fileType: number): void {
  putEntryHead(out, at, ino, recLen, name.length, fileType);
  out.set(name, at + 8);
}

function putTail(out: Uint8Array, inodeSeed: number): void {
  DirEntryTail.encodeInto({ det_reserved_zero1: 0, det_rec_len: TAIL_BYTES, det_reserved_zero2: 0, det_reserved_ft: DET_RESERVED_FT, det_checksum: 0 }, out, LEAF_SPACE);
  new DataView(out.buffer).setUint32(LEAF_SPACE + 8, crc32cRaw(inodeSeed, out, 0, LEAF_SPACE), true);
}

const DOT = Uint8Array.of(0x2e);
const DOTDOT = Uint8Array.of(0x2e, 0x2e);

/**
 * A directory's entries as parallel arrays, one object per directory and none
 * per entry (a directory of a million names would otherwise make a million
 * short-lived objects, which outlive young collections while the directory
 * is hashed and inflate the heap): name i is names[nameEnd[i - 1] ..
 * nameEnd[i]), the first name starting at 0.
 */
export interface DirEntries {
  readonly count: number;
  readonly names: Uint8Array;
  readonly nameEnd: Uint32Array;
  readonly inos: Uint32Array;
  /** ext4 file types (FT_*). */
  readonly types: Uint8Array;
}

const nameStart = (e: DirEntries, i: number) => (i === 0 ? 0 : e.nameEnd[i - 1]);

/** A leaf/linear block from entries [from, to); `dots` puts "." and ".." first. */
function leafBlock(e: DirEntries, from: number, to: number, inodeSeed: number, dots?: { self: number; parent: number }): Uint8Array {
  const out = new Uint8Array(BLOCK_BYTES);
  const count = (dots ? 2 : 0) + (to - from);
  if (count === 0) {
    putEntry(out, 0, 0, LEAF_SPACE, new Uint8Array(0), 0); // an empty block: one unused entry
  } else {
    let at = 0;
    let k = 0;
    /** Writes the next entry's head (the last one takes the rest of the block); returns where its name goes. */
    const head = (ino: number, nameLen: number, ft: number): number => {
      const recLen = ++k === count ? LEAF_SPACE - at : entryBytes(nameLen);
      putEntryHead(out, at, ino, recLen, nameLen, ft);
      at += recLen;
      return at - recLen + 8;
    };
    if (dots) {
      out.set(DOT, head(dots.self, DOT.length, FT_DIR));
      out.set(DOTDOT, head(dots.parent, DOTDOT.length, FT_DIR));
    }
    for (let i = from; i < to; i++) {
      // Copied byte by byte from the packed names: a subarray view per entry costs more than the copy.
      const a = nameStart(e, i);
      const len = e.nameEnd[i] - a;
      const nameAt = head(e.inos[i], len, e.types[i]);
      for (let j = 0; j < len; j++) out[nameAt + j] = e.names[a + j];
    }
  }
  putTail(out, inodeSeed);
  return out;
}

/** Greedy packing: returns the start index of each block; block 0 reserves `firstBlockUsed` bytes. */
function pack(e: DirEntries, firstBlockUsed: number): number[] {
  const starts = [0];
  let used = firstBlockUsed;
  for (let i = 0; i < e.count; i++) {
    const n = entryBytes(e.nameEnd[i] - nameStart(e, i));
    if (used + n > LEAF_SPACE) {
      starts.push(i);
      used = 0;
    }
    used += n;
  }
  return starts;
}

export function validateName(name: Uint8Array, where: string): void {
  if (name.length === 0 || name.length > 255) fail("E_TREE", `a file name must be 1..255 bytes, this one is ${name.length}`, where);
  for (let i = 0; i < name.length; i++) if (name[i] === 0 || name[i] === 0x2f) fail("E_TREE", `file name contains a NUL or "/" byte`, where);
  if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) {
    fail("E_TREE", `"." and ".." cannot be stored as names`, where);
  }
}

/** The entries in `order` (indices into e). */
function permute(e: DirEntries, order: Uint32Array): DirEntries {
  const n = e.count;
  const names = new Uint8Array(e.names.length);
  const nameEnd = new Uint32Array(n);
  const inos = new Uint32Array(n);
  const types = new Uint8Array(n);
  let at = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const a = nameStart(e, i);
    const b = e.nameEnd[i];
    names.set(e.names.subarray(a, b), at);
    nameEnd[k] = at += b - a;
    inos[k] = e.inos[i];
    types[k] = e.types[i];
  }
  return { count: n, names, nameEnd, inos, types };
}

/** Byte order of names i and j of e. */
function compareNames(e: DirEntries, i: number, j: number): number {
  const a = nameStart(e, i);
  const b = nameStart(e, j);
  const la = e.nameEnd[i] - a;
  const lb = e.nameEnd[j] - b;
  const n = Math.min(la, lb);
  for (let k = 0; k < n; k++) {
    const d = e.names[a + k] - e.names[b + k];
    if (d !== 0) return d;
  }
  return la - lb;
}

/**
 * The block plan of one directory. Building it hashes and sorts the names;
 * `blockCount` is all the planner needs, `block(k)` renders a block.
 */
export class DirectoryPlan {
  readonly blockCount: number;
  readonly indexed: boolean;
  private readonly sorted: DirEntries;
  private readonly hashes: Uint32Array; // major hash per sorted entry (indexed only)
  private readonly leafStarts: number[];
  private readonly nodeCount: number; // dx_node blocks (two-level trees)

  /**
   * `entries` in byte order of names (without "." and ".."); `minBlocks` pads
   * a linear directory with empty blocks (lost+found).
   */
  constructor(
    readonly selfIno: number,
    readonly parentIno: number,
    entries: DirEntries,
    hashSeed: Uint32Array,
    signedHash: boolean,
    where: string,
    minBlocks = 1,
  ) {
    const n = entries.count;
    let linearBytes = 24;
    for (let i = 0; i < n && linearBytes <= LEAF_SPACE; i++) linearBytes += entryBytes(entries.nameEnd[i] - nameStart(entries, i));
    if (linearBytes <= LEAF_SPACE) {
      this.indexed = false;
      this.sorted = entries;
      this.hashes = new Uint32Array(0);
      this.leafStarts = [0];
      this.nodeCount = 0;
      this.blockCount = Math.max(1, minBlocks);
      return;
    }
    this.indexed = true;
    // Hash order: major, then minor, then name bytes. Hashes go into one
    // typed array and an index permutation is sorted: no object per entry.
    const hv = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) halfMd4HashInto(entries.names, hashSeed, signedHash, hv, 2 * i, nameStart(entries, i), entries.nameEnd[i]);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((x, y) => {
      const a = hv[2 * x], b = hv[2 * y];
      if (a !== b) return a < b ? -1 : 1;
      const am = hv[2 * x + 1], bm = hv[2 * y + 1];
      if (am !== bm) return am < bm ? -1 : 1;
      return compareNames(entries, x, y);
    });
    this.sorted = permute(entries, order);
    this.hashes = new Uint32Array(n);
    for (let k = 0; k < n; k++) this.hashes[k] = hv[2 * order[k]];
    this.leafStarts = pack(this.sorted, 0);
    const leaves = this.leafStarts.length;
    if (leaves <= DX_ROOT_LIMIT) this.nodeCount = 0;
    else {
      this.nodeCount = Math.ceil(leaves / DX_NODE_LIMIT);
      if (this.nodeCount > DX_ROOT_LIMIT) {
        fail("E_UNSUPPORTED", `directory has ${n} entries needing ${leaves} blocks; more than ${DX_ROOT_LIMIT * DX_NODE_LIMIT} needs the largedir feature, which mkdisk does not enable`, where);
      }
    }
    this.blockCount = 1 + this.nodeCount + leaves;
  }

  /** Index hash of leaf i (collision bit when the previous leaf ends on the same hash). */
  private leafHash(i: number): number {
    const first = this.leafStarts[i];
    const h = this.hashes[first];
    return i > 0 && this.hashes[first - 1] === h ? (h | 1) >>> 0 : h;
  }

  private dxEntries(out: Uint8Array, countOffset: number, limit: number, targets: Array<{ hash: number; block: number }>, inodeSeed: number): void {
    const d = new DataView(out.buffer);
    DxCountLimit.encodeInto({ limit, count: targets.length, block: targets[0].block }, out, countOffset);
    for (let k = 1; k < targets.length; k++) {
      d.setUint32(countOffset + 8 * k, targets[k].hash, true);
      d.setUint32(countOffset + 8 * k + 4, targets[k].block, true);
    }
    const tailAt = countOffset + 8 * limit;
    d.setUint32(tailAt, 0, true); // dt_reserved
    let c = crc32cRaw(inodeSeed, out, 0, countOffset + 8 * targets.length);
    c = crc32cRaw(c, out, tailAt, tailAt + 4);
    c = crc32cRaw(c, new Uint8Array(4));
    d.setUint32(tailAt + 4, c, true);
  }

  /** Renders logical block k. */
  block(k: number, inodeSeed: number): Uint8Array {
    if (k < 0 || k >= this.blockCount) fail("E_INTERNAL", `directory block ${k} of ${this.blockCount}`);
    const dots = { self: this.selfIno, parent: this.parentIno };
    const n = this.sorted.count;
    if (!this.indexed) return k === 0 ? leafBlock(this.sorted, 0, n, inodeSeed, dots) : leafBlock(this.sorted, 0, 0, inodeSeed);
    const leaves = this.leafStarts.length;
    const firstLeafBlock = 1 + this.nodeCount;
    if (k >= firstLeafBlock) {
      const i = k - firstLeafBlock;
      return leafBlock(this.sorted, this.leafStarts[i], i + 1 < leaves ? this.leafStarts[i + 1] : n, inodeSeed);
    }
    const out = new Uint8Array(BLOCK_BYTES);
    if (k === 0) {
      putEntry(out, 0, this.selfIno, 12, DOT, FT_DIR);
      putEntry(out, 12, this.parentIno, BLOCK_BYTES - 12, DOTDOT, FT_DIR);
      DxRootInfo.encodeInto({ reserved_zero: 0, hash_version: DX_HASH_HALF_MD4, info_length: 8, indirect_levels: this.nodeCount > 0 ? 1 : 0, unused_flags: 0 }, out, 0x18);
      const targets =
        this.nodeCount === 0
          ? Array.from({ length: leaves }, (_, i) => ({ hash: this.leafHash(i), block: firstLeafBlock + i }))
          : Array.from({ length: this.nodeCount }, (_, j) => ({ hash: this.leafHash(j * DX_NODE_LIMIT), block: 1 + j }));
      this.dxEntries(out, ROOT_COUNT_OFFSET, DX_ROOT_LIMIT, targets, inodeSeed);
      return out;
    }
    // dx_node j = k - 1: leaves [j*510, (j+1)*510)
    const j = k - 1;
    putEntry(out, 0, 0, BLOCK_BYTES, new Uint8Array(0), 0);
    const from = j * DX_NODE_LIMIT;
    const to = Math.min(leaves, from + DX_NODE_LIMIT);
    const targets = Array.from({ length: to - from }, (_, i) => ({ hash: this.leafHash(from + i), block: firstLeafBlock + from + i }));
    this.dxEntries(out, NODE_COUNT_OFFSET, DX_NODE_LIMIT, targets, inodeSeed);
    return out;
  }
}
