/**
 * ext4 constants: magic numbers, feature bits, reserved inode numbers and the
 * fixed geometry mkdisk uses. Names follow Linux fs/ext4/ext4.h and
 * Documentation/filesystems/ext4 (kernel.org "ext4 Data Structures and Algorithms").
 */

export const BLOCK_BYTES = 4096;
export const LOG_BLOCK_SIZE = 2; // s_log_block_size: block = 1024 << 2
export const BLOCKS_PER_GROUP = 32768; // one 4 KiB bitmap block = 32768 bits
export const INODE_BYTES = 256;
export const INODES_PER_BLOCK = BLOCK_BYTES / INODE_BYTES; // 16
export const DESC_BYTES = 64; // 64bit feature: 64-byte group descriptors
export const FLEX_BG_LOG = 4; // s_log_groups_per_flex: 16 groups per flex group
export const FLEX_BG_GROUPS = 1 << FLEX_BG_LOG;
export const EXTRA_ISIZE = 32; // i_extra_isize: up to and including i_projid
export const INODE_RATIO_BYTES = 16384; // mke2fs.conf [defaults] inode_ratio
export const SUPERBLOCK_OFFSET_BYTES = 1024;

export const EXT4_SUPER_MAGIC = 0xef53;
export const EXT4_EXT_MAGIC = 0xf30a;
export const JBD2_MAGIC = 0xc03b3998;
export const JBD2_SUPERBLOCK_V2 = 4; // h_blocktype

/** Reserved inode numbers (ext4.h). */
export const EXT4_BAD_INO = 1;
export const EXT4_ROOT_INO = 2;
export const EXT4_JOURNAL_INO = 8;
export const EXT4_FIRST_INO = 11; // s_first_ino: first non-reserved inode
export const LOST_FOUND_INO = 11; // mke2fs convention

/** s_feature_compat */
export const COMPAT_HAS_JOURNAL = 0x0004;
export const COMPAT_EXT_ATTR = 0x0008;
export const COMPAT_DIR_INDEX = 0x0020;
/** s_feature_incompat */
export const INCOMPAT_FILETYPE = 0x0002;
export const INCOMPAT_EXTENTS = 0x0040;
export const INCOMPAT_64BIT = 0x0080;
export const INCOMPAT_FLEX_BG = 0x0200;
/** s_feature_ro_compat */
export const RO_COMPAT_SPARSE_SUPER = 0x0001;
export const RO_COMPAT_LARGE_FILE = 0x0002;
export const RO_COMPAT_HUGE_FILE = 0x0008;
export const RO_COMPAT_DIR_NLINK = 0x0020;
export const RO_COMPAT_EXTRA_ISIZE = 0x0040;
export const RO_COMPAT_METADATA_CSUM = 0x0400;

export const FEATURE_COMPAT = COMPAT_HAS_JOURNAL | COMPAT_EXT_ATTR | COMPAT_DIR_INDEX;
export const FEATURE_INCOMPAT = INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG;
export const FEATURE_RO_COMPAT =
  RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_HUGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_METADATA_CSUM;

/** s_flags */
export const EXT2_FLAGS_SIGNED_HASH = 0x0001;
/** s_default_mount_opts: mke2fs.conf default_mntopts = acl,user_xattr */
export const EXT4_DEFM_XATTR_USER = 0x0004;
export const EXT4_DEFM_ACL = 0x0008;
/** s_def_hash_version / dx_root_info.hash_version */
export const DX_HASH_HALF_MD4 = 1;
/** s_checksum_type */
export const EXT4_CRC32C_CHKSUM = 1;
/** s_jnl_backup_type */
export const EXT3_JNL_BACKUP_BLOCKS = 1;

/** bg_flags */
export const EXT4_BG_INODE_UNINIT = 0x0001;
export const EXT4_BG_INODE_ZEROED = 0x0004;

/** i_flags */
export const EXT4_INDEX_FL = 0x00001000;
export const EXT4_EXTENTS_FL = 0x00080000;

/** i_mode file type bits (S_IF*). */
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** ext4_dir_entry_2.file_type */
export const FT_REG_FILE = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;

/** Link counts above this are stored as 1 (dir_nlink). */
export const EXT4_LINK_MAX = 65000;
/** Longest initialized extent (ee_len <= 32768). */
export const EXT_INIT_MAX_LEN = 32768;
/** Symlink targets shorter than this live in i_block ("fast" symlinks). */
export const FAST_SYMLINK_MAX_BYTES = 59;
/** A symlink target must fit one block, NUL excluded (PATH_MAX-like limit of ext4). */
export const SYMLINK_MAX_BYTES = BLOCK_BYTES - 1;
