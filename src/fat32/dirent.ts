/**
 * FAT directory entries, fatgen103 §6 (short entries) and §7 (long-name
 * entries). Little-endian, 32 bytes each.
 *
 * Short entry:
 *   off len field
 *  0x00  11 DIR_Name          8.3 name, upper case, space padded
 *  0x0B   1 DIR_Attr          ATTR_* below
 *  0x0C   1 DIR_NTRes         case bits (0x08 base lower, 0x10 ext lower)
 *  0x0D   1 DIR_CrtTimeTenth  0..199: hundredths of seconds beyond DIR_CrtTime
 *  0x0E   2 DIR_CrtTime
 *  0x10   2 DIR_CrtDate
 *  0x12   2 DIR_LstAccDate
 *  0x14   2 DIR_FstClusHI     high 16 bits of the first cluster
 *  0x16   2 DIR_WrtTime
 *  0x18   2 DIR_WrtDate
 *  0x1A   2 DIR_FstClusLO     low 16 bits of the first cluster
 *  0x1C   4 DIR_FileSize      0 for directories
 *
 * Long-name entry (precedes its short entry, last part first):
 *   off len field
 *  0x00   1 LDIR_Ord          sequence number, 0x40 set on the last part
 *  0x01  10 LDIR_Name1        UTF-16LE units 1-5
 *  0x0B   1 LDIR_Attr         0x0F
 *  0x0C   1 LDIR_Type         0
 *  0x0D   1 LDIR_Chksum       checksum of the short name
 *  0x0E  12 LDIR_Name2        units 6-11
 *  0x1A   2 LDIR_FstClusLO    0
 *  0x1C   4 LDIR_Name3        units 12-13
 */
import { defineStruct } from "../bin/struct.js";

export const DIRENT_BYTES = 32;

export const DirEntry = defineStruct("FatDirEntry", DIRENT_BYTES, {
  DIR_Name: { off: 0x00, type: "bytes", len: 11 },
  DIR_Attr: { off: 0x0b, type: "u8" },
  DIR_NTRes: { off: 0x0c, type: "u8" },
  DIR_CrtTimeTenth: { off: 0x0d, type: "u8" },
  DIR_CrtTime: { off: 0x0e, type: "u16le" },
  DIR_CrtDate: { off: 0x10, type: "u16le" },
  DIR_LstAccDate: { off: 0x12, type: "u16le" },
  DIR_FstClusHI: { off: 0x14, type: "u16le" },
  DIR_WrtTime: { off: 0x16, type: "u16le" },
  DIR_WrtDate: { off: 0x18, type: "u16le" },
  DIR_FstClusLO: { off: 0x1a, type: "u16le" },
  DIR_FileSize: { off: 0x1c, type: "u32le" },
});

export const LfnEntry = defineStruct("FatLfnEntry", DIRENT_BYTES, {
  LDIR_Ord: { off: 0x00, type: "u8" },
  LDIR_Name1: { off: 0x01, type: "bytes", len: 10 },
  LDIR_Attr: { off: 0x0b, type: "u8" },
  LDIR_Type: { off: 0x0c, type: "u8" },
  LDIR_Chksum: { off: 0x0d, type: "u8" },
  LDIR_Name2: { off: 0x0e, type: "bytes", len: 12 },
  LDIR_FstClusLO: { off: 0x1a, type: "u16le" },
  LDIR_Name3: { off: 0x1c, type: "bytes", len: 4 },
});

export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_LONG_NAME = 0x0f;
export const LAST_LONG_ENTRY = 0x40;
/** DIR_NTRes bits read by Windows NT and Linux: base / extension stored upper, shown lower. */
export const NTRES_LOWER_BASE = 0x08;
export const NTRES_LOWER_EXT = 0x10;
/** UTF-16 units per long-name entry. */
export const LFN_UNITS_PER_ENTRY = 13;

/** fatgen103 §7: the rotate-right-and-add checksum of the 11-byte short name. */
export function shortNameChecksum(name11: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >>> 1)) + name11[i]) & 0xff;
  return sum & 0xff;
}

/**
 * Encodes the long-name entries for `units` (UTF-16 code units) into `out` at
 * `at`, in on-disk order (last part first). Units after the name: one 0x0000
 * terminator, then 0xFFFF padding (fatgen103 §7). Returns the entry count.
 */
export function encodeLfnEntries(units: Uint16Array, checksum: number, out: Uint8Array, at: number): number {
  const n = Math.ceil(units.length / LFN_UNITS_PER_ENTRY);
  const part = new Uint8Array(LFN_UNITS_PER_ENTRY * 2);
  for (let k = n; k >= 1; k--) {
    // Part k holds units (k-1)*13 .. k*13-1.
    for (let j = 0; j < LFN_UNITS_PER_ENTRY; j++) {
      const i = (k - 1) * LFN_UNITS_PER_ENTRY + j;
      const u = i < units.length ? units[i] : i === units.length ? 0x0000 : 0xffff;
      part[j * 2] = u & 0xff;
      part[j * 2 + 1] = u >>> 8;
    }
    LfnEntry.encodeInto(
      {
        LDIR_Ord: k | (k === n ? LAST_LONG_ENTRY : 0),
        LDIR_Name1: part.subarray(0, 10),
        LDIR_Attr: ATTR_LONG_NAME,
        LDIR_Type: 0,
        LDIR_Chksum: checksum,
        LDIR_Name2: part.subarray(10, 22),
        LDIR_FstClusLO: 0,
        LDIR_Name3: part.subarray(22, 26),
      },
      out,
      at + (n - k) * DIRENT_BYTES,
    );
  }
  return n;
}
