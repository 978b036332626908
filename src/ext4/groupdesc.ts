/**
 * ext4 group descriptor, 64 bytes (64bit feature), kernel
 * Documentation/filesystems/ext4/group_descr.rst (struct ext4_group_desc).
 * Little-endian. The table follows the primary superblock (block 1 with 4 KiB
 * blocks) and is copied after every backup superblock.
 *
 *  off  field                       off  field
 *  0x00 bg_block_bitmap_lo          0x20 bg_block_bitmap_hi
 *  0x04 bg_inode_bitmap_lo          0x24 bg_inode_bitmap_hi
 *  0x08 bg_inode_table_lo           0x28 bg_inode_table_hi
 *  0x0C bg_free_blocks_count_lo     0x2C bg_free_blocks_count_hi
 *  0x0E bg_free_inodes_count_lo     0x2E bg_free_inodes_count_hi
 *  0x10 bg_used_dirs_count_lo       0x30 bg_used_dirs_count_hi
 *  0x12 bg_flags                    0x32 bg_itable_unused_hi
 *  0x14 bg_exclude_bitmap_lo        0x34 bg_exclude_bitmap_hi
 *  0x18 bg_block_bitmap_csum_lo     0x38 bg_block_bitmap_csum_hi
 *  0x1A bg_inode_bitmap_csum_lo     0x3A bg_inode_bitmap_csum_hi
 *  0x1C bg_itable_unused_lo         0x3C bg_reserved
 *  0x1E bg_checksum (crc32c(seed, le32 group ‖ descriptor with bg_checksum = 0) & 0xFFFF)
 */
import { defineStruct } from "../bin/struct.js";
import { chksumLe32, crc32cRaw } from "./csum.js";
import { DESC_BYTES } from "./constants.js";

export const GroupDesc = defineStruct("Ext4GroupDesc", DESC_BYTES, {
  bg_block_bitmap_lo: { off: 0x00, type: "u32le" },
  bg_inode_bitmap_lo: { off: 0x04, type: "u32le" },
  bg_inode_table_lo: { off: 0x08, type: "u32le" },
  bg_free_blocks_count_lo: { off: 0x0c, type: "u16le" },
  bg_free_inodes_count_lo: { off: 0x0e, type: "u16le" },
  bg_used_dirs_count_lo: { off: 0x10, type: "u16le" },
  bg_flags: { off: 0x12, type: "u16le" },
  bg_exclude_bitmap_lo: { off: 0x14, type: "u32le" },
  bg_block_bitmap_csum_lo: { off: 0x18, type: "u16le" },
  bg_inode_bitmap_csum_lo: { off: 0x1a, type: "u16le" },
  bg_itable_unused_lo: { off: 0x1c, type: "u16le" },
  bg_checksum: { off: 0x1e, type: "u16le" },
  bg_block_bitmap_hi: { off: 0x20, type: "u32le" },
  bg_inode_bitmap_hi: { off: 0x24, type: "u32le" },
  bg_inode_table_hi: { off: 0x28, type: "u32le" },
  bg_free_blocks_count_hi: { off: 0x2c, type: "u16le" },
  bg_free_inodes_count_hi: { off: 0x2e, type: "u16le" },
  bg_used_dirs_count_hi: { off: 0x30, type: "u16le" },
  bg_itable_unused_hi: { off: 0x32, type: "u16le" },
  bg_exclude_bitmap_hi: { off: 0x34, type: "u32le" },
  bg_block_bitmap_csum_hi: { off: 0x38, type: "u16le" },
  bg_inode_bitmap_csum_hi: { off: 0x3a, type: "u16le" },
  bg_reserved: { off: 0x3c, type: "u32le" },
});

export interface GroupDescInfo {
  blockBitmapBlock: number;
  inodeBitmapBlock: number;
  inodeTableBlock: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
  itableUnused: number;
  blockBitmapCsum: number;
  inodeBitmapCsum: number;
}

const lo32 = (v: number) => v % 0x1_0000_0000;
const hi32 = (v: number) => Math.floor(v / 0x1_0000_0000);
const lo16 = (v: number) => v & 0xffff;
const hi16 = (v: number) => Math.floor(v / 0x10000);

/** Encodes group `group`'s descriptor into out[at..at+64), checksum included. */
export function encodeGroupDesc(g: GroupDescInfo, group: number, fsSeed: number, out: Uint8Array, at: number): void {
  GroupDesc.encodeInto(
    {
      bg_block_bitmap_lo: lo32(g.blockBitmapBlock),
      bg_inode_bitmap_lo: lo32(g.inodeBitmapBlock),
      bg_inode_table_lo: lo32(g.inodeTableBlock),
      bg_free_blocks_count_lo: lo16(g.freeBlocks),
      bg_free_inodes_count_lo: lo16(g.freeInodes),
      bg_used_dirs_count_lo: lo16(g.usedDirs),
      bg_flags: g.flags,
      bg_block_bitmap_csum_lo: lo16(g.blockBitmapCsum),
      bg_inode_bitmap_csum_lo: lo16(g.inodeBitmapCsum),
      bg_itable_unused_lo: lo16(g.itableUnused),
      bg_checksum: 0,
      bg_block_bitmap_hi: hi32(g.blockBitmapBlock),
      bg_inode_bitmap_hi: hi32(g.inodeBitmapBlock),
      bg_inode_table_hi: hi32(g.inodeTableBlock),
      bg_free_blocks_count_hi: hi16(g.freeBlocks),
      bg_free_inodes_count_hi: hi16(g.freeInodes),
      bg_used_dirs_count_hi: hi16(g.usedDirs),
      bg_itable_unused_hi: hi16(g.itableUnused),
      bg_block_bitmap_csum_hi: hi16(g.blockBitmapCsum),
      bg_inode_bitmap_csum_hi: hi16(g.inodeBitmapCsum),
    },
    out,
    at,
  );
  const csum = crc32cRaw(chksumLe32(fsSeed, group), out, at, at + DESC_BYTES) & 0xffff;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint16(at + 0x1e, csum, true);
}
