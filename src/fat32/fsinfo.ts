/**
 * FAT32 FSInfo sector, fatgen103 §5. Little-endian. Sector BPB_FSInfo (1),
 * copy at BPB_BkBootSec + 1 (7).
 *
 *   off  len field
 *  0x000   4 FSI_LeadSig     0x41615252 "RRaA"
 *  0x004 480 FSI_Reserved1   zeros
 *  0x1E4   4 FSI_StrucSig    0x61417272 "rrAa"
 *  0x1E8   4 FSI_Free_Count  free clusters (exact: the image is written whole)
 *  0x1EC   4 FSI_Nxt_Free    first free cluster, 0xFFFFFFFF when none
 *  0x1F0  12 FSI_Reserved2   zeros
 *  0x1FC   4 FSI_TrailSig    0xAA550000 (bytes 00 00 55 AA)
 *
 * With 4096-byte sectors the rest of the sector is zero.
 */
import { defineStruct } from "../bin/struct.js";

export const FsInfo = defineStruct("Fat32FsInfo", 512, {
  FSI_LeadSig: { off: 0x000, type: "u32le" },
  FSI_Reserved1: { off: 0x004, type: "bytes", len: 480 },
  FSI_StrucSig: { off: 0x1e4, type: "u32le" },
  FSI_Free_Count: { off: 0x1e8, type: "u32le" },
  FSI_Nxt_Free: { off: 0x1ec, type: "u32le" },
  FSI_Reserved2: { off: 0x1f0, type: "bytes", len: 12 },
  FSI_TrailSig: { off: 0x1fc, type: "u32le" },
});

export const FSI_LEAD_SIG = 0x41615252; // "RRaA"
export const FSI_STRUC_SIG = 0x61417272; // "rrAa"
export const FSI_TRAIL_SIG = 0xaa550000; // 00 00 55 AA
export const FSI_UNKNOWN = 0xffffffff;
