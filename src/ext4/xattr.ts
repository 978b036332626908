/**
 * ext4 extended attributes: the in-inode area, the shared xattr block, entry
 * and block hashes, and POSIX ACLs in ext4's compact on-disk form.
 * References: kernel fs/ext4/xattr.h, fs/ext4/xattr.c, fs/ext4/acl.h,
 * Documentation/filesystems/ext4/attributes.rst; e2fsprogs 1.47.0
 * lib/ext2fs/ext_attr.c (what e2fsck checks).
 *
 * In-inode area (inode bytes 128 + i_extra_isize .. 255, 96 bytes here):
 *   off len
 *   0x00  4  h_magic 0xEA020000 (struct ext4_xattr_ibody_header)
 *   0x04  …  entries, then a 4-byte zero terminator; values packed at the end
 *            of the inode, e_value_offs counted from the first entry (0x04).
 *
 * Xattr block (one 4 KiB block, i_file_acl points at it), struct ext4_xattr_header:
 *   0x00  4  h_magic      0xEA020000
 *   0x04  4  h_refcount   inodes pointing here (at most 1024, the kernel's
 *                         EXT4_XATTR_REFCOUNT_MAX for sharing)
 *   0x08  4  h_blocks     1
 *   0x0C  4  h_hash       block hash (below)
 *   0x10  4  h_checksum   crc32c(fsSeed, le64 block number ‖ block with h_checksum = 0)
 *   0x14 12  h_reserved
 *   0x20  …  entries, 4-byte zero terminator; values packed at the block end,
 *            e_value_offs counted from the block start.
 *
 * Entry, struct ext4_xattr_entry (16 bytes + name, padded to 4):
 *   0x00  1  e_name_len     name length without the prefix
 *   0x01  1  e_name_index   1 user., 2 system.posix_acl_access, 3 system.posix_acl_default,
 *                           4 trusted., 6 security.
 *   0x02  2  e_value_offs
 *   0x04  4  e_value_inum   0 (no ea_inode)
 *   0x08  4  e_value_size
 *   0x0C  4  e_hash         block entries: ext4_xattr_hash_entry; in-inode: 0
 *                           (as the kernel and e2fsprogs write them)
 *   0x10  …  e_name
 *
 * Entries are sorted by (index, name length, name bytes): the kernel's lookup
 * in a block stops at the first entry that sorts after the wanted name. Values
 * are placed in entry order from the end of the area downward, each padded to 4.
 *
 * Hashes (unsigned name bytes, as kernel 6.2+ and e2fsprogs 1.47 write them):
 *   entry: h = 0; per name byte h = (h << 5) ^ (h >>> 27) ^ byte;
 *          per le32 word of the zero-padded value h = (h << 16) ^ (h >>> 16) ^ word
 *   block: h = 0; per entry h = (h << 16) ^ (h >>> 16) ^ e_hash
 *
 * ACLs (system.posix_acl_*): the tree carries the Linux xattr form (le32
 * version 2, entries {le16 tag, le16 perm, le32 id}); ext4 stores le32
 * version 1 and 4-byte short entries {tag, perm} for USER_OBJ, GROUP_OBJ,
 * MASK and OTHER, 8-byte {tag, perm, id} for USER and GROUP.
 */
import { defineStruct } from "../bin/struct.js";
import { fail } from "../bin/errors.js";
import { compareBytes, utf8 } from "../bin/text.js";
import type { Xattr } from "../tree/types.js";
import { ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, ACL_USER_OBJ, POSIX_ACL_XATTR_VERSION } from "../tree/acl.js";
import { crc32cRaw } from "./csum.js";
import { BLOCK_BYTES, EXTRA_ISIZE, INODE_BYTES } from "./constants.js";

export const EXT4_XATTR_MAGIC = 0xea020000;
/** The kernel shares a block among at most this many inodes (EXT4_XATTR_REFCOUNT_MAX). */
export const XATTR_REFCOUNT_MAX = 1024;
/** In-inode area: after the 128-byte classic inode and i_extra_isize. */
export const IBODY_OFFSET = 128 + EXTRA_ISIZE;
export const IBODY_BYTES = INODE_BYTES - IBODY_OFFSET; // 96, magic included
const IBODY_STORAGE_BYTES = IBODY_BYTES - 4; // 92 after the magic
const BLOCK_HEADER_BYTES = 32;
const BLOCK_STORAGE_BYTES = BLOCK_BYTES - BLOCK_HEADER_BYTES;
const ENTRY_BYTES = 16;

export const XattrBlockHeader = defineStruct("Ext4XattrHeader", BLOCK_HEADER_BYTES, {
  h_magic: { off: 0x00, type: "u32le" },
  h_refcount: { off: 0x04, type: "u32le" },
  h_blocks: { off: 0x08, type: "u32le" },
  h_hash: { off: 0x0c, type: "u32le" },
  h_checksum: { off: 0x10, type: "u32le" },
  h_reserved: { off: 0x14, type: "bytes", len: 12 },
});

export const XattrEntry = defineStruct("Ext4XattrEntry", ENTRY_BYTES, {
  e_name_len: { off: 0x00, type: "u8" },
  e_name_index: { off: 0x01, type: "u8" },
  e_value_offs: { off: 0x02, type: "u16le" },
  e_value_inum: { off: 0x04, type: "u32le" },
  e_value_size: { off: 0x08, type: "u32le" },
  e_hash: { off: 0x0c, type: "u32le" },
});

/** Name indexes, kernel fs/ext4/xattr.h EXT4_XATTR_INDEX_*. Exact names first. */
const NAME_INDEX: ReadonlyArray<readonly [string, number, boolean]> = [
  ["system.posix_acl_access", 2, true],
  ["system.posix_acl_default", 3, true],
  ["user.", 1, false],
  ["trusted.", 4, false],
  ["security.", 6, false],
];
export const XATTR_INDEX_POSIX_ACL_ACCESS = 2;
export const XATTR_INDEX_POSIX_ACL_DEFAULT = 3;

/** One attribute as stored: index, name suffix, on-disk value. */
export interface DiskXattr {
  readonly index: number;
  readonly name: Uint8Array;
  readonly value: Uint8Array;
  /** The full name, for messages. */
  readonly fullName: string;
}

const pad4 = (n: number) => (n + 3) & ~3;
/** Bytes an entry takes in the entry table (EXT4_XATTR_LEN). */
const entryLen = (x: DiskXattr) => pad4(ENTRY_BYTES + x.name.length);
/** Bytes a value takes (EXT4_XATTR_SIZE). */
const valueLen = (x: DiskXattr) => pad4(x.value.length);

/** Splits a full name into (index, suffix); refuses names ext4 cannot store or the kernel would not return. */
export function splitXattrName(full: string, where: string): { index: number; name: Uint8Array } {
  for (const [prefix, index, exact] of NAME_INDEX) {
    if (exact ? full === prefix : full.startsWith(prefix)) {
      const name = utf8(full.slice(exact ? full.length : prefix.length));
      if (!exact && name.length === 0) fail("E_TREE", `extended attribute "${full}" has an empty name after the prefix`, where);
      if (name.length > 255) fail("E_TREE", `extended attribute name "${full}" is longer than 255 bytes after the prefix`, where);
      return { index, name };
    }
  }
  fail("E_UNSUPPORTED", `extended attribute "${full}": ext4 stores user.*, trusted.*, security.* and system.posix_acl_access/default only`, where);
}

const EXT4_ACL_VERSION = 1;

/**
 * Linux xattr ACL → ext4 on-disk ACL. The entry order must be what the kernel
 * accepts (posix_acl_valid): USER_OBJ, USER by id, GROUP_OBJ, GROUP by id,
 * MASK (required with USER/GROUP entries), OTHER.
 */
export function aclToDisk(value: Uint8Array, where: string): Uint8Array {
  const bad = (why: string): never => fail("E_TREE", `POSIX ACL value is not valid (${why})`, where);
  if (value.length < 4 || (value.length - 4) % 8 !== 0) bad(`${value.length} bytes; expected 4 + 8 per entry`);
  const d = new DataView(value.buffer, value.byteOffset, value.length);
  if (d.getUint32(0, true) !== POSIX_ACL_XATTR_VERSION) bad(`version ${d.getUint32(0, true)}, expected 2`);
  const count = (value.length - 4) / 8;
  if (count === 0) bad("no entries");
  const rank: Record<number, number> = { [ACL_USER_OBJ]: 0, [ACL_USER]: 1, [ACL_GROUP_OBJ]: 2, [ACL_GROUP]: 3, [ACL_MASK]: 4, [ACL_OTHER]: 5 };
  let outLen = 4;
  let prevRank = -1;
  let prevId = -1;
  const seen = new Set<number>();
  for (let k = 0; k < count; k++) {
    const tag = d.getUint16(4 + k * 8, true);
    const perm = d.getUint16(6 + k * 8, true);
    const id = d.getUint32(8 + k * 8, true);
    const r = rank[tag];
    if (r === undefined) bad(`unknown tag 0x${tag.toString(16)}`);
    if (perm & ~7) bad(`permission bits 0x${perm.toString(16)}`);
    if (r < prevRank) bad("entries out of order");
    const named = tag === ACL_USER || tag === ACL_GROUP;
    if (named) {
      if (r === prevRank && id <= prevId) bad("named entries not in ascending id order");
      prevId = id;
    } else {
      if (seen.has(tag)) bad(`tag 0x${tag.toString(16)} twice`);
      prevId = -1;
    }
    seen.add(tag);
    prevRank = r;
    outLen += named ? 8 : 4;
  }
  if (!seen.has(ACL_USER_OBJ) || !seen.has(ACL_GROUP_OBJ) || !seen.has(ACL_OTHER)) bad("USER_OBJ, GROUP_OBJ and OTHER are required");
  if ((seen.has(ACL_USER) || seen.has(ACL_GROUP)) && !seen.has(ACL_MASK)) bad("named entries need a MASK entry");
  const out = new Uint8Array(outLen);
  const o = new DataView(out.buffer);
  o.setUint32(0, EXT4_ACL_VERSION, true);
  let at = 4;
  for (let k = 0; k < count; k++) {
    const tag = d.getUint16(4 + k * 8, true);
    o.setUint16(at, tag, true);
    o.setUint16(at + 2, d.getUint16(6 + k * 8, true), true);
    if (tag === ACL_USER || tag === ACL_GROUP) {
      o.setUint32(at + 4, d.getUint32(8 + k * 8, true), true);
      at += 8;
    } else at += 4;
  }
  return out;
}

/** Sort order of the kernel's sorted lookup: index, then name length, then name bytes. */
export function compareDiskXattr(a: DiskXattr, b: DiskXattr): number {
  return a.index - b.index || a.name.length - b.name.length || compareBytes(a.name, b.name);
}

/** vfs_cap_data revisions and their sizes (include/uapi/linux/capability.h). */
const CAP_SIZES: Record<number, number> = { 1: 12, 2: 20, 3: 24 };
const VFS_CAP_FLAGS_EFFECTIVE = 0x1;

/**
 * security.capability must be a vfs_cap_data the kernel reads
 * (get_vfs_caps_from_disk): a revision 1, 2 or 3 header and exactly that
 * revision's size. A malformed one would be stored as given and make every
 * exec of the file fail, so it is refused here.
 */
export function checkCapability(value: Uint8Array, where: string): void {
  const bad = (why: string): never => fail("E_TREE", `security.capability is not a valid vfs_cap_data (${why}); the kernel would refuse to run this file`, where);
  if (value.length < 4) bad(`${value.length} bytes`);
  const magic = new DataView(value.buffer, value.byteOffset, value.length).getUint32(0, true);
  const revision = magic >>> 24;
  const size = CAP_SIZES[revision];
  if (size === undefined) bad(`revision ${revision}; expected 1, 2 or 3`);
  if (value.length !== size) bad(`${value.length} bytes for revision ${revision}, which has ${size}`);
  if (magic & 0x00ffffff & ~VFS_CAP_FLAGS_EFFECTIVE) bad(`flags 0x${(magic & 0x00ffffff).toString(16)}`);
}

/** Tree xattrs → on-disk attributes, validated and sorted. */
export function toDiskXattrs(xattrs: readonly Xattr[], where: string): DiskXattr[] {
  const out: DiskXattr[] = [];
  for (const x of xattrs) {
    const w = `${where} (xattr ${x.name})`;
    const { index, name } = splitXattrName(x.name, w);
    if (x.name === "security.capability") checkCapability(x.value, w);
    const value = index === XATTR_INDEX_POSIX_ACL_ACCESS || index === XATTR_INDEX_POSIX_ACL_DEFAULT ? aclToDisk(x.value, w) : x.value;
    out.push({ index, name, value, fullName: x.name });
  }
  out.sort(compareDiskXattr);
  for (let k = 1; k < out.length; k++) if (compareDiskXattr(out[k - 1], out[k]) === 0) fail("E_TREE", `extended attribute ${out[k].fullName} is given twice`, where);
  return out;
}

/** Bytes the attributes take in an area: entries + 4-byte terminator + values. */
function areaBytes(xs: readonly DiskXattr[]): number {
  let n = 4;
  for (const x of xs) n += entryLen(x) + valueLen(x);
  return n;
}

/** Where one inode's attributes go. */
export interface XattrSplit {
  /** Attributes stored in the inode (may be empty). */
  ibody: DiskXattr[];
  /** Attributes stored in the xattr block (empty: no block). */
  block: DiskXattr[];
}

/**
 * Deterministic split: in sort order, each attribute goes into the inode when
 * it still fits there, else into the block. Refuses what fits neither (no
 * ea_inode feature: a value must fit one block).
 */
export function splitXattrs(xs: readonly DiskXattr[], where: string): XattrSplit {
  const ibody: DiskXattr[] = [];
  const block: DiskXattr[] = [];
  let used = 4;
  for (const x of xs) {
    const need = entryLen(x) + valueLen(x);
    if (used + need <= IBODY_STORAGE_BYTES) {
      ibody.push(x);
      used += need;
    } else {
      if (4 + need > BLOCK_STORAGE_BYTES) {
        fail("E_UNSUPPORTED", `extended attribute ${x.fullName} has a ${x.value.length}-byte value; without ea_inode an ext4 xattr must fit one 4 KiB block (at most ${BLOCK_STORAGE_BYTES - 4 - entryLen(x)} bytes with this name)`, where);
      }
      block.push(x);
    }
  }
  if (block.length && areaBytes(block) > BLOCK_STORAGE_BYTES) {
    fail("E_UNSUPPORTED", `extended attributes need ${areaBytes(block) + areaBytes(ibody) - 4} bytes; ext4 without ea_inode holds ${IBODY_STORAGE_BYTES} in the inode plus ${BLOCK_STORAGE_BYTES} in one xattr block`, where);
  }
  return { ibody, block };
}

/** ext4_xattr_hash_entry over the name and the value as stored (zero-padded le32 words). */
export function xattrEntryHash(x: DiskXattr): number {
  let h = 0;
  for (const c of x.name) h = ((h << 5) ^ (h >>> 27) ^ c) >>> 0;
  const words = valueLen(x) / 4;
  for (let k = 0; k < words; k++) {
    const i = k * 4;
    const v = x.value;
    const w = ((v[i] ?? 0) | ((v[i + 1] ?? 0) << 8) | ((v[i + 2] ?? 0) << 16) | ((v[i + 3] ?? 0) << 24)) >>> 0;
    h = ((h << 16) ^ (h >>> 16) ^ w) >>> 0;
  }
  return h;
}

/**
 * Writes entries + terminator at `out[start..]` and values downward from
 * `out[end]`; value offsets are counted from `offsBase`. Returns the entry hashes.
 */
function writeArea(xs: readonly DiskXattr[], out: Uint8Array, start: number, end: number, offsBase: number, withHash: boolean): number[] {
  let e = start;
  let v = end;
  const hashes: number[] = [];
  for (const x of xs) {
    let offs = 0;
    if (x.value.length > 0) {
      v -= valueLen(x);
      out.set(x.value, v); // padding bytes stay zero
      offs = v - offsBase;
    }
    const hash = withHash ? xattrEntryHash(x) : 0;
    hashes.push(hash);
    XattrEntry.encodeInto({ e_name_len: x.name.length, e_name_index: x.index, e_value_offs: offs, e_value_inum: 0, e_value_size: x.value.length, e_hash: hash }, out, e);
    out.set(x.name, e + ENTRY_BYTES);
    e += entryLen(x);
  }
  if (e + 4 > v) fail("E_INTERNAL", `xattr area overflow`, "ext4 xattr");
  return hashes;
}

/** The 96-byte in-inode area (magic, entries, values), or undefined when there are no in-inode attributes. */
export function encodeIbody(xs: readonly DiskXattr[]): Uint8Array | undefined {
  if (xs.length === 0) return undefined;
  const out = new Uint8Array(IBODY_BYTES);
  new DataView(out.buffer).setUint32(0, EXT4_XATTR_MAGIC, true);
  writeArea(xs, out, 4, IBODY_BYTES, 4, false);
  return out;
}

/** One xattr block: header (refcount, hash, checksum for block `blockNr`), entries, values. */
export function encodeXattrBlock(xs: readonly DiskXattr[], refcount: number, blockNr: number, fsSeed: number): Uint8Array {
  const out = new Uint8Array(BLOCK_BYTES);
  const hashes = writeArea(xs, out, BLOCK_HEADER_BYTES, BLOCK_BYTES, 0, true);
  let h = 0;
  for (const eh of hashes) {
    if (eh === 0) {
      h = 0; // the kernel's ext4_xattr_rehash gives up on a zero entry hash
      break;
    }
    h = ((h << 16) ^ (h >>> 16) ^ eh) >>> 0;
  }
  XattrBlockHeader.encodeInto({ h_magic: EXT4_XATTR_MAGIC, h_refcount: refcount, h_blocks: 1, h_hash: h, h_checksum: 0 }, out, 0);
  new DataView(out.buffer).setUint32(0x10, xattrBlockChecksum(out, blockNr, fsSeed), true);
  return out;
}

/** ext4_xattr_block_csum: crc32c(fsSeed, le64 block number ‖ block with h_checksum read as zero). */
export function xattrBlockChecksum(block: Uint8Array, blockNr: number, fsSeed: number): number {
  const nr = new Uint8Array(8);
  const d = new DataView(nr.buffer);
  d.setUint32(0, blockNr % 0x1_0000_0000, true);
  d.setUint32(4, Math.floor(blockNr / 0x1_0000_0000), true);
  let c = crc32cRaw(fsSeed, nr);
  c = crc32cRaw(c, block, 0, 0x10);
  c = crc32cRaw(c, new Uint8Array(4));
  return crc32cRaw(c, block, 0x14, BLOCK_BYTES);
}

/** A dedup key for a block's attribute list: equal keys give byte-identical blocks (before refcount/checksum). */
export function xattrBlockKey(xs: readonly DiskXattr[]): string {
  const parts: string[] = [];
  for (const x of xs) parts.push(`${x.index}:${x.name.length}:${latin1(x.name)}${x.value.length}:${latin1(x.value)}`);
  return parts.join("");
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}
