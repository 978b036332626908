/**
 * The internal journal (inode 8): a jbd2 superblock in its first block, the
 * rest zero. kernel Documentation/filesystems/ext4/journal.rst
 * (journal_superblock_t). BIG-endian, unlike the rest of ext4.
 *
 *  off  field                     off  field
 *  0x00 h_magic 0xC03B3998        0x24 s_feature_compat
 *  0x04 h_blocktype 4 (sb v2)     0x28 s_feature_incompat
 *  0x08 h_sequence                0x2C s_feature_ro_compat
 *  0x0C s_blocksize               0x30 s_uuid[16]
 *  0x10 s_maxlen (blocks)         0x40 s_nr_users
 *  0x14 s_first (1)               0x44 s_dynsuper
 *  0x18 s_sequence (first tid)    0x48 s_max_transaction
 *  0x1C s_start (0 = clean)       0x4C s_max_trans_data
 *  0x20 s_errno                   0x50 s_checksum_type u8, 3 bytes padding
 *                                 0x54 s_num_fc_blks, 0x58 s_head,
 *                                 0x5C padding[40], 0xFC s_checksum,
 *                                 0x100 s_users[16*48]
 *
 * As mke2fs 1.47.0 writes it for an internal journal: no journal features
 * (no checksums; the kernel turns on what it needs at mount), s_uuid = the
 * file system UUID, one user, s_users all zero. Clean: s_start = 0, and
 * s_sequence = 1 (mkdisk's fixed first transaction id).
 */
import { defineStruct } from "../bin/struct.js";
import { BLOCK_BYTES, JBD2_MAGIC, JBD2_SUPERBLOCK_V2 } from "./constants.js";

export const JournalSuperblock = defineStruct("Jbd2Superblock", 1024, {
  h_magic: { off: 0x00, type: "u32be" },
  h_blocktype: { off: 0x04, type: "u32be" },
  h_sequence: { off: 0x08, type: "u32be" },
  s_blocksize: { off: 0x0c, type: "u32be" },
  s_maxlen: { off: 0x10, type: "u32be" },
  s_first: { off: 0x14, type: "u32be" },
  s_sequence: { off: 0x18, type: "u32be" },
  s_start: { off: 0x1c, type: "u32be" },
  s_errno: { off: 0x20, type: "u32be" },
  s_feature_compat: { off: 0x24, type: "u32be" },
  s_feature_incompat: { off: 0x28, type: "u32be" },
  s_feature_ro_compat: { off: 0x2c, type: "u32be" },
  s_uuid: { off: 0x30, type: "bytes", len: 16 },
  s_nr_users: { off: 0x40, type: "u32be" },
  s_dynsuper: { off: 0x44, type: "u32be" },
  s_max_transaction: { off: 0x48, type: "u32be" },
  s_max_trans_data: { off: 0x4c, type: "u32be" },
  s_checksum_type: { off: 0x50, type: "u8" },
  s_padding2: { off: 0x51, type: "bytes", len: 3 },
  s_num_fc_blks: { off: 0x54, type: "u32be" },
  s_head: { off: 0x58, type: "u32be" },
  s_padding: { off: 0x5c, type: "bytes", len: 0xfc - 0x5c },
  s_checksum: { off: 0xfc, type: "u32be" },
  s_users: { off: 0x100, type: "bytes", len: 16 * 48 },
});

export const JOURNAL_FIRST_SEQUENCE = 1;

export function encodeJournalSuperblock(journalBlocks: number, fsUuid: Uint8Array): Uint8Array {
  return JournalSuperblock.encode({
    h_magic: JBD2_MAGIC,
    h_blocktype: JBD2_SUPERBLOCK_V2,
    h_sequence: 0,
    s_blocksize: BLOCK_BYTES,
    s_maxlen: journalBlocks,
    s_first: 1,
    s_sequence: JOURNAL_FIRST_SEQUENCE,
    s_start: 0,
    s_uuid: fsUuid,
    s_nr_users: 1,
  });
}

/** Filesystem sizes in blocks at which defaultJournalBlocks steps up. */
export const JOURNAL_STEP_BLOCKS: readonly number[] = [32768, 256 * 1024, 512 * 1024, 4096 * 1024, 8192 * 1024, 16384 * 1024, 32768 * 1024];

/**
 * Journal size in blocks for a file system of `blocks` 4 KiB blocks: the
 * table of e2fsprogs 1.47.0 ext2fs_default_journal_size() (checked against
 * mke2fs output in the tests). Below 2048 blocks mke2fs makes no journal;
 * mkdisk refuses such a small file system instead (has_journal is required).
 */
export function defaultJournalBlocks(blocks: number): number {
  if (blocks < 2048) return -1;
  if (blocks < 32768) return 1024; // < 128 MiB: 4 MiB
  if (blocks < 256 * 1024) return 4096; // < 1 GiB: 16 MiB
  if (blocks < 512 * 1024) return 8192; // < 2 GiB: 32 MiB
  if (blocks < 4096 * 1024) return 16384; // < 16 GiB: 64 MiB
  if (blocks < 8192 * 1024) return 32768; // < 32 GiB: 128 MiB
  if (blocks < 16384 * 1024) return 65536; // < 64 GiB: 256 MiB
  if (blocks < 32768 * 1024) return 131072; // < 128 GiB: 512 MiB
  return 262144; // 1 GiB
}
