/**
 * metadata_csum checksums (kernel Documentation/filesystems/ext4/checksums.rst).
 *
 * Every ext4 checksum is CRC32C computed the way the kernel's ext4_chksum()
 * does: crc32c_le(seed, data) with NO final inversion. The filesystem seed is
 *   csumSeed = ext4_chksum(~0, s_uuid)           (s_checksum_seed is unused:
 *                                                 no metadata_csum_seed feature)
 * and per-inode structures (extent blocks, directory blocks) use
 *   inodeSeed = ext4_chksum(ext4_chksum(csumSeed, le32 ino), le32 i_generation).
 *
 *   superblock       ext4_chksum(~0, sb[0..0x3FC))                        32 bits
 *   group descriptor ext4_chksum(csumSeed, le32 group ‖ desc with bg_checksum = 0) & 0xFFFF
 *   bitmaps          ext4_chksum(csumSeed, bitmap bytes) (lo 16 / hi 16 in the descriptor)
 *   inode            ext4_chksum(inodeSeed, inode with both checksum halves = 0)
 *   extent block     ext4_chksum(inodeSeed, block up to the ext4_extent_tail)
 *   dir leaf block   ext4_chksum(inodeSeed, block up to the 12-byte dirent tail)
 *   htree node       ext4_chksum(inodeSeed, block[0 .. count_offset + count*8) ‖ dt_reserved ‖ 0u32)
 */
import { crc32cRaw } from "../bin/crc.js";

const u32buf = new Uint8Array(4);
const u32view = new DataView(u32buf.buffer);

/** ext4_chksum(seed, le32 value). */
export function chksumLe32(seed: number, value: number): number {
  u32view.setUint32(0, value >>> 0, true);
  return crc32cRaw(seed, u32buf);
}

/** The filesystem checksum seed: crc32c(~0, uuid), not inverted. */
export function fsCsumSeed(uuid: Uint8Array): number {
  return crc32cRaw(0xffffffff, uuid);
}

/** Seed for checksums of structures owned by inode `ino` (generation is always 0 here). */
export function inodeCsumSeed(fsSeed: number, ino: number, generation = 0): number {
  return chksumLe32(chksumLe32(fsSeed, ino), generation);
}

export { crc32cRaw };
