/**
 * The ext4 planner: pure arithmetic from a Tree to inode numbers, directory
 * shapes and block positions. No bytes are produced here (see emit.ts).
 *
 *   1. analyzeTree (size-independent, once): inode numbers in depth-first
 *      byte order (root 2, lost+found 11, the rest from 12; a hard-link group
 *      takes the number of its first member), link counts, directory plans.
 *   2. layoutExt4 (per candidate size): geometry, then blocks handed out in
 *      increasing order: the journal, then each inode's data in inode order
 *      (root, lost+found, depth-first), each followed by its extent-tree blocks.
 */
import { fail, MkdiskError } from "../bin/errors.js";
import { compareBytes, utf8 } from "../bin/text.js";
import type { Timestamp } from "../context/index.js";
import type { Tree, TreeNode, NodeType } from "../tree/types.js";
import {
  BLOCK_BYTES,
  EXT4_FIRST_INO,
  EXT4_JOURNAL_INO,
  EXT4_LINK_MAX,
  EXT_INIT_MAX_LEN,
  EXT4_ROOT_INO,
  FAST_SYMLINK_MAX_BYTES,
  FT_BLKDEV,
  FT_CHRDEV,
  FT_DIR,
  FT_FIFO,
  FT_REG_FILE,
  FT_SOCK,
  FT_SYMLINK,
  LOST_FOUND_INO,
  SYMLINK_MAX_BYTES,
} from "./constants.js";
import { DirectoryPlan, validateName } from "./dir.js";
import { ExtentTree, extentTreeBlockCount, pushExtents, ROOT_MAX_ENTRIES, type FileExtent } from "./extent.js";
import { BlockAllocator, OutOfSpace, planGeometry, type Geometry } from "./geometry.js";
import { isDenseRuns } from "./holes.js";
import { defaultJournalBlocks, JOURNAL_STEP_BLOCKS } from "./journal.js";
import { encodeIbody, splitXattrs, toDiskXattrs, xattrBlockKey, XATTR_REFCOUNT_MAX, type DiskXattr } from "./xattr.js";

/** Runs of non-zero 4 KiB blocks of a regular file: [firstBlock, blockCount], ascending, disjoint. */
export type DataRuns = ReadonlyArray<readonly [number, number]>;
/**
 * A file's data runs. `prefetch`, when present, is told every file the
 * planner is about to ask for, in the order it will ask, so an
 * implementation can read them ahead (io/holes.ts reads them on several threads).
 */
export type ReadDataRuns = ((node: TreeNode) => DataRuns) & { prefetch?(files: readonly TreeNode[]): void };

/** lost+found made by mkdisk when the tree has none: 4 blocks (16 KiB) like mke2fs, mode 0700, root-owned. */
export const LOST_FOUND_BLOCKS = 4;
export const LOST_FOUND_NAME = utf8("lost+found");
/** Largest file: logical block numbers are 32-bit. */
export const MAX_FILE_BYTES = 0xffff_ffff * BLOCK_BYTES;

/**
 * One inode of the plan. Type, permissions, owner and time are read from the
 * tree node (mkdisk's own lost+found has none: a root-owned 0700 directory);
 * only what the plan adds is stored, as this exists once per file.
 */
export class InodeInfo {
  links: number;
  dir: DirectoryPlan | undefined = undefined;
  /** Data blocks wanted (files: all blocks, or the non-zero ones). */
  dataBlocks = 0;
  /** Where they are, as logical runs; undefined means [[0, dataBlocks]] (no holes). */
  sparseRuns: DataRuns | undefined = undefined;
  /** Extended attributes: the 96-byte in-inode area and/or an index into TreeAnalysis.xattrBlocks. */
  xattr: { ibody?: Uint8Array; blockId?: number } | undefined = undefined;

  constructor(
    readonly ino: number,
    /** Tree node, or undefined for mkdisk's own lost+found. */
    readonly node: TreeNode | undefined,
  ) {
    this.links = node ? 1 : 2;
  }

  get type(): NodeType {
    return this.node ? this.node.type : "dir";
  }
  get perm(): number {
    return this.node ? this.node.mode : 0o700;
  }
  get uid(): number {
    return this.node ? this.node.uid : 0;
  }
  get gid(): number {
    return this.node ? this.node.gid : 0;
  }
  /** Unclamped time; emit clamps through the BuildContext. */
  get mtime(): Timestamp | undefined {
    return this.node?.mtime;
  }
}

/** One shared xattr block: its attributes and how many inodes point at it. */
export interface XattrBlockPlan {
  attrs: DiskXattr[];
  refcount: number;
}

export interface TreeAnalysis {
  /** Indexed by inode number; entries 0..10 are undefined. */
  inodes: Array<InodeInfo | undefined>;
  lastIno: number;
  /** Data blocks before extent-tree blocks (journal excluded), xattr blocks included. */
  dataBlocks: number;
  /** Xattr blocks, numbered in inode order of their first user. */
  xattrBlocks: XattrBlockPlan[];
}

function fileType(t: NodeType): number {
  switch (t) {
    case "file": return FT_REG_FILE;
    case "dir": return FT_DIR;
    case "symlink": return FT_SYMLINK;
    case "chardev": return FT_CHRDEV;
    case "blockdev": return FT_BLKDEV;
    case "fifo": return FT_FIFO;
    case "socket": return FT_SOCK;
  }
}

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;

function validateNode(n: TreeNode): void {
  const where = n.path;
  if (!Number.isInteger(n.mode) || n.mode < 0 || n.mode > 0o7777) fail("E_TREE", `mode ${n.mode} is not a 12-bit permission value`, where);
  if (!isU32(n.uid) || n.uid === 0xffffffff) fail("E_TREE", `uid ${n.uid} is not a valid owner (0 to 4294967294)`, where);
  if (!isU32(n.gid) || n.gid === 0xffffffff) fail("E_TREE", `gid ${n.gid} is not a valid group (0 to 4294967294)`, where);
  if (n.type === "file" && (!Number.isSafeInteger(n.sizeBytes) || n.sizeBytes < 0 || n.sizeBytes > MAX_FILE_BYTES)) {
    fail("E_TREE", `file size ${n.sizeBytes} exceeds ext4's 16 TiB limit with 4 KiB blocks`, where);
  }
  if (n.type === "symlink") {
    const len = n.linkTarget?.length ?? 0;
    if (len === 0 || len > SYMLINK_MAX_BYTES) fail("E_TREE", `symlink target must be 1..${SYMLINK_MAX_BYTES} bytes, is ${len}`, where);
    if (n.linkTarget!.includes(0)) fail("E_TREE", `symlink target contains a NUL byte`, where);
  }
  if (n.type === "chardev" || n.type === "blockdev") {
    const ma = n.rdevMajor ?? 0;
    const mi = n.rdevMinor ?? 0;
    if (!(ma >= 0 && ma < 4096 && mi >= 0 && mi < 1 << 20)) fail("E_TREE", `device ${ma}:${mi} does not fit ext4's 12-bit major / 20-bit minor`, where);
  }
}

/** Numbers inodes, counts links and plans directories. Size-independent. */
export function analyzeTree(tree: Tree, hashSeed: Uint32Array, signedHash: boolean, readDataRuns: ReadDataRuns | undefined, where: string): TreeAnalysis {
  const root = tree.root;
  if (root.type !== "dir") fail("E_TREE", `the root of an ext4 tree must be a directory`, where);
  const lpfNode = root.children?.find((c) => compareBytes(c.name, LOST_FOUND_NAME) === 0);
  if (lpfNode && lpfNode.type !== "dir") fail("E_TREE", `/lost+found must be a directory (e2fsck needs it), found a ${lpfNode.type}`, lpfNode.path);

  // Each directory's children's inode numbers, in child order (directories
  // only: no map entry per file), dropped as each directory is planned.
  const childInos = new Map<TreeNode, Uint32Array>();
  const groupIno = new Map<number, number>();
  const inodes: Array<InodeInfo | undefined> = [];
  let next = EXT4_FIRST_INO + 1;

  const info = (ino: number, node: TreeNode | undefined): InodeInfo => {
    const i = new InodeInfo(ino, node);
    inodes[ino] = i;
    return i;
  };

  // Pass 1: numbers, depth-first in byte order (explicit stack: trees may be
  // deep; each entry is a node, the parent's childInos and the node's index there).
  info(EXT4_ROOT_INO, root);
  info(LOST_FOUND_INO, lpfNode);
  const stack: TreeNode[] = [root];
  const stackSlots: Uint32Array[] = [new Uint32Array(1)];
  const stackAt: number[] = [0];
  while (stack.length) {
    const n = stack.pop()!;
    const slots = stackSlots.pop()!;
    const at = stackAt.pop()!;
    validateNode(n);
    let ino: number;
    if (n === root) ino = EXT4_ROOT_INO;
    else if (n === lpfNode) ino = LOST_FOUND_INO;
    else if (n.hardlinkGroup !== undefined && n.type !== "dir") {
      const g = groupIno.get(n.hardlinkGroup);
      if (g !== undefined) {
        ino = g;
        const gi = inodes[g]!;
        if (gi.type !== n.type) fail("E_TREE", `hard-link group ${n.hardlinkGroup} mixes ${gi.type} and ${n.type}`, n.path);
        if (gi.links === EXT4_LINK_MAX) {
          fail("E_TREE", `more than ${EXT4_LINK_MAX} hard links to ${gi.node!.path}, the most ext4 allows a file (EXT4_LINK_MAX); make some of them copies or symlinks`, n.path);
        }
        gi.links++;
      } else {
        groupIno.set(n.hardlinkGroup, next);
        ino = next;
        info(next++, n);
      }
    } else {
      ino = next;
      info(next++, n);
    }
    slots[at] = ino;
    if (n.children) {
      // One node object in two places would share this array: its second
      // directory's entries would point nowhere.
      if (childInos.has(n)) fail("E_TREE", `the same directory node appears twice in the tree (a tree built by hand must copy it)`, n.path);
      const mine = new Uint32Array(n.children.length);
      childInos.set(n, mine);
      for (let k = n.children.length - 1; k >= 0; k--) {
        stack.push(n.children[k]);
        stackSlots.push(mine);
        stackAt.push(k);
      }
    }
  }
  const lastIno = next - 1;

  // Pass 2: directories (entries, link counts) and data demand.
  let dataBlocks = 0;
  const dirOf = (ino: number, parentIno: number, children: readonly TreeNode[], inos: Uint32Array, path: string, minBlocks: number) => {
    // Entry i is children[childAt(i)], or mkdisk's own lost+found for -1:
    // the root's entries with it are put in byte order of names (a stable
    // sort, which leaves a tree's sorted children as they are).
    let rootOrder: Int32Array | undefined;
    if (ino === EXT4_ROOT_INO && !lpfNode) {
      const order = Array.from({ length: children.length + 1 }, (_, i) => (i < children.length ? i : -1));
      const nameOf = (k: number) => (k < 0 ? LOST_FOUND_NAME : children[k].name);
      order.sort((x, y) => compareBytes(nameOf(x), nameOf(y)));
      rootOrder = Int32Array.from(order);
    }
    const count = rootOrder ? rootOrder.length : children.length;
    const childAt = (i: number) => (rootOrder ? rootOrder[i] : i);
    const nameEnd = new Uint32Array(count);
    const entryInos = new Uint32Array(count);
    const types = new Uint8Array(count);
    let bytes = 0;
    let subdirs = 0;
    for (let i = 0; i < count; i++) {
      const k = childAt(i);
      if (k < 0) {
        bytes += LOST_FOUND_NAME.length;
        entryInos[i] = LOST_FOUND_INO;
        types[i] = FT_DIR;
      } else {
        const c = children[k];
        const name = c.name; // a scanned node makes a view on each read
        validateName(name, c.path);
        bytes += name.length;
        entryInos[i] = inos[k];
        types[i] = fileType(c.type);
      }
      nameEnd[i] = bytes;
      if (types[i] === FT_DIR) subdirs++;
    }
    const names = new Uint8Array(bytes);
    for (let i = 0; i < count; i++) {
      const k = childAt(i);
      names.set(k < 0 ? LOST_FOUND_NAME : children[k].name, i === 0 ? 0 : nameEnd[i - 1]);
    }
    const inf = inodes[ino]!;
    inf.links = 2 + subdirs > EXT4_LINK_MAX ? 1 : 2 + subdirs;
    inf.dir = new DirectoryPlan(ino, parentIno, { count, names, nameEnd, inos: entryInos, types }, hashSeed, signedHash, path, minBlocks);
    inf.dataBlocks = inf.dir.blockCount;
    dataBlocks += inf.dir.blockCount;
  };
  const dstack: Array<[TreeNode, number, number]> = [[root, EXT4_ROOT_INO, EXT4_ROOT_INO]];
  while (dstack.length) {
    const [n, ino, parentIno] = dstack.pop()!;
    if (n.type === "dir") {
      const children = n.children ?? [];
      const inos = childInos.get(n) ?? new Uint32Array(0); // a directory without a children array
      childInos.delete(n);
      dirOf(ino, parentIno, children, inos, n.path, 1);
      for (let k = 0; k < children.length; k++) if (children[k].type === "dir") dstack.push([children[k], inos[k], ino]);
    }
  }
  if (!lpfNode) dirOf(LOST_FOUND_INO, EXT4_ROOT_INO, [], new Uint32Array(0), "/lost+found", LOST_FOUND_BLOCKS);
  if (readDataRuns?.prefetch) {
    const files: TreeNode[] = [];
    for (let ino = EXT4_FIRST_INO + 1; ino <= lastIno; ino++) {
      const inf = inodes[ino]!;
      if (inf.type === "file" && inf.node!.sizeBytes > 0) files.push(inf.node!);
    }
    readDataRuns.prefetch(files);
  }
  for (let ino = EXT4_FIRST_INO + 1; ino <= lastIno; ino++) {
    const inf = inodes[ino]!;
    if (inf.type === "file") {
      const n = inf.node!;
      const nblocks = Math.ceil(n.sizeBytes / BLOCK_BYTES);
      if (!readDataRuns || nblocks === 0) inf.dataBlocks = nblocks;
      else {
        const runs = readDataRuns(n);
        checkRuns(runs, nblocks, n.path);
        inf.dataBlocks = runs.reduce((a, r) => a + r[1], 0);
        // One run covering the whole file is the dense case: keep no array.
        if (!isDenseRuns(runs, n.sizeBytes)) inf.sparseRuns = runs;
      }
      dataBlocks += inf.dataBlocks;
    } else if (inf.type === "symlink" && inf.node!.linkTarget!.length > FAST_SYMLINK_MAX_BYTES) {
      inf.dataBlocks = 1;
      dataBlocks += 1;
    }
  }
  const xattrBlocks = planXattrs(inodes, allocationOrder(lastIno));
  dataBlocks += xattrBlocks.length;
  return { inodes, lastIno, dataBlocks, xattrBlocks };
}

/**
 * Splits each inode's xattrs between the inode and a block, and shares
 * identical blocks (as mke2fs / the kernel's mbcache do), at most
 * XATTR_REFCOUNT_MAX inodes per block, in inode order.
 */
function planXattrs(inodes: Array<InodeInfo | undefined>, order: Uint32Array): XattrBlockPlan[] {
  const blocks: XattrBlockPlan[] = [];
  const open = new Map<string, number>();
  for (let k = 0; k < order.length; k++) {
    const ino = order[k];
    const inf = inodes[ino]!;
    const xs = inf.node?.xattrs;
    if (!xs || xs.length === 0) continue;
    const split = splitXattrs(toDiskXattrs(xs, inf.node!.path), inf.node!.path);
    inf.xattr = { ibody: encodeIbody(split.ibody) };
    if (split.block.length) {
      const key = xattrBlockKey(split.block);
      let id = open.get(key);
      if (id === undefined || blocks[id].refcount >= XATTR_REFCOUNT_MAX) {
        id = blocks.length;
        blocks.push({ attrs: split.block, refcount: 0 });
        open.set(key, id);
      }
      blocks[id].refcount++;
      inf.xattr.blockId = id;
    }
  }
  return blocks;
}

function checkRuns(runs: DataRuns, nblocks: number, where: string): void {
  let end = 0;
  for (let i = 0; i < runs.length; i++) {
    const [s, c] = runs[i];
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(c) || c <= 0 || s < end || s + c > nblocks) {
      fail("E_INTERNAL", `data runs must be ascending, disjoint and inside the file's ${nblocks} blocks; got [${s}, ${c}]`, where);
    }
    end = s + c;
  }
}

/** Where one inode's blocks went. */
export interface InodeBlocks {
  /** Data extents (logical → physical), each at most 32768 blocks. */
  extents: FileExtent[];
  tree: ExtentTree;
  /** Total blocks (data + tree), for i_blocks. */
  blockCount: number;
}

/**
 * The placement of every block. Blocks are handed out in one increasing sweep,
 * so an inode's placement follows from the allocator's cursor when its turn
 * came: only that cursor is kept per inode (8 bytes, not a few hundred bytes of
 * extent objects), and `inodeBlocks` replays the allocation when the emitter
 * needs the extents.
 */
export interface Ext4Layout {
  geometry: Geometry;
  journalBlocks: number;
  journal: InodeBlocks;
  /** Allocator cursor before each inode's blocks (indexed by inode number; -1: no extent tree). */
  startBlock: Float64Array;
  /** Block number of each xattr block (index: TreeAnalysis.xattrBlocks). */
  xattrBlockNr: number[];
  /** Blocks in use (everything below the allocator's cursor plus reserved ranges). */
  usedBlocks: number;
  cursor: number;
}

/** Inodes in allocation order: the root, then 11 (lost+found), 12, … (xattr blocks are numbered in this order too). */
export function allocationOrder(lastIno: number): Uint32Array {
  const order = new Uint32Array(Math.max(1, lastIno - EXT4_FIRST_INO + 2));
  order[0] = EXT4_ROOT_INO;
  for (let k = 1; k < order.length; k++) order[k] = EXT4_FIRST_INO + k - 1;
  return order;
}

function hasExtentTree(inf: InodeInfo): boolean {
  return inf.type === "dir" || inf.type === "file" || (inf.type === "symlink" && inf.dataBlocks > 0);
}

/** Takes an inode's data blocks and extent-tree blocks from `alloc`; returns its extents when `keep`. */
/**
 * Hands out one inode's blocks: its data (one extent per piece of at most
 * EXT_INIT_MAX_LEN blocks of a run), then its extent-tree blocks. Runs when
 * an image is written, replayed by inodeBlocks; `skipBlocks` is the same
 * sweep keeping nothing, for the layout pass.
 */
function allocate(alloc: BlockAllocator, dataBlocks: number, sparseRuns: DataRuns | undefined): InodeBlocks {
  const extents: FileExtent[] = [];
  let logical = 0;
  const onRun = (p: number, c: number) => {
    pushExtents(extents, logical, p, c);
    logical += c;
  };
  if (sparseRuns) {
    for (const [lstart, count] of sparseRuns) {
      logical = lstart;
      alloc.takeEach(count, onRun);
    }
  } else if (dataBlocks > 0) alloc.takeEach(dataBlocks, onRun);
  const treeCount = extentTreeBlockCount(extents.length);
  const treeBlocks: number[] = [];
  if (treeCount > 0) alloc.takeEach(treeCount, (p, c) => {
    for (let k = 0; k < c; k++) treeBlocks.push(p + k);
  });
  return { extents, tree: new ExtentTree(extents, treeBlocks), blockCount: dataBlocks + treeCount };
}

/** The sweep of `allocate` without building anything (once per inode and candidate size: no allocation). */
function skipBlocks(alloc: BlockAllocator, dataBlocks: number, sparseRuns: DataRuns | undefined): void {
  let extentCount = 0;
  if (sparseRuns) for (let i = 0; i < sparseRuns.length; i++) extentCount += alloc.takeCounting(sparseRuns[i][1], EXT_INIT_MAX_LEN);
  else if (dataBlocks > 0) extentCount = alloc.takeCounting(dataBlocks, EXT_INIT_MAX_LEN);
  const treeCount = extentTreeBlockCount(extentCount);
  if (treeCount > 0) alloc.takeCounting(treeCount, EXT_INIT_MAX_LEN);
}

/** Lays the analysed tree out on a file system of `sizeBytes`; throws OutOfSpace or an E_FIT MkdiskError. */
export function layoutExt4(a: TreeAnalysis, sizeBytes: number, where: string): Ext4Layout {
  const geometry = planGeometry(sizeBytes, a.lastIno, where);
  const journalBlocks = defaultJournalBlocks(geometry.blockCount);
  if (journalBlocks < 0) fail("E_FIT", `${sizeBytes} bytes is too small for an ext4 file system with a journal (at least 8 MiB)`, where);
  const alloc = new BlockAllocator(geometry.reserved, geometry.blockCount);
  const journal = allocate(alloc, journalBlocks, undefined);
  const startBlock = new Float64Array(a.lastIno + 1).fill(-1);
  const xattrBlockNr: number[] = [];
  const order = allocationOrder(a.lastIno);
  for (let k = 0; k < order.length; k++) {
    const ino = order[k];
    const inf = a.inodes[ino]!;
    if (hasExtentTree(inf)) {
      startBlock[ino] = alloc.cursor;
      skipBlocks(alloc, inf.dataBlocks, inf.sparseRuns);
    }
    // An inode's xattr block follows its data and extent-tree blocks (a shared one: after its first user's).
    const id = inf.xattr?.blockId;
    if (id !== undefined && xattrBlockNr[id] === undefined) xattrBlockNr[id] = alloc.take(1)[0][0];
  }
  return { geometry, journalBlocks, journal, startBlock, xattrBlockNr, usedBlocks: alloc.usedBlocks(), cursor: alloc.cursor };
}

/** The extents and extent tree of inode `ino` (undefined when it has none), replayed from its start cursor. */
export function inodeBlocks(a: TreeAnalysis, l: Ext4Layout, ino: number): InodeBlocks | undefined {
  if (ino === EXT4_JOURNAL_INO) return l.journal;
  const start = ino < l.startBlock.length ? l.startBlock[ino] : -1;
  if (start < 0) return undefined;
  const inf = a.inodes[ino]!;
  return allocate(BlockAllocator.at(l.geometry.reserved, l.geometry.blockCount, start), inf.dataBlocks, inf.sparseRuns);
}

/**
 * inodeBlocks without objects, for the emitter's once-per-inode paths: replays
 * an inode's allocation into reused typed arrays. Only inodes whose extents
 * all fit in the inode (at most ROOT_MAX_ENTRIES, so no extent-tree blocks:
 * nearly every file and directory) are replayed; for the others, and inodes
 * without an extent tree, `replay` returns false and inodeBlocks answers.
 * An object per inode and extent here would be garbage by the million, and
 * V8, seeing many of them alive at once at a collection, may start
 * allocating them in the old generation, where they pile up until the next
 * full collection (a 200 000-file build peaked at 320 MiB that way).
 */
export class ExtentReplay {
  /** Data extents of the last replayed inode: logical[i], physical[i], length[i] (blocks), i < count. */
  count = 0;
  readonly logical = new Float64Array(ROOT_MAX_ENTRIES);
  readonly physical = new Float64Array(ROOT_MAX_ENTRIES);
  readonly length = new Uint32Array(ROOT_MAX_ENTRIES);
  /** Its blocks (all data: no tree blocks in this case). */
  blockCount = 0;
  private readonly alloc: BlockAllocator;

  constructor(
    private readonly a: TreeAnalysis,
    private readonly l: Ext4Layout,
  ) {
    this.alloc = new BlockAllocator(l.geometry.reserved, l.geometry.blockCount);
  }

  /** Replays inode `ino`, as `allocate` placed it; false when it has no extent tree or needs tree blocks. */
  replay(ino: number): boolean {
    if (ino === EXT4_JOURNAL_INO) return false;
    const start = ino < this.l.startBlock.length ? this.l.startBlock[ino] : -1;
    if (start < 0) return false;
    const inf = this.a.inodes[ino]!;
    this.alloc.resetAt(start);
    this.count = 0;
    const runs = inf.sparseRuns;
    if (runs) {
      for (let i = 0; i < runs.length; i++) if (!this.take(runs[i][0], runs[i][1])) return false;
    } else if (inf.dataBlocks > 0 && !this.take(0, inf.dataBlocks)) return false;
    this.blockCount = inf.dataBlocks;
    return true;
  }

  /** `allocate`'s takeEach + pushExtents for one run of n blocks from `logical`. */
  private take(logical: number, n: number): boolean {
    while (n > 0) {
      const k = this.alloc.takeRun(n);
      const p = this.alloc.runStart;
      for (let d = 0; d < k; d += EXT_INIT_MAX_LEN) {
        if (this.count === ROOT_MAX_ENTRIES) return false;
        this.logical[this.count] = logical + d;
        this.physical[this.count] = p + d;
        this.length[this.count] = Math.min(EXT_INIT_MAX_LEN, k - d);
        this.count++;
      }
      logical += k;
      n -= k;
    }
    return true;
  }
}

/** True when the tree fits `sizeBytes` (E_FIT and OutOfSpace mean no; other errors propagate). */
export function fits(a: TreeAnalysis, sizeBytes: number): boolean {
  try {
    layoutExt4(a, sizeBytes, "ext4");
    return true;
  } catch (e) {
    if (e instanceof OutOfSpace || (e instanceof MkdiskError && e.code === "E_FIT")) return false;
    throw e;
  }
}

/**
 * The size just below the highest journal step at or under `sizeBytes`
 * (so a smaller journal), if the tree fits there; else undefined. Within one
 * journal size fit grows with the size, so when `sizeBytes` does not fit,
 * this is the largest size under it that can.
 */
export function fitBelowJournalStep(a: TreeAnalysis, sizeBytes: number): number | undefined {
  const blocks = Math.floor(sizeBytes / BLOCK_BYTES);
  const step = JOURNAL_STEP_BLOCKS.filter((s) => s <= blocks).at(-1);
  if (step === undefined) return undefined;
  const top = (step - 1) * BLOCK_BYTES;
  return fits(a, top) ? top : undefined;
}

/**
 * Smallest size (a multiple of 4 KiB) that holds the tree. The estimate
 * doubles until it fits, then bisects. Fit grows with the size within one
 * journal size but not across the journal's steps (at 128 MiB it grows from
 * 4 to 16 MiB, so 127 MiB can hold what 130 MiB cannot): the sizes just
 * below each step under the bisection's answer are tried too, and the
 * lowest step that fits is bisected instead. The result always fits.
 */
export function minimumSizeBytes(a: TreeAnalysis, slackBlocks = 0): number {
  const fitsBlocks = (blocks: number) => fits(a, (blocks - slackBlocks) * BLOCK_BYTES);
  /** The smallest fitting size in (loB, hiB], given that loB does not fit and hiB does. */
  const bisect = (loB: number, hiB: number): number => {
    while (hiB - loB > 1) {
      const mid = Math.floor((loB + hiB) / 2);
      if (fitsBlocks(mid)) hiB = mid;
      else loB = mid;
    }
    return hiB;
  };
  let hi = Math.max(2048, Math.ceil(a.dataBlocks * 1.05 + 4096) + slackBlocks) * BLOCK_BYTES;
  while (!fitsBlocks(hi / BLOCK_BYTES)) {
    hi *= 2;
    if (hi > 2 ** 53) fail("E_FIT", `the tree does not fit any ext4 size mkdisk can make`, "ext4");
  }
  let best = bisect(0, hi / BLOCK_BYTES);
  let below = 0; // the top of the previous journal size, which does not fit
  for (const step of JOURNAL_STEP_BLOCKS) {
    const top = step - 1 + slackBlocks;
    if (top >= best) break;
    if (fitsBlocks(top)) {
      best = bisect(below, top);
      break;
    }
    below = top;
  }
  // With slack, the size checked (best - slack) and the size returned (best)
  // must have the same journal: if a step lies between them, the returned
  // size would get the larger journal the check never saw. Move past it.
  for (let guard = 0; guard < JOURNAL_STEP_BLOCKS.length; guard++) {
    const step = JOURNAL_STEP_BLOCKS.find((s) => best - slackBlocks < s && s <= best);
    if (step === undefined) break;
    let hiB = step + slackBlocks;
    while (!fitsBlocks(hiB)) hiB *= 2;
    best = bisect(step + slackBlocks - 1, hiB);
  }
  return best * BLOCK_BYTES;
}
