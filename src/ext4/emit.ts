/**
 * The ext4 emitter: turns a planned layout into the ordered extent stream.
 * Every metadata block is rendered when the stream reaches it (inode tables
 * in 256 KiB chunks, bitmaps and directory blocks one at a time); file
 * contents are file extents read by the writer. Memory: O(inodes + groups).
 *
 * Byte map of the file system (blocks of 4 KiB):
 *   block 0            bytes 0..1023 zero (boot area), superblock at 1024
 *   block 1..          group descriptor table
 *   after the header   flex group 0: block bitmaps, inode bitmaps, inode tables
 *   then               journal (inode 8), root dir, lost+found, the tree in
 *                      depth-first order, each file's extent-tree blocks after its data,
 *                      then its xattr block (a shared one after its first user)
 *   group 1, 3, 5 …    superblock backup (s_block_group_nr = group) + GDT copy
 */
import { fail } from "../bin/errors.js";
import { bytesExtent, fileExtent, type Extent } from "../io/extent.js";
import type { BuildContext, Timestamp } from "../context/index.js";
import type { TreeNode } from "../tree/types.js";
import { BLOCK_BYTES, BLOCKS_PER_GROUP, DESC_BYTES, DX_HASH_HALF_MD4, EXT2_FLAGS_SIGNED_HASH, EXT3_JNL_BACKUP_BLOCKS, EXT4_BAD_INO, EXT4_BG_INODE_UNINIT, EXT4_BG_INODE_ZEROED, EXT4_CRC32C_CHKSUM, EXT4_DEFM_ACL, EXT4_DEFM_XATTR_USER, EXT4_EXTENTS_FL, EXT4_FIRST_INO, EXT4_INDEX_FL, EXT4_JOURNAL_INO, EXT4_SUPER_MAGIC, EXTRA_ISIZE, FEATURE_COMPAT, FEATURE_INCOMPAT, FEATURE_RO_COMPAT, FLEX_BG_LOG, INODE_BYTES, LOG_BLOCK_SIZE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, SUPERBLOCK_OFFSET_BYTES } from "./constants.js";
import { crc32cRaw, inodeCsumSeed } from "./csum.js";
import { setBits } from "./bitmap.js";
import { encodeGroupDesc, type GroupDescInfo } from "./groupdesc.js";
import { groupFirstBlock, groupHasSuper, type Geometry } from "./geometry.js";
import { encodeInodeFast, type InodeFields } from "./inode.js";
import { rootIBlockInto } from "./extent.js";
import { encodeJournalSuperblock } from "./journal.js";
import { allocationOrder, ExtentReplay, inodeBlocks, type Ext4Layout, type InodeBlocks, type InodeInfo, type TreeAnalysis } from "./plan.js";
import { encodeSuperblock, type SuperblockValues } from "./superblock.js";
import { encodeXattrBlock } from "./xattr.js";

export interface EmitInput {
  analysis: TreeAnalysis;
  layout: Ext4Layout;
  uuid: Uint8Array;
  label: Uint8Array;
  ctx: BuildContext;
  signedHash: boolean;
}

const TYPE_BITS = { file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, chardev: S_IFCHR, blockdev: S_IFBLK, fifo: S_IFIFO, socket: S_IFSOCK } as const;
const INODE_CHUNK = 1024; // inodes rendered per extent (256 KiB)

interface Rec {
  block: number;
  gen: () => Iterable<Extent>;
}

/** i_block of inodes with no extent tree and no inline data (read only). */
const EMPTY_IBLOCK = new Uint8Array(60);

export class Ext4Emitter {
  readonly fsSeed: number;
  private readonly g: Geometry;
  private readonly groupInfo: GroupDescInfo[];
  private readonly gdt: Uint8Array;
  private readonly fsTime: Timestamp;
  /** Replays for inode table chunks, each rendered whole between two reads of it. */
  private readonly tableReplay: ExtentReplay;
  private readonly rootBytes = new Uint8Array(60);
  private rootBlocks = 0;

  constructor(private readonly inp: EmitInput) {
    this.g = inp.layout.geometry;
    this.fsSeed = crc32cRaw(0xffffffff, inp.uuid);
    this.fsTime = { sec: inp.ctx.fsTimeSec, nsec: 0 };
    this.tableReplay = new ExtentReplay(inp.analysis, inp.layout);
    this.groupInfo = this.computeGroups();
    this.gdt = new Uint8Array(this.g.gdtBlocks * BLOCK_BYTES);
    this.groupInfo.forEach((gi, k) => encodeGroupDesc(gi, k, this.fsSeed, this.gdt, k * DESC_BYTES));
  }

  /** Used inodes of group k: inode numbers 1..lastIno are all in use. */
  private usedInodes(k: number): number {
    return Math.max(0, Math.min(this.g.inodesPerGroup, this.inp.analysis.lastIno - k * this.g.inodesPerGroup));
  }

  private groupEnd(k: number): number {
    return Math.min(groupFirstBlock(k + 1), this.g.blockCount);
  }

  blockBitmap(k: number): Uint8Array {
    const bm = new Uint8Array(BLOCK_BYTES);
    const gs = groupFirstBlock(k);
    const ge = this.groupEnd(k);
    const cursor = this.inp.layout.cursor;
    if (cursor > gs) setBits(bm, 0, Math.min(ge, cursor) - gs);
    for (const r of this.g.reserved) {
      if (r.end <= gs) continue;
      if (r.start >= ge) break;
      setBits(bm, Math.max(r.start, gs) - gs, Math.min(r.end, ge) - gs);
    }
    setBits(bm, ge - gs, BLOCKS_PER_GROUP); // padding past the end of the file system
    return bm;
  }

  inodeBitmap(k: number): Uint8Array {
    const bm = new Uint8Array(BLOCK_BYTES);
    setBits(bm, 0, this.usedInodes(k));
    setBits(bm, this.g.inodesPerGroup, BLOCK_BYTES * 8); // padding
    return bm;
  }

  private computeGroups(): GroupDescInfo[] {
    const { g } = this;
    const dirs = new Array<number>(g.groupCount).fill(0);
    const inodes = this.inp.analysis.inodes;
    for (let ino = 1; ino < inodes.length; ino++) if (inodes[ino]?.type === "dir") dirs[Math.floor((ino - 1) / g.inodesPerGroup)]++;
    const out: GroupDescInfo[] = [];
    for (let k = 0; k < g.groupCount; k++) {
      const bb = this.blockBitmap(k);
      let used = 0;
      for (let i = 0; i < BLOCK_BYTES; i++) used += POPCOUNT[bb[i]];
      const blocksInGroup = this.groupEnd(k) - groupFirstBlock(k);
      used -= BLOCKS_PER_GROUP - blocksInGroup; // padding bits are not blocks
      const usedInodes = this.usedInodes(k);
      out.push({
        blockBitmapBlock: g.blockBitmap[k],
        inodeBitmapBlock: g.inodeBitmap[k],
        inodeTableBlock: g.inodeTable[k],
        freeBlocks: blocksInGroup - used,
        freeInodes: g.inodesPerGroup - usedInodes,
        usedDirs: dirs[k],
        flags: EXT4_BG_INODE_ZEROED | (usedInodes === 0 ? EXT4_BG_INODE_UNINIT : 0),
        itableUnused: g.inodesPerGroup - usedInodes,
        blockBitmapCsum: crc32cRaw(this.fsSeed, bb, 0, BLOCKS_PER_GROUP / 8),
        inodeBitmapCsum: crc32cRaw(this.fsSeed, this.inodeBitmap(k), 0, g.inodesPerGroup / 8),
      });
    }
    return out;
  }

  get freeBlocks(): number {
    return this.groupInfo.reduce((a, gi) => a + gi.freeBlocks, 0);
  }

  superblock(group: number): Uint8Array {
    const { g, inp } = this;
    const t = inp.ctx.fsTimeSec;
    const lo = t % 0x1_0000_0000;
    const hi = Math.floor(t / 0x1_0000_0000);
    const jnl = new Uint8Array(68);
    jnl.set(inp.layout.journal.tree.rootIBlock(), 0);
    const jd = new DataView(jnl.buffer);
    const jbytes = inp.layout.journalBlocks * BLOCK_BYTES;
    jd.setUint32(60, Math.floor(jbytes / 0x1_0000_0000), true);
    jd.setUint32(64, jbytes % 0x1_0000_0000, true);
    const free = this.freeBlocks;
    const overhead = g.reserved.reduce((a, r) => a + r.end - r.start, 0) + inp.layout.journal.blockCount;
    const v: SuperblockValues = {
      s_inodes_count: g.inodeCount,
      s_blocks_count_lo: g.blockCount % 0x1_0000_0000,
      s_r_blocks_count_lo: 0,
      s_free_blocks_count_lo: free % 0x1_0000_0000,
      s_free_inodes_count: g.inodeCount - inp.analysis.lastIno,
      s_first_data_block: 0,
      s_log_block_size: LOG_BLOCK_SIZE,
      s_log_cluster_size: LOG_BLOCK_SIZE,
      s_blocks_per_group: BLOCKS_PER_GROUP,
      s_clusters_per_group: BLOCKS_PER_GROUP,
      s_inodes_per_group: g.inodesPerGroup,
      s_mtime: 0,
      s_wtime: lo,
      s_mnt_count: 0,
      s_max_mnt_count: 0xffff, // -1: no mount-count checks
      s_magic: EXT4_SUPER_MAGIC,
      s_state: 1, // cleanly unmounted
      s_errors: 1, // continue
      s_minor_rev_level: 0,
      s_lastcheck: lo,
      s_checkinterval: 0,
      s_creator_os: 0, // Linux
      s_rev_level: 1, // dynamic inode sizes
      s_first_ino: EXT4_FIRST_INO,
      s_inode_size: INODE_BYTES,
      s_block_group_nr: group,
      s_feature_compat: FEATURE_COMPAT,
      s_feature_incompat: FEATURE_INCOMPAT,
      s_feature_ro_compat: FEATURE_RO_COMPAT,
      s_uuid: inp.uuid,
      s_volume_name: inp.label,
      s_journal_inum: EXT4_JOURNAL_INO,
      s_hash_seed: inp.uuid,
      s_def_hash_version: DX_HASH_HALF_MD4,
      s_jnl_backup_type: EXT3_JNL_BACKUP_BLOCKS,
      s_desc_size: DESC_BYTES,
      s_default_mount_opts: EXT4_DEFM_XATTR_USER | EXT4_DEFM_ACL,
      s_mkfs_time: lo,
      s_jnl_blocks: jnl,
      s_blocks_count_hi: Math.floor(g.blockCount / 0x1_0000_0000),
      s_free_blocks_count_hi: Math.floor(free / 0x1_0000_0000),
      s_min_extra_isize: EXTRA_ISIZE,
      s_want_extra_isize: EXTRA_ISIZE,
      s_flags: inp.signedHash ? EXT2_FLAGS_SIGNED_HASH : 0x0002,
      s_log_groups_per_flex: FLEX_BG_LOG,
      s_checksum_type: EXT4_CRC32C_CHKSUM,
      s_overhead_clusters: overhead,
      s_wtime_hi: hi,
      s_mkfs_time_hi: hi,
      s_lastcheck_hi: hi,
    };
    return encodeSuperblock(v);
  }

  /** Inode fields of `ino` (undefined: an unused reserved inode, left all zero); its iBlock is valid until the next call. */
  private inodeFields(ino: number): InodeFields | undefined {
    const { inp } = this;
    if (ino === EXT4_BAD_INO) {
      return { mode: 0, uid: 0, gid: 0, sizeBytes: 0, time: this.fsTime, links: 0, blocks512: 0, flags: 0, iBlock: new Uint8Array(60) };
    }
    if (ino === EXT4_JOURNAL_INO) {
      const j = inp.layout.journal;
      return { mode: S_IFREG | 0o600, uid: 0, gid: 0, sizeBytes: inp.layout.journalBlocks * BLOCK_BYTES, time: this.fsTime, links: 1, blocks512: j.blockCount * 8, flags: EXT4_EXTENTS_FL, iBlock: j.tree.rootIBlock() };
    }
    const inf = inp.analysis.inodes[ino];
    if (!inf) return undefined;
    return this.treeInode(inf);
  }

  private treeInode(inf: InodeInfo): InodeFields {
    const f = this.treeInodeBase(inf);
    const x = inf.xattr;
    if (!x) return f;
    f.xattrSpace = x.ibody;
    if (x.blockId !== undefined) {
      f.fileAclBlock = this.inp.layout.xattrBlockNr[x.blockId];
      f.blocks512 += BLOCK_BYTES / 512; // each user counts the shared block, as the kernel's quota does
    }
    return f;
  }

  private treeInodeBase(inf: InodeInfo): InodeFields {
    const time = inf.mtime ? this.inp.ctx.clamp(inf.mtime) : this.fsTime;
    const root = this.extentRoot(inf.ino);
    const node = inf.node;
    // One object shape for every inode (no spreads: this runs once per inode).
    const f: InodeFields = { mode: TYPE_BITS[inf.type] | inf.perm, uid: inf.uid, gid: inf.gid, sizeBytes: 0, time, links: inf.links, blocks512: 0, flags: 0, iBlock: EMPTY_IBLOCK };
    switch (inf.type) {
      case "dir":
        f.sizeBytes = inf.dir!.blockCount * BLOCK_BYTES;
        f.blocks512 = this.rootBlocks * 8;
        f.flags = EXT4_EXTENTS_FL | (inf.dir!.indexed ? EXT4_INDEX_FL : 0);
        f.iBlock = root!;
        return f;
      case "file":
        f.sizeBytes = node!.sizeBytes;
        f.blocks512 = this.rootBlocks * 8;
        f.flags = EXT4_EXTENTS_FL;
        f.iBlock = root!;
        return f;
      case "symlink": {
        const target = node!.linkTarget!;
        f.sizeBytes = target.length;
        if (root) {
          f.blocks512 = this.rootBlocks * 8;
          f.flags = EXT4_EXTENTS_FL;
          f.iBlock = root;
        } else {
          f.iBlock = new Uint8Array(60);
          f.iBlock.set(target);
        }
        return f;
      }
      case "chardev":
      case "blockdev": {
        const iBlock = new Uint8Array(60);
        const d = new DataView(iBlock.buffer);
        const ma = node!.rdevMajor ?? 0;
        const mi = node!.rdevMinor ?? 0;
        // Old 16-bit encoding in i_block[0] when it fits, else the new 32-bit one in i_block[1].
        if (ma < 256 && mi < 256) d.setUint32(0, (ma << 8) | mi, true);
        else d.setUint32(4, ((mi & 0xff) | (ma << 8) | ((mi & ~0xff) << 12)) >>> 0, true);
        f.iBlock = iBlock;
        return f;
      }
      default:
        return f;
    }
  }

  /** Renders inodes [first, first + count) of the table into one buffer. */
  inodeTableChunk(first: number, count: number): Uint8Array {
    const out = new Uint8Array(count * INODE_BYTES);
    for (let k = 0; k < count; k++) {
      const ino = first + k;
      const f = this.inodeFields(ino);
      if (f) encodeInodeFast(f, ino, this.fsSeed, out, k * INODE_BYTES, this.inp.analysis.inodes[ino]?.node?.path ?? `inode ${ino}`);
    }
    return out;
  }

  /** An inode's extents, replayed from the layout as objects (inodes with extent-tree blocks: see ExtentReplay). */
  private blocksOf(ino: number): InodeBlocks | undefined {
    return inodeBlocks(this.inp.analysis, this.inp.layout, ino);
  }

  /**
   * The extent root (i_block) of `ino`, valid until the next call, with its
   * block count in `rootBlocks`; undefined when it has no extent tree.
   */
  private extentRoot(ino: number): Uint8Array | undefined {
    const r = this.tableReplay;
    if (r.replay(ino)) {
      rootIBlockInto(this.rootBytes, r.count, r.logical, r.physical, r.length);
      this.rootBlocks = r.blockCount;
      return this.rootBytes;
    }
    const b = this.blocksOf(ino);
    if (!b) return undefined;
    this.rootBlocks = b.blockCount;
    return b.tree.rootIBlock();
  }

  /** Group metadata (superblocks and GDT copies, bitmaps, inode tables), sorted by block. */
  private metadataRecords(): Rec[] {
    const { g } = this;
    const recs: Rec[] = [];
    for (let k = 0; k < g.groupCount; k++) {
      if (groupHasSuper(k)) {
        const b0 = groupFirstBlock(k);
        recs.push({
          block: b0,
          gen: () => [bytesExtent(b0 * BLOCK_BYTES + (k === 0 ? SUPERBLOCK_OFFSET_BYTES : 0), this.superblock(k)), bytesExtent((b0 + 1) * BLOCK_BYTES, this.gdt)],
        });
      }
      recs.push({ block: g.blockBitmap[k], gen: () => [bytesExtent(g.blockBitmap[k] * BLOCK_BYTES, this.blockBitmap(k))] });
      recs.push({ block: g.inodeBitmap[k], gen: () => [bytesExtent(g.inodeBitmap[k] * BLOCK_BYTES, this.inodeBitmap(k))] });
      const used = this.usedInodes(k);
      if (used > 0) {
        recs.push({
          block: g.inodeTable[k],
          gen: function* (this: Ext4Emitter) {
            for (let i = 0; i < used; i += INODE_CHUNK) {
              const n = Math.min(INODE_CHUNK, used - i);
              yield bytesExtent(g.inodeTable[k] * BLOCK_BYTES + i * INODE_BYTES, this.inodeTableChunk(k * g.inodesPerGroup + 1 + i, n));
            }
          }.bind(this),
        });
      }
    }
    recs.sort((a, b) => a.block - b.block);
    return recs;
  }

  /**
   * Everything the allocator handed out, in allocation order, which is block
   * order: the journal, then per inode its data, its extent-tree blocks and
   * (for the first user) its xattr block. Produced one block or file extent
   * at a time, straight as extents (no record object per extent: see
   * ExtentReplay).
   */
  private *allocatedExtents(): Generator<Extent> {
    const { inp } = this;
    const j = inp.layout.journal;
    // Journal: superblock in its first block, the rest stays zero.
    yield bytesExtent(j.extents[0].physicalBlock * BLOCK_BYTES, encodeJournalSuperblock(inp.layout.journalBlocks, inp.uuid));
    yield* this.treeExtents(j, EXT4_JOURNAL_INO);
    let nextXattr = 0;
    // Its own replay: inode tables are rendered between these yields, and
    // extents() may be iterated more than once, even side by side.
    const r = new ExtentReplay(inp.analysis, inp.layout);
    const order = allocationOrder(inp.analysis.lastIno);
    for (let at = 0; at < order.length; at++) {
      const ino = order[at];
      const inf = inp.analysis.inodes[ino]!;
      if (inf.type === "file" && r.replay(ino)) {
        const n = inf.node!;
        const source = n.sourcePath; // once per file: one open by the reader
        for (let i = 0; i < r.count; i++) yield fileData(n, source, r.logical[i], r.physical[i], r.length[i]);
      } else {
        const b = this.blocksOf(ino);
        if (b) {
          const seed = inodeCsumSeed(this.fsSeed, ino);
          const source = inf.type === "file" ? inf.node!.sourcePath : undefined;
          for (const e of b.extents) {
            if (inf.type === "dir") {
              for (let k = 0; k < e.count; k++) yield bytesExtent((e.physicalBlock + k) * BLOCK_BYTES, inf.dir!.block(e.logicalBlock + k, seed));
            } else if (inf.type === "file") {
              yield fileData(inf.node!, source!, e.logicalBlock, e.physicalBlock, e.count);
            } else {
              yield bytesExtent(e.physicalBlock * BLOCK_BYTES, inf.node!.linkTarget!); // rest of the block: zero
            }
          }
          yield* this.treeExtents(b, ino);
        }
      }
      const id = inf.xattr?.blockId;
      if (id !== undefined && id === nextXattr) {
        nextXattr++;
        const xb = inp.analysis.xattrBlocks[id];
        const nr = inp.layout.xattrBlockNr[id];
        yield bytesExtent(nr * BLOCK_BYTES, encodeXattrBlock(xb.attrs, xb.refcount, nr, this.fsSeed));
      }
    }
  }

  private *treeExtents(b: InodeBlocks, ino: number): Generator<Extent> {
    const seed = inodeCsumSeed(this.fsSeed, ino);
    for (let k = 0; k < b.tree.treeBlocks.length; k++) yield bytesExtent(b.tree.treeBlocks[k] * BLOCK_BYTES, b.tree.block(k, seed));
  }

  /** The file system as extents in block order: the group metadata merged with the allocated blocks. */
  *extents(): Generator<Extent> {
    const meta = this.metadataRecords();
    let m = 0;
    let end = 0; // block after the last allocated extent
    for (const e of this.allocatedExtents()) {
      const block = e.offsetBytes / BLOCK_BYTES;
      if (block < end) fail("E_INTERNAL", `ext4 blocks out of order: ${block} before ${end}`, "ext4");
      end = block + Math.ceil(e.lengthBytes / BLOCK_BYTES);
      while (m < meta.length && meta[m].block < block) yield* meta[m++].gen();
      yield e;
    }
    while (m < meta.length) yield* meta[m++].gen();
  }
}

/** The extent of `count` blocks of file `n` from its logical block `logical`, stored at `physical` (the last one cut at the file's end). */
function fileData(n: TreeNode, source: string | Buffer, logical: number, physical: number, count: number): Extent {
  const off = logical * BLOCK_BYTES;
  return fileExtent(physical * BLOCK_BYTES, Math.min(count * BLOCK_BYTES, n.sizeBytes - off), source, (n.contentOffsetBytes ?? 0) + off);
}

const POPCOUNT = new Uint8Array(256);
for (let i = 0; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];
