/**
 * ext4 inode, 256 bytes (s_inode_size), kernel Documentation/filesystems/ext4/
 * inodes.rst (struct ext4_inode). Little-endian. The first 128 bytes are the
 * classic inode; i_extra_isize (32) more bytes follow; 0xA0..0xFF holds the
 * in-inode extended attributes (xattr.ts) or zeros.
 *
 *  off  field                  off  field
 *  0x00 i_mode                 0x74 l_i_blocks_high     (osd2, Linux)
 *  0x02 i_uid (low 16)         0x76 l_i_file_acl_high
 *  0x04 i_size_lo              0x78 l_i_uid_high
 *  0x08 i_atime                0x7A l_i_gid_high
 *  0x0C i_ctime                0x7C l_i_checksum_lo
 *  0x10 i_mtime                0x7E l_i_reserved
 *  0x14 i_dtime                0x80 i_extra_isize
 *  0x18 i_gid (low 16)         0x82 i_checksum_hi
 *  0x1A i_links_count          0x84 i_ctime_extra
 *  0x1C i_blocks_lo (512 B)    0x88 i_mtime_extra
 *  0x20 i_flags                0x8C i_atime_extra
 *  0x24 l_i_version (osd1)     0x90 i_crtime
 *  0x28 i_block[15] (60 B)     0x94 i_crtime_extra
 *  0x64 i_generation           0x98 i_version_hi
 *  0x68 i_file_acl_lo          0x9C i_projid
 *  0x6C i_size_high            0xA0 in-inode xattr area (magic, entries, values)
 *  0x70 i_obso_faddr
 *
 * Times: i_*time holds the low 32 bits of the signed seconds; i_*_extra holds
 * (nanoseconds << 2) | epoch bits, where the epoch bits extend the seconds:
 * sec = (int32)i_time + (extra & 3) << 32 (kernel ext4_decode_extra_time).
 * Representable: 1901-12-13 .. 2446-05-10.
 *
 * Checksum: ext4_chksum(inodeSeed, whole inode with l_i_checksum_lo and
 * i_checksum_hi zero); low half at 0x7C, high half at 0x82.
 *
 * Two codecs write the same bytes: `Inode` (the struct table, readable) and
 * `encodeInodeFast` (hand-written, used for inode tables); a property test
 * checks they agree.
 */
import { defineStruct } from "../bin/struct.js";
import { fail } from "../bin/errors.js";
import type { Timestamp } from "../context/index.js";
import { crc32cRaw, inodeCsumSeed } from "./csum.js";
import { EXTRA_ISIZE, INODE_BYTES } from "./constants.js";

export const Inode = defineStruct("Ext4Inode", INODE_BYTES, {
  i_mode: { off: 0x00, type: "u16le" },
  i_uid: { off: 0x02, type: "u16le" },
  i_size_lo: { off: 0x04, type: "u32le" },
  i_atime: { off: 0x08, type: "u32le" },
  i_ctime: { off: 0x0c, type: "u32le" },
  i_mtime: { off: 0x10, type: "u32le" },
  i_dtime: { off: 0x14, type: "u32le" },
  i_gid: { off: 0x18, type: "u16le" },
  i_links_count: { off: 0x1a, type: "u16le" },
  i_blocks_lo: { off: 0x1c, type: "u32le" },
  i_flags: { off: 0x20, type: "u32le" },
  l_i_version: { off: 0x24, type: "u32le" },
  i_block: { off: 0x28, type: "bytes", len: 60 },
  i_generation: { off: 0x64, type: "u32le" },
  i_file_acl_lo: { off: 0x68, type: "u32le" },
  i_size_high: { off: 0x6c, type: "u32le" },
  i_obso_faddr: { off: 0x70, type: "u32le" },
  l_i_blocks_high: { off: 0x74, type: "u16le" },
  l_i_file_acl_high: { off: 0x76, type: "u16le" },
  l_i_uid_high: { off: 0x78, type: "u16le" },
  l_i_gid_high: { off: 0x7a, type: "u16le" },
  l_i_checksum_lo: { off: 0x7c, type: "u16le" },
  l_i_reserved: { off: 0x7e, type: "u16le" },
  i_extra_isize: { off: 0x80, type: "u16le" },
  i_checksum_hi: { off: 0x82, type: "u16le" },
  i_ctime_extra: { off: 0x84, type: "u32le" },
  i_mtime_extra: { off: 0x88, type: "u32le" },
  i_atime_extra: { off: 0x8c, type: "u32le" },
  i_crtime: { off: 0x90, type: "u32le" },
  i_crtime_extra: { off: 0x94, type: "u32le" },
  i_version_hi: { off: 0x98, type: "u32le" },
  i_projid: { off: 0x9c, type: "u32le" },
  i_xattr_space: { off: 0xa0, type: "bytes", len: INODE_BYTES - 0xa0 },
});

/** What mkdisk stores in an inode. All four times are the same (the clamped mtime). */
export interface InodeFields {
  /** Full i_mode: S_IF* type bits | permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  sizeBytes: number;
  time: Timestamp;
  links: number;
  /** i_blocks in 512-byte sectors (data + extent tree blocks). */
  blocks512: number;
  flags: number;
  /** 60 bytes: extent root, fast symlink target or device number. */
  iBlock: Uint8Array;
  /** i_file_acl: the xattr block (0 or absent: none). */
  fileAclBlock?: number;
  /** The 96-byte in-inode xattr area at 0xA0 (absent: zeros). */
  xattrSpace?: Uint8Array;
}

export const MIN_TIME_SEC = -0x8000_0000;
export const MAX_TIME_SEC = 0x3_7fff_ffff; // (int32 max) + 3 << 32

/** Seconds + nanoseconds → [i_time (le32 bits), i_time_extra]. Refuses times ext4 cannot hold. */
export function encodeTime(t: Timestamp, where: string): [number, number] {
  if (!Number.isSafeInteger(t.sec) || t.sec < MIN_TIME_SEC || t.sec > MAX_TIME_SEC) {
    fail("E_TREE", `time ${t.sec} s is outside what ext4 can store (1901-12-13 .. 2446-05-10)`, where);
  }
  if (!Number.isInteger(t.nsec) || t.nsec < 0 || t.nsec > 999_999_999) fail("E_TREE", `bad nanoseconds ${t.nsec}`, where);
  // Low 32 bits of the two's complement seconds; epoch = (sec - (int32)low) >> 32.
  const low = ((t.sec % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
  const asInt32 = low >= 0x8000_0000 ? low - 0x1_0000_0000 : low;
  const epoch = (t.sec - asInt32) / 0x1_0000_0000;
  return [low, ((t.nsec * 4) + epoch) >>> 0];
}

function checkFields(f: InodeFields, where: string): void {
  if (f.iBlock.length !== 60) fail("E_INTERNAL", `i_block must be 60 bytes`, where);
  if (!(f.links >= 0 && f.links <= 0xffff)) fail("E_INTERNAL", `link count ${f.links} out of range`, where);
  if (!(f.blocks512 < 2 ** 48)) fail("E_FIT", `file needs ${f.blocks512} sectors, more than huge_file's 2^48`, where);
  if (f.xattrSpace && f.xattrSpace.length !== INODE_BYTES - 0xa0) fail("E_INTERNAL", `in-inode xattr area must be ${INODE_BYTES - 0xa0} bytes`, where);
  const acl = f.fileAclBlock ?? 0;
  if (!(Number.isSafeInteger(acl) && acl >= 0 && acl < 2 ** 48)) fail("E_INTERNAL", `xattr block ${acl} out of range`, where);
}

/** Readable codec: the struct table. */
export function encodeInodeTable(f: InodeFields, ino: number, fsSeed: number, out: Uint8Array, at: number, where = `inode ${ino}`): void {
  checkFields(f, where);
  const [tLo, tExtra] = encodeTime(f.time, where);
  Inode.encodeInto(
    {
      i_mode: f.mode,
      i_uid: f.uid & 0xffff,
      i_size_lo: f.sizeBytes % 0x1_0000_0000,
      i_atime: tLo,
      i_ctime: tLo,
      i_mtime: tLo,
      i_dtime: 0,
      i_gid: f.gid & 0xffff,
      i_links_count: f.links,
      i_blocks_lo: f.blocks512 % 0x1_0000_0000,
      i_flags: f.flags,
      i_block: f.iBlock,
      i_file_acl_lo: (f.fileAclBlock ?? 0) % 0x1_0000_0000,
      i_size_high: Math.floor(f.sizeBytes / 0x1_0000_0000),
      l_i_blocks_high: Math.floor(f.blocks512 / 0x1_0000_0000),
      l_i_file_acl_high: Math.floor((f.fileAclBlock ?? 0) / 0x1_0000_0000),
      l_i_uid_high: f.uid >>> 16,
      l_i_gid_high: f.gid >>> 16,
      i_extra_isize: EXTRA_ISIZE,
      i_ctime_extra: tExtra,
      i_mtime_extra: tExtra,
      i_atime_extra: tExtra,
      i_crtime: tLo,
      i_crtime_extra: tExtra,
      i_xattr_space: f.xattrSpace,
    },
    out,
    at,
  );
  setInodeChecksum(out, at, ino, fsSeed);
}

/** Fast codec for inode tables: the same bytes as encodeInodeTable, written directly. */
export function encodeInodeFast(f: InodeFields, ino: number, fsSeed: number, out: Uint8Array, at: number, where = `inode ${ino}`): void {
  checkFields(f, where);
  const [tLo, tExtra] = encodeTime(f.time, where);
  out.fill(0, at, at + INODE_BYTES);
  const d = new DataView(out.buffer, out.byteOffset + at, INODE_BYTES);
  d.setUint16(0x00, f.mode, true);
  d.setUint16(0x02, f.uid & 0xffff, true);
  d.setUint32(0x04, f.sizeBytes % 0x1_0000_0000, true);
  d.setUint32(0x08, tLo, true);
  d.setUint32(0x0c, tLo, true);
  d.setUint32(0x10, tLo, true);
  d.setUint16(0x18, f.gid & 0xffff, true);
  d.setUint16(0x1a, f.links, true);
  d.setUint32(0x1c, f.blocks512 % 0x1_0000_0000, true);
  d.setUint32(0x20, f.flags, true);
  out.set(f.iBlock, at + 0x28);
  const acl = f.fileAclBlock ?? 0;
  d.setUint32(0x68, acl % 0x1_0000_0000, true);
  d.setUint32(0x6c, Math.floor(f.sizeBytes / 0x1_0000_0000), true);
  d.setUint16(0x74, Math.floor(f.blocks512 / 0x1_0000_0000), true);
  d.setUint16(0x76, Math.floor(acl / 0x1_0000_0000), true);
  d.setUint16(0x78, f.uid >>> 16, true);
  d.setUint16(0x7a, f.gid >>> 16, true);
  d.setUint16(0x80, EXTRA_ISIZE, true);
  d.setUint32(0x84, tExtra, true);
  d.setUint32(0x88, tExtra, true);
  d.setUint32(0x8c, tExtra, true);
  d.setUint32(0x90, tLo, true);
  d.setUint32(0x94, tExtra, true);
  if (f.xattrSpace) out.set(f.xattrSpace, at + 0xa0);
  setInodeChecksum(out, at, ino, fsSeed);
}

/** Computes and stores the inode checksum (both halves must be zero on entry). */
export function setInodeChecksum(out: Uint8Array, at: number, ino: number, fsSeed: number): void {
  const csum = crc32cRaw(inodeCsumSeed(fsSeed, ino), out, at, at + INODE_BYTES);
  const d = new DataView(out.buffer, out.byteOffset + at, INODE_BYTES);
  d.setUint16(0x7c, csum & 0xffff, true);
  d.setUint16(0x82, csum >>> 16, true);
}
