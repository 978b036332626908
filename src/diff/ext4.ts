/**
 * ext4 explainer for `mkdisk diff`: names each differing byte range of an
 * ext4 partition at the deepest level, from the on-disk format in the kernel's
 * Documentation/filesystems/ext4 ("ext4 Data Structures and Algorithms"):
 *
 *   superblock / backup superblock     field (s_wtime, s_volume_name, s_checksum …)
 *   group descriptor N (and copies)    field (bg_free_blocks_count_lo, bg_checksum …)
 *   block / inode bitmap of group N    the blocks / inodes whose bits differ
 *   inode N (its path)                 field (i_mtime, i_size_lo, i_block, l_i_checksum_lo …)
 *   directory block of a path          entry name and entry field, dirent tail / htree checksum
 *   extent tree / indirect blocks      of a file path
 *   extended attribute block           of a file path, attribute name
 *   journal                            journal superblock or journal block number
 *   file content                       path and byte range within the file
 *   free space                         unallocated blocks (or, when B uses them, B's owner)
 *
 * Fixed metadata is located arithmetically from the superblock and the group
 * descriptors; files are found by walking the directory tree from the root
 * inode, once per side and only when a range needs it. Memory is O(files +
 * groups); every count and offset read from the image is bounded first, and
 * metadata reads are budgeted (explain-util.ts), so a malformed image gives
 * generic "bytes at partition offset" descriptions, never a hang or a throw.
 */
import { Superblock } from "../ext4/superblock.js";
import { GroupDesc } from "../ext4/groupdesc.js";
import { Inode } from "../ext4/inode.js";
import { utf8Decode } from "../bin/text.js";
import type { ReadAt } from "../gpt/read.js";
import type { FsDifference } from "./fs-explain.js";
import {
  type Collector, type Field, Side, Unexplainable,
  differingFields, fieldDetail, fieldList, guardExplainer, isoTime, sameBytes, trimRange,
  twoSides,
} from "./explain-util.js";

const EXT4_SUPER_MAGIC = 0xef53;
const EXT4_EXT_MAGIC = 0xf30a;
const SUPERBLOCK_OFFSET_BYTES = 1024;
const SUPERBLOCK_BYTES = 1024;
/** s_feature_compat / incompat / ro_compat bits the geometry depends on. */
const COMPAT_RESIZE_INODE = 0x10;
const COMPAT_SPARSE_SUPER2 = 0x200;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_64BIT = 0x80;
const RO_COMPAT_SPARSE_SUPER = 0x1;
const RO_COMPAT_METADATA_CSUM = 0x400;
/** bg_flags */
const EXT4_BG_BLOCK_UNINIT = 0x2;
/** i_flags */
const EXT4_INDEX_FL = 0x1000;
const EXT4_EXTENTS_FL = 0x80000;
const EXT4_INLINE_DATA_FL = 0x10000000;
/** i_mode type bits */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const ROOT_INO = 2;

/** Bounds on untrusted counts. */
const MAX_GROUPS = 1 << 21;
const MAX_RUNS = 2_000_000;
const MAX_EXTENT_DEPTH = 5;
const MAX_PATH_CHARS = 4096;
const MAX_INODES_WALKED = 10_000_000;

const SB_FIELDS = fieldList(Superblock.fields);
const GD_FIELDS_64 = fieldList(GroupDesc.fields);
const INODE_FIELDS = fieldList(Inode.fields);

interface Geo {
  bs: number;
  blocks: number;
  first: number;
  bpg: number;
  ipg: number;
  inodeBytes: number;
  descBytes: number;
  groups: number;
  inodesCount: number;
  firstIno: number;
  compat: number;
  incompat: number;
  ro: number;
  reservedGdt: number;
  /** Blocks of the classic group descriptor table (after each superblock copy). */
  gdtBlocks: number;
  firstMetaBg: number;
  backupBgs: [number, number];
  itabBlocks: number;
  bbm: Float64Array;
  ibm: Float64Array;
  itab: Float64Array;
  bgFlags: Uint16Array;
  /** Bitmaps and inode tables sorted by first block: [start, end, kind 0 bbm / 1 ibm / 2 itab, group]. */
  meta: Float64Array;
  metaCount: number;
  journalIno: number;
  sb: Uint8Array;
}

const u16 = (b: Uint8Array, o: number) => (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
const u32 = (b: Uint8Array, o: number) => (((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16)) >>> 0) + (b[o + 3] ?? 0) * 0x1000000;

function isPowerOf(n: number, base: number): boolean {
  if (n < 1) return false;
  while (n % base === 0) n /= base;
  return n === 1;
}

function hasSuper(g: Geo, group: number): boolean {
  if (group === 0) return true;
  if (g.compat & COMPAT_SPARSE_SUPER2) return group === g.backupBgs[0] || group === g.backupBgs[1];
  if (!(g.ro & RO_COMPAT_SPARSE_SUPER)) return true;
  return group === 1 || isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

function readGeo(side: Side): Geo {
  const sb = side.read(SUPERBLOCK_OFFSET_BYTES, SUPERBLOCK_BYTES);
  const bad = (m: string): never => {
    throw new Unexplainable(`ext4 superblock: ${m}`);
  };
  if (u16(sb, 0x38) !== EXT4_SUPER_MAGIC) bad("no magic");
  const logBs = u32(sb, 0x18);
  if (logBs > 6) bad("s_log_block_size");
  const bs = 1024 << logBs;
  const compat = u32(sb, 0x5c), incompat = u32(sb, 0x60), ro = u32(sb, 0x64);
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksRaw = u32(sb, 0x04) + (is64 ? u32(sb, 0x150) * 2 ** 32 : 0);
  const blocks = Math.min(blocksRaw, Math.floor(side.sizeBytes / bs));
  const first = u32(sb, 0x14);
  const bpg = u32(sb, 0x20);
  const ipg = u32(sb, 0x28);
  if (first > 1 || bpg < 8 || bpg > 8 * bs || ipg < 1 || ipg > 8 * bs || blocks <= first) bad("geometry");
  const rev = u32(sb, 0x4c);
  const inodeBytes = rev === 0 ? 128 : u16(sb, 0x58);
  if (inodeBytes < 128 || inodeBytes > bs || (inodeBytes & (inodeBytes - 1)) !== 0) bad("s_inode_size");
  const descBytes = is64 ? u16(sb, 0xfe) : 32;
  if (descBytes < 32 || descBytes > 1024 || (descBytes & (descBytes - 1)) !== 0) bad("s_desc_size");
  const groups = Math.ceil((blocks - first) / bpg);
  if (groups < 1 || groups > MAX_GROUPS) bad("group count");
  const dpb = bs / descBytes;
  const metaBg = (incompat & INCOMPAT_META_BG) !== 0;
  const firstMetaBg = metaBg ? u32(sb, 0x104) : Infinity;
  const gdtBlocks = Math.min(Math.ceil(groups / dpb), firstMetaBg);
  const g: Geo = {
    bs, blocks, first, bpg, ipg, inodeBytes, descBytes, groups,
    inodesCount: Math.min(u32(sb, 0x00), groups * ipg),
    firstIno: rev === 0 ? 11 : Math.max(3, Math.min(u32(sb, 0x54), 1024)),
    compat, incompat, ro,
    reservedGdt: compat & COMPAT_RESIZE_INODE ? u16(sb, 0xce) : 0,
    gdtBlocks,
    firstMetaBg,
    backupBgs: [u32(sb, 0x24c), u32(sb, 0x250)],
    itabBlocks: Math.ceil((ipg * inodeBytes) / bs),
    bbm: new Float64Array(groups),
    ibm: new Float64Array(groups),
    itab: new Float64Array(groups),
    bgFlags: new Uint16Array(groups),
    meta: new Float64Array(0),
    metaCount: 0,
    journalIno: u32(sb, 0xe0),
    sb,
  };
  const items: [number, number, number, number][] = [];
  for (let grp = 0; grp < groups; grp++) {
    const at = descLocation(g, grp);
    const d = side.block(at.block * bs, bs).subarray(at.offBytes, at.offBytes + descBytes);
    const hi = (o: number) => (descBytes >= 64 ? u32(d, o) * 2 ** 32 : 0);
    g.bbm[grp] = u32(d, 0x00) + hi(0x20);
    g.ibm[grp] = u32(d, 0x04) + hi(0x24);
    g.itab[grp] = u32(d, 0x08) + hi(0x28);
    g.bgFlags[grp] = u16(d, 0x12);
    if (g.bbm[grp] < blocks) items.push([g.bbm[grp], g.bbm[grp] + 1, 0, grp]);
    if (g.ibm[grp] < blocks) items.push([g.ibm[grp], g.ibm[grp] + 1, 1, grp]);
    if (g.itab[grp] < blocks) items.push([g.itab[grp], Math.min(blocks, g.itab[grp] + g.itabBlocks), 2, grp]);
  }
  items.sort((x, y) => x[0] - y[0]);
  g.meta = new Float64Array(items.length * 4);
  items.forEach((it, i) => g.meta.set(it, i * 4));
  g.metaCount = items.length;
  return g;
}

const groupFirstBlock = (g: Geo, grp: number) => g.first + grp * g.bpg;

/** Where group `grp`'s primary descriptor lives. */
function descLocation(g: Geo, grp: number): { block: number; offBytes: number } {
  const dpb = g.bs / g.descBytes;
  const mg = Math.floor(grp / dpb);
  if (mg < g.firstMetaBg) return { block: g.first + 1 + mg, offBytes: (grp % dpb) * g.descBytes };
  const lead = mg * dpb;
  return { block: groupFirstBlock(g, lead) + (hasSuper(g, lead) ? 1 : 0), offBytes: (grp % dpb) * g.descBytes };
}

/** Bitmap / inode table containing `block`, by binary search. */
function metaAt(g: Geo, block: number): { start: number; end: number; kind: number; group: number } | undefined {
  let lo = 0, hi = g.metaCount - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (g.meta[mid * 4] <= block) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return undefined;
  const m = g.meta.subarray(found * 4, found * 4 + 4);
  return block < m[1] ? { start: m[0], end: m[1], kind: m[2], group: m[3] } : undefined;
}

// ---------------------------------------------------------------- files

/** Kinds of blocks an inode owns. */
const enum K { Data, Dir, ExtentTree, Indirect, Xattr }

interface Run {
  start: number;
  count: number;
  ino: number;
  kind: K;
  logical: number;
}

/** Paths and block ownership of one side, from a walk of the directory tree. */
interface FileMap {
  readonly geo: Geo;
  readonly paths: Map<number, string>;
  readonly runs: Run[];
}

function readInode(side: Side, g: Geo, ino: number): Uint8Array | undefined {
  if (!(ino >= 1 && ino <= g.inodesCount)) return undefined;
  const grp = Math.floor((ino - 1) / g.ipg);
  const idx = (ino - 1) % g.ipg;
  const tab = g.itab[grp];
  const off = tab * g.bs + idx * g.inodeBytes;
  if (!(tab > 0 && tab + g.itabBlocks <= g.blocks)) return undefined;
  const blk = Math.floor(off / g.bs) * g.bs;
  return side.block(blk, g.bs).subarray(off - blk, off - blk + g.inodeBytes);
}

const iMode = (i: Uint8Array) => u16(i, 0x00);
const iFlags = (i: Uint8Array) => u32(i, 0x20);
const iSize = (i: Uint8Array) => u32(i, 0x04) + u32(i, 0x6c) * 2 ** 32;

/**
 * Calls `emit` for every block run of an inode: data runs (logical block
 * numbers) and the tree blocks that map them (extent tree or indirect blocks).
 */
function inodeBlocks(side: Side, g: Geo, inode: Uint8Array, dataKind: K, emit: (kind: K, logical: number, start: number, count: number) => void): void {
  const flags = iFlags(inode);
  const mode = iMode(inode);
  if (flags & EXT4_INLINE_DATA_FL) return;
  const maxLogical = Math.ceil(iSize(inode) / g.bs) + 1;
  const ok = (start: number, count: number) => count > 0 && start > 0 && start + count <= g.blocks;
  // A valid extent tree or block map reaches each of its own blocks once; a damaged one can point
  // back at a block it already read, and walking that would multiply without end.
  const seen = new Set<number>();
  const once = (blk: number) => {
    if (seen.has(blk)) throw new Unexplainable(`the inode's block map reaches block ${blk} twice`);
    seen.add(blk);
  };
  if (flags & EXT4_EXTENTS_FL) {
    const walk = (node: Uint8Array, depth: number, expectDepth: number) => {
      if (u16(node, 0) !== EXT4_EXT_MAGIC) return;
      const entries = u16(node, 2);
      const d = u16(node, 6);
      if (d > MAX_EXTENT_DEPTH || (expectDepth >= 0 && d !== expectDepth) || 12 + entries * 12 > node.length) return;
      for (let i = 0; i < entries; i++) {
        const e = 12 + i * 12;
        if (d === 0) {
          let len = u16(node, e + 4);
          if (len > 32768) len -= 32768;
          const start = u32(node, e + 8) + u16(node, e + 6) * 2 ** 32;
          if (ok(start, len)) emit(dataKind, u32(node, e), start, len);
        } else {
          const leaf = u32(node, e + 4) + u16(node, e + 8) * 2 ** 32;
          if (!ok(leaf, 1)) continue;
          emit(K.ExtentTree, u32(node, e), leaf, 1);
          once(leaf);
          walk(side.block(leaf * g.bs, g.bs), depth + 1, d - 1);
        }
      }
    };
    walk(inode.subarray(0x28, 0x28 + 60), 0, -1);
    return;
  }
  if ((mode & S_IFMT) === S_IFLNK && iSize(inode) < 60) return; // fast symlink: target in i_block
  if ((mode & S_IFMT) !== S_IFREG && (mode & S_IFMT) !== S_IFDIR && (mode & S_IFMT) !== S_IFLNK) return;
  // Block map: 12 direct, then single, double, triple indirect (ext2/ext3 layout).
  const perBlock = g.bs / 4;
  let pending: { logical: number; start: number; count: number } | undefined;
  const flush = () => {
    if (pending) emit(dataKind, pending.logical, pending.start, pending.count);
    pending = undefined;
  };
  const data = (logical: number, start: number) => {
    if (!ok(start, 1) || logical >= maxLogical) return;
    if (pending && pending.start + pending.count === start && pending.logical + pending.count === logical) pending.count++;
    else {
      flush();
      pending = { logical, start, count: 1 };
    }
  };
  for (let i = 0; i < 12; i++) data(i, u32(inode, 0x28 + 4 * i));
  const span = [1, perBlock, perBlock * perBlock];
  let base = 12;
  const ind = (blk: number, level: number, logical: number) => {
    if (!ok(blk, 1) || logical >= maxLogical) return;
    emit(K.Indirect, logical, blk, 1);
    once(blk);
    const b = side.block(blk * g.bs, g.bs);
    for (let i = 0; i < perBlock; i++) {
      const p = u32(b, 4 * i);
      const l = logical + i * span[level];
      if (l >= maxLogical) break;
      if (p === 0) continue;
      if (level === 0) data(l, p);
      else ind(p, level - 1, l);
    }
  };
  for (let level = 0; level < 3; level++) {
    ind(u32(inode, 0x28 + 4 * (12 + level)), level, base);
    base += span[level] * perBlock;
  }
  flush();
}

/** Directory entries of one directory block (linear format), bounded. */
function* dirEntries(block: Uint8Array, g: Geo): Generator<{ off: number; recLen: number; ino: number; nameLen: number; fileType: number; name: Uint8Array }> {
  const ft = (g.incompat & INCOMPAT_FILETYPE) !== 0;
  let off = 0;
  while (off + 8 <= block.length) {
    let recLen = u16(block, off + 4);
    if (g.bs >= 65536 && (recLen === 0 || recLen === 65535)) recLen = 65536;
    const nameLen = ft ? block[off + 6] : u16(block, off + 6);
    if (recLen < 8 || recLen % 4 !== 0 || off + recLen > block.length || 8 + nameLen > recLen) return;
    yield { off, recLen, ino: u32(block, off), nameLen, fileType: ft ? block[off + 7] : 0, name: block.subarray(off + 8, off + 8 + nameLen) };
    off += recLen;
  }
}

const RESERVED_NAMES: Record<number, string> = {
  1: "bad blocks inode", 3: "user quota inode", 4: "group quota inode", 5: "boot loader inode",
  6: "undelete directory inode", 7: "resize inode", 8: "journal", 9: "exclude inode", 10: "replica inode",
};

function buildFileMap(side: Side, g: Geo): FileMap {
  const paths = new Map<number, string>();
  const runs: Run[] = [];
  const push = (ino: number) => (kind: K, logical: number, start: number, count: number) => {
    if (runs.length >= MAX_RUNS) throw new Unexplainable("too many block runs");
    runs.push({ start, count, ino, kind, logical });
  };
  // Reserved inodes (and the ones the superblock names) that are in use.
  const special = new Map<number, string>();
  for (let ino = 1; ino < g.firstIno; ino++) if (ino !== ROOT_INO) special.set(ino, RESERVED_NAMES[ino] ?? `reserved inode ${ino}`);
  for (const [off, name] of [[0xe0, "journal"], [0x240, "user quota inode"], [0x244, "group quota inode"], [0x26c, "project quota inode"], [0x280, "orphan file"]] as const) {
    const ino = u32(g.sb, off);
    if (ino && ino !== ROOT_INO) special.set(ino, name);
  }
  for (const [ino, name] of special) {
    const inode = readInode(side, g, ino);
    if (!inode || (iMode(inode) === 0 && u32(inode, 0x1c) === 0)) continue;
    paths.set(ino, `<${name}>`);
    inodeBlocks(side, g, inode, K.Data, push(ino));
  }
  // Breadth-first walk from the root directory; each inode visited once.
  paths.set(ROOT_INO, "/");
  const queue: number[] = [ROOT_INO];
  let walked = 0;
  for (let qi = 0; qi < queue.length; qi++) {
    const dirIno = queue[qi];
    const inode = readInode(side, g, dirIno);
    if (!inode || (iMode(inode) & S_IFMT) !== S_IFDIR) continue;
    const dirPath = paths.get(dirIno)!;
    const firstRun = runs.length;
    inodeBlocks(side, g, inode, K.Dir, push(dirIno));
    const xattr = u32(inode, 0x68) + u16(inode, 0x76) * 2 ** 32;
    if (xattr > 0 && xattr < g.blocks) push(dirIno)(K.Xattr, 0, xattr, 1);
    const lastRun = runs.length;
    const sizeBlocks = Math.ceil(iSize(inode) / g.bs);
    for (let r = firstRun; r < lastRun; r++) {
      const run = runs[r];
      if (run.kind !== K.Dir) continue;
      for (let i = 0; i < run.count && run.logical + i < sizeBlocks; i++) {
        const blk = side.block((run.start + i) * g.bs, g.bs);
        for (const e of dirEntries(blk, g)) {
          if (e.ino === 0 || e.nameLen === 0 || (e.nameLen === 1 && e.name[0] === 0x2e) || (e.nameLen === 2 && e.name[0] === 0x2e && e.name[1] === 0x2e)) continue;
          if (e.ino > g.inodesCount || paths.has(e.ino)) continue;
          if (++walked > MAX_INODES_WALKED) throw new Unexplainable("too many inodes");
          const path = (dirPath === "/" ? "/" : dirPath + "/") + utf8Decode(e.name);
          paths.set(e.ino, path.length > MAX_PATH_CHARS ? path.slice(0, MAX_PATH_CHARS) + "…" : path);
          const child = readInode(side, g, e.ino);
          if (!child) continue;
          const type = iMode(child) & S_IFMT;
          if (type === S_IFDIR) {
            if (path.length <= MAX_PATH_CHARS) queue.push(e.ino);
            continue;
          }
          inodeBlocks(side, g, child, K.Data, push(e.ino));
          const cx = u32(child, 0x68) + u16(child, 0x76) * 2 ** 32;
          if (cx > 0 && cx < g.blocks) push(e.ino)(K.Xattr, 0, cx, 1);
        }
      }
    }
  }
  runs.sort((x, y) => x.start - y.start);
  return { geo: g, paths, runs };
}

function runAt(m: FileMap, block: number): Run | undefined {
  const r = m.runs;
  let lo = 0, hi = r.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (r[mid].start <= block) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Runs may overlap in a damaged image: look back a few for one that covers `block`.
  for (let i = found; i >= 0 && i > found - 8; i--) if (block < r[i].start + r[i].count) return r[i];
  return undefined;
}

function nextRunStart(m: FileMap, block: number): number {
  const r = m.runs;
  let lo = 0, hi = r.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r[mid].start <= block) lo = mid + 1;
    else hi = mid;
  }
  return lo < r.length ? r[lo].start : Infinity;
}

const KIND_LABEL: Record<K, string> = {
  [K.Data]: "content", [K.Dir]: "directory block", [K.ExtentTree]: "extent tree block", [K.Indirect]: "indirect block", [K.Xattr]: "extended attribute block",
};

// ---------------------------------------------------------------- explaining

const timeField = (name: string) => /time$|_lastcheck$|^i_dtime$/.test(name) && !/extra/.test(name);

function renderFor(f: Field): ((v: number) => string) | undefined {
  if (timeField(f.name) && f.lenBytes === 4) return (v) => `${v} (${isoTime(v)})`;
  if (/_extra$/.test(f.name)) return (v) => `${v} (${Math.floor(v / 4)} ns, epoch ${v & 3})`;
  return undefined;
}

function explainExt4(a: ReadAt, b: ReadAt, partitionBytes: number, ranges: [number, number][]): FsDifference[] {
  return guardExplainer(partitionBytes, ranges, () => {
    const { A, B, g, mapA: fileMapA, mapB: fileMapB } = twoSides(a, b, partitionBytes, readGeo, buildFileMap);
    const bs = g.bs;
    const pathOf = (ino: number) => {
      const pa = fileMapA().paths.get(ino);
      if (pa !== undefined) return pa;
      const pb = fileMapB()?.paths.get(ino);
      return pb !== undefined ? `${pb} (in B)` : "unused";
    };

    /** Fields of a structure [base, base+len) that differ inside [s, e). */
    const fields = (list: readonly Field[], base: number, len: number, s: number, e: number) => {
      const x = A.block(base, len);
      const y = B.block(base, len);
      return { x, y, diff: differingFields(list, x, y, s - base, e - base) };
    };

    const superblock = (item: string, base: number, s: number, e: number, out: Collector) => {
      const { x, y, diff } = fields(SB_FIELDS, base, SUPERBLOCK_BYTES, s, e);
      if (diff.length) {
        out.add({
          item, fields: diff.map((f) => `${item === "superblock" ? "superblock." : ""}${f.name}`),
          details: diff.map((f) => fieldDetail(f, x, y, renderFor(f))).filter((d): d is string => !!d),
          startBytes: s, endBytes: e,
        });
      }
    };

    const descFields = GD_FIELDS_64.filter((f) => f.offBytes < g.descBytes);
    const descriptors = (blockNo: number, firstDesc: number, copyOf: number, s: number, e: number, out: Collector) => {
      const base = blockNo * bs;
      const x = A.block(base, bs);
      const y = B.block(base, bs);
      for (let o = s - base; o < e - base; ) {
        const idx = Math.floor(o / g.descBytes);
        const n = firstDesc + idx;
        const dBase = idx * g.descBytes;
        const dEnd = dBase + g.descBytes;
        const xs = x.subarray(dBase, dEnd), ys = y.subarray(dBase, dEnd);
        const item = n < g.groups ? `group descriptor ${n}${copyOf > 0 ? ` (backup in group ${copyOf})` : ""}` : `unused group descriptor slot ${n}`;
        const diff = differingFields(descFields, xs, ys, o - dBase, Math.min(e - base, dEnd) - dBase);
        const extra = g.descBytes > 64 && !sameBytes(xs, ys, 64, g.descBytes) ? ["(bytes past 64)"] : [];
        if (diff.length || extra.length) {
          out.add({
            item, fields: [...diff.map((f) => f.name), ...extra],
            details: diff.map((f) => fieldDetail(f, xs, ys)).filter((d): d is string => !!d),
            startBytes: Math.max(s, base + dBase), endBytes: Math.min(e, base + dEnd),
          });
        }
        o = dEnd;
      }
      return e;
    };

    const inodeFields = INODE_FIELDS.filter((f) => f.offBytes < g.inodeBytes);
    const inodeRegion = (tableStart: number, grp: number, s: number, e: number, out: Collector) => {
      const rel = s - tableStart * bs;
      const idx = Math.floor(rel / g.inodeBytes);
      const ino = grp * g.ipg + idx + 1;
      const base = tableStart * bs + idx * g.inodeBytes;
      const end = Math.min(e, base + g.inodeBytes);
      const blk = Math.floor(base / bs) * bs;
      const x = A.block(blk, bs).subarray(base - blk, base - blk + g.inodeBytes);
      const y = B.block(blk, bs).subarray(base - blk, base - blk + g.inodeBytes);
      if (idx >= g.ipg) {
        const t = trimRange(A, B, s, end);
        if (t) out.add({ item: `inode table of group ${grp}: bytes past the last inode`, startBytes: t[0], endBytes: t[1] });
        return end;
      }
      const diff = differingFields(inodeFields, x, y, s - base, end - base);
      const extraDiff = g.inodeBytes > 256 && !sameBytes(x, y, Math.max(256, s - base), end - base);
      const names = diff.map((f) => {
        if (f.name !== "i_block") return f.name;
        const fl = iFlags(x), type = iMode(x) & S_IFMT;
        if (fl & EXT4_INLINE_DATA_FL) return "i_block (inline data)";
        if (fl & EXT4_EXTENTS_FL) return "i_block (extent tree root)";
        if (type === S_IFLNK) return "i_block (symlink target)";
        return "i_block (block map)";
      });
      if (extraDiff) names.push("in-inode extended attributes");
      if (names.length) {
        out.add({
          item: `inode ${ino} (${pathOf(ino)})`, fields: names,
          details: diff.filter((f) => f.name !== "i_block").map((f) => fieldDetail(f, x, y, renderFor(f))).filter((d): d is string => !!d),
          startBytes: s, endBytes: end,
        });
      }
      return end;
    };

    const bitmap = (kind: number, grp: number, blockNo: number, s: number, e: number, out: Collector) => {
      const t = trimRange(A, B, s, e);
      if (!t) return e;
      const rel0 = t[0] - blockNo * bs, rel1 = t[1] - blockNo * bs;
      const perGroup = kind === 0 ? g.bpg : g.ipg;
      const usedBytes = Math.ceil(perGroup / 8);
      if (rel0 >= usedBytes) {
        out.add({ item: `${kind === 0 ? "block" : "inode"} bitmap of group ${grp}: padding past the group's last bit`, startBytes: t[0], endBytes: t[1] });
        return e;
      }
      const firstBit = rel0 * 8, lastBit = Math.min(rel1 * 8, perGroup);
      const base = kind === 0 ? groupFirstBlock(g, grp) : grp * g.ipg + 1;
      out.add({
        item: `${kind === 0 ? "block" : "inode"} bitmap of group ${grp}`,
        span: [base + firstBit, base + lastBit - 1, kind === 0 ? "bits of blocks" : "bits of inodes"],
        startBytes: t[0], endBytes: t[1],
      });
      return e;
    };

    /** Blocks owned by an inode, described from side `from`'s map ("B" when only B uses them). */
    const owned = (m: FileMap, from: Side, run: Run, s: number, e: number, out: Collector, suffix: string) => {
      const blockNo = Math.floor(s / bs);
      let end = Math.min(e, run.kind === K.Data ? (run.start + run.count) * bs : (blockNo + 1) * bs);
      const path = m.paths.get(run.ino) ?? `inode ${run.ino}`;
      const logical = run.logical + (blockNo - run.start);
      // Whose are these blocks in B? When not the same file's, say so (content that moved).
      let moved: string | undefined;
      if (!suffix) {
        const mB = fileMapB();
        const rb = mB ? runAt(mB, blockNo) : undefined;
        if (mB && rb) {
          end = Math.min(end, (rb.start + rb.count) * bs);
          const pathB = mB.paths.get(rb.ino) ?? `inode ${rb.ino}`;
          if (pathB !== path || rb.kind !== run.kind || rb.logical - rb.start !== run.logical - run.start) moved = `in B: ${KIND_LABEL[rb.kind]} of ${pathB}`;
        } else if (mB) {
          end = Math.min(end, nextRunStart(mB, blockNo) * bs);
          moved = "unallocated in B";
        }
      }
      const t = trimRange(A, B, s, end);
      if (!t) return end;
      if (moved) {
        out.add({ item: `${KIND_LABEL[run.kind]} of ${path}`, details: [moved], span: [logical, logical + Math.floor((t[1] - 1) / bs) - blockNo, "file blocks"], startBytes: t[0], endBytes: t[1] });
        return end;
      }
      switch (run.kind) {
        case K.Data: {
          // The larger of the two sizes: bytes appended in B are content, not slack.
          const inode = readInode(from, m.geo, run.ino);
          let other: Uint8Array | undefined;
          try {
            other = readInode(from === A ? B : A, m.geo, run.ino);
          } catch {
            other = undefined;
          }
          const size = inode ? Math.max(iSize(inode), other ? iSize(other) : 0) : Infinity;
          const f0 = logical * bs + (t[0] - blockNo * bs);
          const f1 = f0 + (t[1] - t[0]);
          if (path === "<journal>") {
            out.add({ item: `journal (inode ${run.ino})${suffix}`, fields: logical === 0 ? ["journal superblock"] : [], span: [Math.floor(f0 / bs), Math.floor((f1 - 1) / bs), "journal blocks"], startBytes: t[0], endBytes: t[1] });
          } else if (f0 >= size) {
            out.add({ item: `file ${path}${suffix}`, fields: ["slack after the end of the file"], startBytes: t[0], endBytes: t[1] });
          } else {
            out.add({ item: `file ${path}${suffix} content`, span: [f0, Math.min(f1, size), "bytes"], startBytes: t[0], endBytes: t[1] });
          }
          break;
        }
        case K.Dir:
          if (suffix) out.add({ item: `directory ${path}${suffix} block ${logical}`, startBytes: t[0], endBytes: t[1] });
          else dirBlock(m, run, blockNo, logical, path, t[0], t[1], out);
          break;
        case K.ExtentTree: {
          const x = A.block(blockNo * bs, bs);
          const max = Math.min(u16(x, 4), Math.floor((bs - 12) / 12));
          const rel0 = t[0] - blockNo * bs, rel1 = t[1] - blockNo * bs;
          const names: string[] = [];
          if (rel0 < 12) names.push("ext4_extent_header");
          for (let i = Math.max(0, Math.floor((rel0 - 12) / 12)); i < max && 12 + i * 12 < rel1 && names.length < 16; i++) names.push(`entry ${i}`);
          if (rel1 > 12 + 12 * max) names.push("ext4_extent_tail (eb_checksum)");
          out.add({ item: `file ${path}${suffix} extent tree block`, fields: names, startBytes: t[0], endBytes: t[1] });
          break;
        }
        case K.Indirect:
          out.add({ item: `file ${path}${suffix} indirect block`, span: [Math.floor((t[0] - blockNo * bs) / 4), Math.floor((t[1] - 1 - blockNo * bs) / 4), "pointers"], startBytes: t[0], endBytes: t[1] });
          break;
        case K.Xattr:
          xattrBlock(path + suffix, blockNo, t[0], t[1], out);
          break;
      }
      return end;
    };

    const dirBlock = (m: FileMap, run: Run, blockNo: number, logical: number, path: string, s: number, e: number, out: Collector) => {
      const base = blockNo * bs;
      const x = A.block(base, bs);
      const y = B.block(base, bs);
      const inode = readInode(A, m.geo, run.ino);
      const indexed = inode ? (iFlags(inode) & EXT4_INDEX_FL) !== 0 : false;
      const item = `directory ${path} block ${logical}`;
      const names: string[] = [];
      const details: string[] = [];
      const rel0 = s - base, rel1 = e - base;
      const csum = (g.ro & RO_COMPAT_METADATA_CSUM) !== 0;
      const dx = (countOff: number, what: string) => {
        const limit = u16(x, countOff);
        const count = Math.min(u16(x, countOff + 2), limit);
        const tail = countOff + 8 * limit;
        if (rel0 < countOff) names.push(what);
        for (let i = 0; i <= count; i++) {
          const o0 = i === 0 ? countOff : countOff + 8 * i;
          const o1 = countOff + 8 * (i + 1);
          if (o1 > rel0 && o0 < rel1 && !sameBytes(x, y, o0, o1)) names.push(i === 0 ? "dx_countlimit / dx_entry 0 block" : `dx_entry ${i} (hash, block)`);
          if (names.length > 16) break;
        }
        if (csum && rel1 > tail && !sameBytes(x, y, tail, tail + 8)) names.push("dx_tail (dt_checksum)");
      };
      const first = dirEntries(x, m.geo).next().value;
      if (indexed && logical === 0) dx(0x20, "dx_root (\".\", \"..\", dx_root_info)");
      else if (indexed && first && first.ino === 0 && first.recLen === bs) dx(0x08, "dx_node header");
      else {
        // Compare the block's entries as sets of names (a rename or an insertion
        // shifts every later entry, so positions say little).
        const isTail = (d: { off: number; recLen: number; ino: number; nameLen: number; fileType: number }) =>
          csum && d.ino === 0 && d.recLen === 12 && d.nameLen === 0 && d.fileType === 0xde && d.off === bs - 12;
        const live = (z: Uint8Array) => {
          const map = new Map<string, { ino: number; fileType: number }>();
          for (const d of dirEntries(z, m.geo)) {
            if (isTail(d) || d.ino === 0 || d.nameLen === 0) continue;
            map.set(utf8Decode(d.name), { ino: d.ino, fileType: d.fileType });
          }
          return map;
        };
        const ma = live(x), mb = live(y);
        const removed: [string, number][] = [], added: [string, number][] = [];
        for (const [n, va] of ma) {
          const vb = mb.get(n);
          if (!vb) removed.push([n, va.ino]);
          else if (va.ino !== vb.ino) {
            names.push(`entry ${JSON.stringify(n)} inode`);
            details.push(`${JSON.stringify(n)} inode: ${va.ino} vs ${vb.ino}`);
          } else if (va.fileType !== vb.fileType) {
            names.push(`entry ${JSON.stringify(n)} file_type`);
            details.push(`${JSON.stringify(n)} file_type: ${va.fileType} vs ${vb.fileType}`);
          }
        }
        for (const [n, vb] of mb) if (!ma.has(n)) added.push([n, vb.ino]);
        for (const [n, ino] of removed) {
          const k = added.findIndex(([, i]) => i === ino);
          if (k >= 0) {
            names.push(`entry ${JSON.stringify(n)} renamed to ${JSON.stringify(added[k][0])}`);
            added.splice(k, 1);
          } else {
            names.push(`entry ${JSON.stringify(n)} removed`);
            details.push(`${JSON.stringify(n)}: inode ${ino} in A`);
          }
        }
        for (const [n, ino] of added) {
          names.push(`entry ${JSON.stringify(n)} added`);
          details.push(`${JSON.stringify(n)}: inode ${ino} in B`);
        }
        const entryEnd = csum ? bs - 12 : bs;
        if (!names.length && rel0 < entryEnd && !sameBytes(x, y, 0, entryEnd)) names.push("entry order, rec_len or padding");
        if (csum && rel1 > bs - 12 && !sameBytes(x, y, bs - 12, bs)) names.push("ext4_dir_entry_tail (det_checksum)");
      }
      if (!names.length) names.push("entries");
      out.add({ item, fields: names, details, startBytes: s, endBytes: e });
    };

    const XATTR_PREFIX: Record<number, string> = { 1: "user.", 2: "system.posix_acl_access", 3: "system.posix_acl_default", 4: "trusted.", 6: "security.", 7: "system.", 8: "system.richacl" };
    const xattrBlock = (owner: string, blockNo: number, s: number, e: number, out: Collector) => {
      const base = blockNo * bs;
      const x = A.block(base, bs);
      const rel0 = s - base, rel1 = e - base;
      const names: string[] = [];
      const header: [string, number, number][] = [["h_magic", 0, 4], ["h_refcount", 4, 8], ["h_blocks", 8, 12], ["h_hash", 12, 16], ["h_checksum", 16, 20], ["h_reserved", 20, 32]];
      for (const [n, o0, o1] of header) if (o1 > rel0 && o0 < rel1) names.push(n);
      for (let off = 32, k = 0; off + 16 <= bs && k < 1024; k++) {
        const nameLen = x[off];
        if (nameLen === 0 && u32(x, off) === 0) break;
        const entryBytes = (16 + nameLen + 3) & ~3;
        const name = (XATTR_PREFIX[x[off + 1]] ?? "") + utf8Decode(x.subarray(off + 16, off + 16 + nameLen));
        const vOff = u16(x, off + 2), vSize = u32(x, off + 8);
        if (off + entryBytes > rel0 && off < rel1) names.push(`entry ${JSON.stringify(name)}`);
        if (vSize > 0 && vOff + vSize > rel0 && vOff < rel1) names.push(`value of ${JSON.stringify(name)}`);
        off += entryBytes;
        if (names.length > 16) break;
      }
      out.add({ item: `extended attribute block of ${owner}`, fields: names, startBytes: s, endBytes: e });
    };

    const unowned = (s: number, e: number, out: Collector) => {
      const blockNo = Math.floor(s / bs);
      const grp = Math.floor((blockNo - g.first) / g.bpg);
      // Extend over following blocks that are neither fixed metadata nor owned in A.
      let endBlock = blockNo + 1;
      const mA = fileMapA();
      const limit = Math.min(Math.ceil(e / bs), groupFirstBlock(g, grp + 1), nextRunStart(mA, blockNo), g.blocks);
      while (endBlock < limit && !metaAt(g, endBlock)) endBlock++;
      const end = Math.min(e, endBlock * bs);
      // B's owner, when B uses these blocks (content that moved or was added).
      const mB = fileMapB();
      const rb = mB ? runAt(mB, blockNo) : undefined;
      if (mB && rb) return owned(mB, B, rb, s, Math.min(end, (rb.start + rb.count) * bs), out, " (in B)");
      const t = trimRange(A, B, s, end);
      if (!t) return end;
      const bit = blockNo - groupFirstBlock(g, grp);
      const uninit = (g.bgFlags[grp] & EXT4_BG_BLOCK_UNINIT) !== 0;
      const used = !uninit && g.bbm[grp] > 0 && g.bbm[grp] < g.blocks && ((A.block(g.bbm[grp] * bs, bs)[bit >> 3] >> (bit & 7)) & 1) === 1;
      out.add({
        item: used ? `allocated blocks of group ${grp} (owner not found)` : `unallocated blocks of group ${grp}`,
        span: [Math.floor(t[0] / bs), Math.floor((t[1] - 1) / bs), "blocks"],
        startBytes: t[0], endBytes: t[1],
      });
      return end;
    };

    return (s: number, e: number, out: Collector): number => {
      const blockNo = Math.floor(s / bs);
      const blockEnd = (blockNo + 1) * bs;
      if (blockNo >= g.blocks) {
        const t = trimRange(A, B, s, e);
        if (t) out.add({ item: "space past the end of the filesystem (s_blocks_count)", startBytes: t[0], endBytes: t[1] });
        return e;
      }
      if (blockNo < g.first) {
        const t = trimRange(A, B, s, Math.min(e, blockEnd));
        if (t) out.add({ item: "boot block (before the superblock)", startBytes: t[0], endBytes: t[1] });
        return Math.min(e, blockEnd);
      }
      const grp = Math.floor((blockNo - g.first) / g.bpg);
      const rel = blockNo - groupFirstBlock(g, grp);
      if (hasSuper(g, grp)) {
        if (rel === 0) {
          const sbOff = grp === 0 ? SUPERBLOCK_OFFSET_BYTES : blockNo * bs;
          if (s < sbOff) {
            const t = trimRange(A, B, s, Math.min(e, sbOff));
            if (t) out.add({ item: "boot sector area (before the superblock)", startBytes: t[0], endBytes: t[1] });
            return Math.min(e, sbOff);
          }
          if (s < sbOff + SUPERBLOCK_BYTES) {
            const end = Math.min(e, sbOff + SUPERBLOCK_BYTES);
            superblock(grp === 0 ? "superblock" : `backup superblock in group ${grp}`, sbOff, s, end, out);
            return end;
          }
          const end = Math.min(e, blockEnd);
          const t = trimRange(A, B, s, end);
          if (t) out.add({ item: `padding after the superblock in group ${grp}`, startBytes: t[0], endBytes: t[1] });
          return end;
        }
        if (rel >= 1 && rel < 1 + g.gdtBlocks) {
          return descriptors(blockNo, (rel - 1) * (bs / g.descBytes), grp, s, Math.min(e, blockEnd), out);
        }
        if (rel >= 1 + g.gdtBlocks && rel < 1 + g.gdtBlocks + g.reservedGdt) {
          const end = Math.min(e, blockEnd);
          const t = trimRange(A, B, s, end);
          if (t) out.add({ item: `reserved GDT blocks${grp ? ` (group ${grp} copy)` : ""}`, span: [Math.floor(t[0] / bs), Math.floor((t[1] - 1) / bs), "blocks"], startBytes: t[0], endBytes: t[1] });
          return end;
        }
      }
      if (g.firstMetaBg !== Infinity) {
        const dpb = bs / g.descBytes;
        const mg = Math.floor(grp / dpb);
        const k = grp % dpb;
        if (mg >= g.firstMetaBg && (k === 0 || k === 1 || k === dpb - 1) && rel === (hasSuper(g, grp) ? 1 : 0)) {
          return descriptors(blockNo, mg * dpb, k === 0 ? 0 : grp, s, Math.min(e, blockEnd), out);
        }
      }
      const m = metaAt(g, blockNo);
      if (m) {
        if (m.kind === 2) {
          const tableEnd = m.end * bs;
          return inodeRegion(m.start, m.group, s, Math.min(e, tableEnd), out);
        }
        return bitmap(m.kind, m.group, m.start, s, Math.min(e, blockEnd), out);
      }
      const mA = fileMapA();
      const run = runAt(mA, blockNo);
      if (run) return owned(mA, A, run, s, e, out, "");
      return unowned(s, e, out);
    };
  });
}

export { explainExt4 };
