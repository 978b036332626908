/**
 * FAT32 boot sector: BPB + FAT32 extended BPB, Microsoft "FAT: General
 * Overview of On-Disk Format" v1.03 (fatgen103), §3.1 and §3.3.
 * Little-endian. Sector 0 of the volume, copy at sector BPB_BkBootSec (6).
 * Field names are the spec's.
 *
 *   off  len field
 *  0x000   3 BS_jmpBoot       EB 58 90: jump over the BPB to the boot code
 *  0x003   8 BS_OEMName       "MKDISK  "
 *  0x00B   2 BPB_BytsPerSec   512 or 4096
 *  0x00D   1 BPB_SecPerClus   power of two
 *  0x00E   2 BPB_RsvdSecCnt   32 (more when clusters are bigger, see planner)
 *  0x010   1 BPB_NumFATs      2
 *  0x011   2 BPB_RootEntCnt   0 on FAT32
 *  0x013   2 BPB_TotSec16     0 on FAT32
 *  0x015   1 BPB_Media        0xF8 (fixed disk)
 *  0x016   2 BPB_FATSz16      0 on FAT32
 *  0x018   2 BPB_SecPerTrk    CHS geometry, unused by anything modern
 *  0x01A   2 BPB_NumHeads
 *  0x01C   4 BPB_HiddSec      sectors before the volume (partition start LBA)
 *  0x020   4 BPB_TotSec32     sectors in the volume
 *  0x024   4 BPB_FATSz32      sectors per FAT
 *  0x028   2 BPB_ExtFlags     0: FATs mirrored
 *  0x02A   2 BPB_FSVer        0.0
 *  0x02C   4 BPB_RootClus     2
 *  0x030   2 BPB_FSInfo       1
 *  0x032   2 BPB_BkBootSec    6
 *  0x034  12 BPB_Reserved     zeros
 *  0x040   1 BS_DrvNum        0x80
 *  0x041   1 BS_Reserved1     0
 *  0x042   1 BS_BootSig       0x29: the next three fields are present
 *  0x043   4 BS_VolID         volume serial
 *  0x047  11 BS_VolLab        label, space padded ("NO NAME    " when none)
 *  0x052   8 BS_FilSysType    "FAT32   " (informational only)
 *  0x05A 420 BootCode         the not-bootable stub below, zero padded
 *  0x1FE   2 Signature_word   0xAA55 (bytes 55 AA)
 *
 * With 4096-byte sectors the rest of the sector (0x200..0xFFF) is zero.
 */
import { defineStruct } from "../bin/struct.js";

export const BootSector = defineStruct("Fat32BootSector", 512, {
  BS_jmpBoot: { off: 0x000, type: "bytes", len: 3 },
  BS_OEMName: { off: 0x003, type: "bytes", len: 8 },
  BPB_BytsPerSec: { off: 0x00b, type: "u16le" },
  BPB_SecPerClus: { off: 0x00d, type: "u8" },
  BPB_RsvdSecCnt: { off: 0x00e, type: "u16le" },
  BPB_NumFATs: { off: 0x010, type: "u8" },
  BPB_RootEntCnt: { off: 0x011, type: "u16le" },
  BPB_TotSec16: { off: 0x013, type: "u16le" },
  BPB_Media: { off: 0x015, type: "u8" },
  BPB_FATSz16: { off: 0x016, type: "u16le" },
  BPB_SecPerTrk: { off: 0x018, type: "u16le" },
  BPB_NumHeads: { off: 0x01a, type: "u16le" },
  BPB_HiddSec: { off: 0x01c, type: "u32le" },
  BPB_TotSec32: { off: 0x020, type: "u32le" },
  BPB_FATSz32: { off: 0x024, type: "u32le" },
  BPB_ExtFlags: { off: 0x028, type: "u16le" },
  BPB_FSVer: { off: 0x02a, type: "u16le" },
  BPB_RootClus: { off: 0x02c, type: "u32le" },
  BPB_FSInfo: { off: 0x030, type: "u16le" },
  BPB_BkBootSec: { off: 0x032, type: "u16le" },
  BPB_Reserved: { off: 0x034, type: "bytes", len: 12 },
  BS_DrvNum: { off: 0x040, type: "u8" },
  BS_Reserved1: { off: 0x041, type: "u8" },
  BS_BootSig: { off: 0x042, type: "u8" },
  BS_VolID: { off: 0x043, type: "u32le" },
  BS_VolLab: { off: 0x047, type: "bytes", len: 11 },
  BS_FilSysType: { off: 0x052, type: "bytes", len: 8 },
  BootCode: { off: 0x05a, type: "bytes", len: 420 },
  Signature_word: { off: 0x1fe, type: "u16le" },
});

export const BOOT_SIGNATURE = 0xaa55; // bytes 55 AA
export const EXT_BOOT_SIG = 0x29;
export const MEDIA_FIXED = 0xf8;
export const JMP_BOOT = Uint8Array.of(0xeb, 0x58, 0x90); // jmp short 0x5A; nop
export const OEM_NAME = "MKDISK  ";
export const FS_TYPE = "FAT32   ";
export const DRIVE_NUMBER = 0x80;
/** Conventional CHS values; FAT32 drivers and UEFI ignore them. */
export const SECTORS_PER_TRACK = 63;
export const NUM_HEADS = 255;

const BOOT_MESSAGE = "This is not a bootable disk (an mkdisk FAT volume).\r\nBoot it through UEFI, or press a key to try the next device.\r\n";

/**
 * The boot code, loaded by a BIOS at 0000:7C00 (or 07C0:0000) if someone
 * chain-loads this volume: print the message with INT 10h/0Eh, wait for a key
 * (INT 16h), hand back to the BIOS (INT 19h), halt if that returns.
 * Hand-assembled; offsets are relative to the sector start.
 *
 *   05A  31 C0        xor  ax, ax
 *   05C  8E D8        mov  ds, ax            ; DS = 0 whatever CS is
 *   05E  BE lo hi     mov  si, 7C00h+MSG
 *   061  AC           .next: lodsb
 *   062  84 C0        test al, al
 *   064  74 0B        jz   .key              ; -> 071
 *   066  56           push si
 *   067  B4 0E        mov  ah, 0Eh
 *   069  BB 07 00     mov  bx, 0007h
 *   06C  CD 10        int  10h
 *   06E  5E           pop  si
 *   06F  EB F0        jmp  .next             ; -> 061
 *   071  31 C0        .key: xor ax, ax
 *   073  CD 16        int  16h
 *   075  CD 19        int  19h
 *   077  F4           .halt: hlt
 *   078  EB FD        jmp  .halt             ; -> 077
 *   07A  message, NUL terminated
 */
export function bootCode(): Uint8Array {
  const MSG_OFF = 0x7a;
  const addr = 0x7c00 + MSG_OFF;
  const code = [
    0x31, 0xc0, 0x8e, 0xd8, 0xbe, addr & 0xff, addr >>> 8,
    0xac, 0x84, 0xc0, 0x74, 0x0b, 0x56, 0xb4, 0x0e, 0xbb, 0x07, 0x00, 0xcd, 0x10, 0x5e, 0xeb, 0xf0,
    0x31, 0xc0, 0xcd, 0x16, 0xcd, 0x19, 0xf4, 0xeb, 0xfd,
  ];
  const out = new Uint8Array(420);
  out.set(code, 0);
  if (0x5a + code.length !== MSG_OFF) throw new Error("boot stub layout changed");
  for (let i = 0; i < BOOT_MESSAGE.length; i++) out[MSG_OFF - 0x5a + i] = BOOT_MESSAGE.charCodeAt(i);
  return out; // the NUL terminator and padding are the zeros that follow
}
