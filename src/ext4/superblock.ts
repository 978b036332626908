/**
 * ext4 superblock, kernel Documentation/filesystems/ext4/super.rst
 * (struct ext4_super_block). Little-endian, 1024 bytes at byte 1024 of the
 * file system; backups at the start of groups 1 and powers of 3, 5, 7
 * (sparse_super), where s_block_group_nr names the group.
 *
 *  off  field                     off  field
 *  0x00 s_inodes_count            0x100 s_default_mount_opts
 *  0x04 s_blocks_count_lo         0x108 s_mkfs_time
 *  0x38 s_magic 0xEF53            0x10C s_jnl_blocks[17]
 *  0x5C s_feature_compat          0x150 s_blocks_count_hi
 *  0x68 s_uuid[16]                0x174 s_log_groups_per_flex
 *  0x78 s_volume_name[16]         0x248 s_overhead_clusters
 *  0xEC s_hash_seed[4]            0x3FC s_checksum (crc32c of 0x000..0x3FB)
 */
import { defineStruct } from "../bin/struct.js";
import { crc32cRaw } from "./csum.js";

export const Superblock = defineStruct("Ext4Superblock", 1024, {
  s_inodes_count: { off: 0x00, type: "u32le" },
  s_blocks_count_lo: { off: 0x04, type: "u32le" },
  s_r_blocks_count_lo: { off: 0x08, type: "u32le" },
  s_free_blocks_count_lo: { off: 0x0c, type: "u32le" },
  s_free_inodes_count: { off: 0x10, type: "u32le" },
  s_first_data_block: { off: 0x14, type: "u32le" },
  s_log_block_size: { off: 0x18, type: "u32le" },
  s_log_cluster_size: { off: 0x1c, type: "u32le" },
  s_blocks_per_group: { off: 0x20, type: "u32le" },
  s_clusters_per_group: { off: 0x24, type: "u32le" },
  s_inodes_per_group: { off: 0x28, type: "u32le" },
  s_mtime: { off: 0x2c, type: "u32le" },
  s_wtime: { off: 0x30, type: "u32le" },
  s_mnt_count: { off: 0x34, type: "u16le" },
  s_max_mnt_count: { off: 0x36, type: "u16le" },
  s_magic: { off: 0x38, type: "u16le" },
  s_state: { off: 0x3a, type: "u16le" },
  s_errors: { off: 0x3c, type: "u16le" },
  s_minor_rev_level: { off: 0x3e, type: "u16le" },
  s_lastcheck: { off: 0x40, type: "u32le" },
  s_checkinterval: { off: 0x44, type: "u32le" },
  s_creator_os: { off: 0x48, type: "u32le" },
  s_rev_level: { off: 0x4c, type: "u32le" },
  s_def_resuid: { off: 0x50, type: "u16le" },
  s_def_resgid: { off: 0x52, type: "u16le" },
  s_first_ino: { off: 0x54, type: "u32le" },
  s_inode_size: { off: 0x58, type: "u16le" },
  s_block_group_nr: { off: 0x5a, type: "u16le" },
  s_feature_compat: { off: 0x5c, type: "u32le" },
  s_feature_incompat: { off: 0x60, type: "u32le" },
  s_feature_ro_compat: { off: 0x64, type: "u32le" },
  s_uuid: { off: 0x68, type: "bytes", len: 16 },
  s_volume_name: { off: 0x78, type: "bytes", len: 16 },
  s_last_mounted: { off: 0x88, type: "bytes", len: 64 },
  s_algorithm_usage_bitmap: { off: 0xc8, type: "u32le" },
  s_prealloc_blocks: { off: 0xcc, type: "u8" },
  s_prealloc_dir_blocks: { off: 0xcd, type: "u8" },
  s_reserved_gdt_blocks: { off: 0xce, type: "u16le" },
  s_journal_uuid: { off: 0xd0, type: "bytes", len: 16 },
  s_journal_inum: { off: 0xe0, type: "u32le" },
  s_journal_dev: { off: 0xe4, type: "u32le" },
  s_last_orphan: { off: 0xe8, type: "u32le" },
  s_hash_seed: { off: 0xec, type: "bytes", len: 16 },
  s_def_hash_version: { off: 0xfc, type: "u8" },
  s_jnl_backup_type: { off: 0xfd, type: "u8" },
  s_desc_size: { off: 0xfe, type: "u16le" },
  s_default_mount_opts: { off: 0x100, type: "u32le" },
  s_first_meta_bg: { off: 0x104, type: "u32le" },
  s_mkfs_time: { off: 0x108, type: "u32le" },
  s_jnl_blocks: { off: 0x10c, type: "bytes", len: 68 }, // 17 x le32
  s_blocks_count_hi: { off: 0x150, type: "u32le" },
  s_r_blocks_count_hi: { off: 0x154, type: "u32le" },
  s_free_blocks_count_hi: { off: 0x158, type: "u32le" },
  s_min_extra_isize: { off: 0x15c, type: "u16le" },
  s_want_extra_isize: { off: 0x15e, type: "u16le" },
  s_flags: { off: 0x160, type: "u32le" },
  s_raid_stride: { off: 0x164, type: "u16le" },
  s_mmp_interval: { off: 0x166, type: "u16le" },
  s_mmp_block: { off: 0x168, type: "u64le" },
  s_raid_stripe_width: { off: 0x170, type: "u32le" },
  s_log_groups_per_flex: { off: 0x174, type: "u8" },
  s_checksum_type: { off: 0x175, type: "u8" },
  s_encryption_level: { off: 0x176, type: "u8" },
  s_reserved_pad: { off: 0x177, type: "u8" },
  s_kbytes_written: { off: 0x178, type: "u64le" },
  s_snapshot_inum: { off: 0x180, type: "u32le" },
  s_snapshot_id: { off: 0x184, type: "u32le" },
  s_snapshot_r_blocks_count: { off: 0x188, type: "u64le" },
  s_snapshot_list: { off: 0x190, type: "u32le" },
  s_error_count: { off: 0x194, type: "u32le" },
  s_first_error_time: { off: 0x198, type: "u32le" },
  s_first_error_ino: { off: 0x19c, type: "u32le" },
  s_first_error_block: { off: 0x1a0, type: "u64le" },
  s_first_error_func: { off: 0x1a8, type: "bytes", len: 32 },
  s_first_error_line: { off: 0x1c8, type: "u32le" },
  s_last_error_time: { off: 0x1cc, type: "u32le" },
  s_last_error_ino: { off: 0x1d0, type: "u32le" },
  s_last_error_line: { off: 0x1d4, type: "u32le" },
  s_last_error_block: { off: 0x1d8, type: "u64le" },
  s_last_error_func: { off: 0x1e0, type: "bytes", len: 32 },
  s_mount_opts: { off: 0x200, type: "bytes", len: 64 },
  s_usr_quota_inum: { off: 0x240, type: "u32le" },
  s_grp_quota_inum: { off: 0x244, type: "u32le" },
  s_overhead_clusters: { off: 0x248, type: "u32le" },
  s_backup_bgs: { off: 0x24c, type: "bytes", len: 8 },
  s_encrypt_algos: { off: 0x254, type: "bytes", len: 4 },
  s_encrypt_pw_salt: { off: 0x258, type: "bytes", len: 16 },
  s_lpf_ino: { off: 0x268, type: "u32le" },
  s_prj_quota_inum: { off: 0x26c, type: "u32le" },
  s_checksum_seed: { off: 0x270, type: "u32le" },
  s_wtime_hi: { off: 0x274, type: "u8" },
  s_mtime_hi: { off: 0x275, type: "u8" },
  s_mkfs_time_hi: { off: 0x276, type: "u8" },
  s_lastcheck_hi: { off: 0x277, type: "u8" },
  s_first_error_time_hi: { off: 0x278, type: "u8" },
  s_last_error_time_hi: { off: 0x279, type: "u8" },
  s_first_error_errcode: { off: 0x27a, type: "u8" },
  s_last_error_errcode: { off: 0x27b, type: "u8" },
  s_encoding: { off: 0x27c, type: "u16le" },
  s_encoding_flags: { off: 0x27e, type: "u16le" },
  s_orphan_file_inum: { off: 0x280, type: "u32le" },
  s_reserved: { off: 0x284, type: "bytes", len: 0x3fc - 0x284 },
  s_checksum: { off: 0x3fc, type: "u32le" },
});

export type SuperblockValues = Parameters<typeof Superblock.encode>[0];

/** Encodes the superblock and fills s_checksum = ext4_chksum(~0, sb[0..0x3FC)). */
export function encodeSuperblock(values: SuperblockValues): Uint8Array {
  const sb = Superblock.encode({ ...values, s_checksum: 0 });
  const csum = crc32cRaw(0xffffffff, sb, 0, 0x3fc);
  new DataView(sb.buffer, sb.byteOffset, sb.byteLength).setUint32(0x3fc, csum, true);
  return sb;
}
