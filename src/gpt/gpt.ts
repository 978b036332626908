/**
 * GPT codec: protective MBR, header, entry array. UEFI 2.10 §5.2.3 (protective
 * MBR) and §5.3 (GPT). All integers little-endian; GUIDs mixed-endian on disk
 * (converted by bin/guid.ts only).
 */
import { defineStruct } from "../bin/struct.js";
import { crc32 } from "../bin/crc.js";
import { guidToGptBytes, type Uuid } from "../bin/guid.js";
import { fail } from "../bin/errors.js";
import { utf16le } from "../bin/text.js";

export const GPT_SIGNATURE = new TextEncoder().encode("EFI PART"); // 0x5452415020494645
export const GPT_REVISION_1_0 = 0x00010000;
export const GPT_HEADER_SIZE = 92;
export const GPT_ENTRY_SIZE = 128;
export const GPT_ENTRY_COUNT = 128;
export const GPT_NAME_UNITS = 36;

/**
 * GPT header, UEFI 2.10 §5.3.2, table 5-5. Occupies the start of LBA 1 (primary)
 * and of the last LBA (backup); the rest of the sector is zero.
 *  off len field
 *  0x00  8  Signature "EFI PART"
 *  0x08  4  Revision 0x00010000
 *  0x0C  4  HeaderSize 92
 *  0x10  4  HeaderCRC32 (over HeaderSize bytes with this field zero)
 *  0x14  4  Reserved, zero
 *  0x18  8  MyLBA
 *  0x20  8  AlternateLBA
 *  0x28  8  FirstUsableLBA
 *  0x30  8  LastUsableLBA
 *  0x38 16  DiskGUID
 *  0x48  8  PartitionEntryLBA
 *  0x50  4  NumberOfPartitionEntries
 *  0x54  4  SizeOfPartitionEntry
 *  0x58  4  PartitionEntryArrayCRC32
 */
export const GptHeader = defineStruct("GptHeader", GPT_HEADER_SIZE, {
  Signature: { off: 0x00, type: "bytes", len: 8 },
  Revision: { off: 0x08, type: "u32le" },
  HeaderSize: { off: 0x0c, type: "u32le" },
  HeaderCRC32: { off: 0x10, type: "u32le" },
  Reserved: { off: 0x14, type: "u32le" },
  MyLBA: { off: 0x18, type: "u64le" },
  AlternateLBA: { off: 0x20, type: "u64le" },
  FirstUsableLBA: { off: 0x28, type: "u64le" },
  LastUsableLBA: { off: 0x30, type: "u64le" },
  DiskGUID: { off: 0x38, type: "bytes", len: 16 },
  PartitionEntryLBA: { off: 0x48, type: "u64le" },
  NumberOfPartitionEntries: { off: 0x50, type: "u32le" },
  SizeOfPartitionEntry: { off: 0x54, type: "u32le" },
  PartitionEntryArrayCRC32: { off: 0x58, type: "u32le" },
});

/**
 * GPT partition entry, UEFI 2.10 §5.3.3, table 5-6.
 *  0x00 16 PartitionTypeGUID
 *  0x10 16 UniquePartitionGUID
 *  0x20  8 StartingLBA
 *  0x28  8 EndingLBA (inclusive)
 *  0x30  8 Attributes
 *  0x38 72 PartitionName (36 UTF-16LE code units, zero padded)
 */
export const GptEntry = defineStruct("GptEntry", GPT_ENTRY_SIZE, {
  PartitionTypeGUID: { off: 0x00, type: "bytes", len: 16 },
  UniquePartitionGUID: { off: 0x10, type: "bytes", len: 16 },
  StartingLBA: { off: 0x20, type: "u64le" },
  EndingLBA: { off: 0x28, type: "u64le" },
  Attributes: { off: 0x30, type: "bytes", len: 8 },
  PartitionName: { off: 0x38, type: "bytes", len: 72 },
});

/**
 * Legacy MBR partition record, UEFI 2.10 §5.2.1 table 5-2 (CHS fields as bytes).
 *  0x0 1 BootIndicator  0x1 3 StartingCHS  0x4 1 OSType  0x5 3 EndingCHS
 *  0x8 4 StartingLBA    0xC 4 SizeInLBA
 */
export const MbrPartitionRecord = defineStruct("MbrPartitionRecord", 16, {
  BootIndicator: { off: 0x0, type: "u8" },
  StartingCHS: { off: 0x1, type: "bytes", len: 3 },
  OSType: { off: 0x4, type: "u8" },
  EndingCHS: { off: 0x5, type: "bytes", len: 3 },
  StartingLBA: { off: 0x8, type: "u32le" },
  SizeInLBA: { off: 0xc, type: "u32le" },
});

/**
 * Protective MBR, UEFI 2.10 §5.2.3 table 5-4. LBA 0.
 *  0x000 440 BootCode (zero unless a BIOS boot loader is installed)
 *  0x1B8   4 UniqueMBRDiskSignature (unused: zero)
 *  0x1BC   2 Unknown (zero)
 *  0x1BE  64 PartitionRecord[4]: one 0xEE record covering the disk, three zero
 *  0x1FE   2 Signature 0xAA55
 */
export const ProtectiveMbr = defineStruct("ProtectiveMbr", 512, {
  BootCode: { off: 0x000, type: "bytes", len: 440 },
  UniqueMBRDiskSignature: { off: 0x1b8, type: "u32le" },
  Unknown: { off: 0x1bc, type: "u16le" },
  PartitionRecords: { off: 0x1be, type: "bytes", len: 64 },
  Signature: { off: 0x1fe, type: "u16le" },
});

export const MBR_SIGNATURE = 0xaa55;
export const MBR_TYPE_GPT_PROTECTIVE = 0xee;

export interface GptPartitionEntry {
  typeGuid: Uuid;
  uniqueGuid: Uuid;
  startLba: number;
  /** Inclusive. */
  endLba: number;
  attributes: bigint;
  name: string;
}

export function encodeName(name: string, where: string): Uint8Array {
  if (name.length > GPT_NAME_UNITS) fail("E_LAYOUT", `label "${name}" is ${name.length} UTF-16 code units; GPT holds at most ${GPT_NAME_UNITS}`, where);
  return utf16le(name);
}

function attrBytes(a: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, a), true);
  return b;
}

export function encodeEntries(entries: readonly GptPartitionEntry[], where = "partitions"): Uint8Array {
  if (entries.length > GPT_ENTRY_COUNT) fail("E_LAYOUT", `at most ${GPT_ENTRY_COUNT} partitions`, where);
  const out = new Uint8Array(GPT_ENTRY_COUNT * GPT_ENTRY_SIZE);
  entries.forEach((e, i) => {
    GptEntry.encodeInto(
      {
        PartitionTypeGUID: guidToGptBytes(e.typeGuid),
        UniquePartitionGUID: guidToGptBytes(e.uniqueGuid),
        StartingLBA: e.startLba,
        EndingLBA: e.endLba,
        Attributes: attrBytes(e.attributes),
        PartitionName: encodeName(e.name, `${where}[${i}].label`),
      },
      out,
      i * GPT_ENTRY_SIZE,
    );
  });
  return out;
}

export interface GptGeometry {
  sectorBytes: number;
  totalSectors: number;
  diskGuid: Uuid;
}

/** Sectors taken by the 128-entry array: 32 for 512-byte sectors, 4 for 4096. */
export const entryArraySectors = (sectorBytes: number) => (GPT_ENTRY_COUNT * GPT_ENTRY_SIZE) / sectorBytes;
/**
 * First usable LBA. Given the disk size, the rule libfdisk applies (and so sfdisk
 * and systemd-repart write): 1 MiB on a disk larger than 4 MiB, else just past
 * the entry array. Without it: just past the entry array (LBA 34 / LBA 6).
 */
export const SMALL_DISK_BYTES = 4 << 20;
export const ONE_MIB = 1 << 20;
export function firstUsableLba(sectorBytes: number, totalSectors?: number): number {
  if (totalSectors !== undefined && totalSectors * sectorBytes > SMALL_DISK_BYTES) return ONE_MIB / sectorBytes;
  return 2 + entryArraySectors(sectorBytes);
}
export const lastUsableLba = (sectorBytes: number, totalSectors: number) => totalSectors - 2 - entryArraySectors(sectorBytes);

export function encodeHeader(g: GptGeometry, primary: boolean, entriesCrc: number): Uint8Array {
  const last = g.totalSectors - 1;
  const values = {
    Signature: GPT_SIGNATURE,
    Revision: GPT_REVISION_1_0,
    HeaderSize: GPT_HEADER_SIZE,
    HeaderCRC32: 0,
    Reserved: 0,
    MyLBA: primary ? 1 : last,
    AlternateLBA: primary ? last : 1,
    FirstUsableLBA: firstUsableLba(g.sectorBytes, g.totalSectors),
    LastUsableLBA: lastUsableLba(g.sectorBytes, g.totalSectors),
    DiskGUID: guidToGptBytes(g.diskGuid),
    PartitionEntryLBA: primary ? 2 : last - entryArraySectors(g.sectorBytes),
    NumberOfPartitionEntries: GPT_ENTRY_COUNT,
    SizeOfPartitionEntry: GPT_ENTRY_SIZE,
    PartitionEntryArrayCRC32: entriesCrc,
  };
  const hdr = GptHeader.encode(values);
  values.HeaderCRC32 = crc32(hdr);
  const sector = new Uint8Array(g.sectorBytes);
  GptHeader.encodeInto(values, sector, 0);
  return sector;
}

/** The protective MBR sector (512 bytes of it; the rest of a 4096-byte sector is zero). */
export function encodeProtectiveMbr(g: GptGeometry, bootCode?: Uint8Array): Uint8Array {
  const size = Math.min(g.totalSectors - 1, 0xffffffff);
  const rec = MbrPartitionRecord.encode({
    BootIndicator: 0,
    StartingCHS: Uint8Array.of(0x00, 0x02, 0x00),
    OSType: MBR_TYPE_GPT_PROTECTIVE,
    EndingCHS: Uint8Array.of(0xff, 0xff, 0xff),
    StartingLBA: 1,
    SizeInLBA: size,
  });
  const records = new Uint8Array(64);
  records.set(rec, 0);
  const sector = new Uint8Array(g.sectorBytes);
  ProtectiveMbr.encodeInto(
    { BootCode: bootCode ?? new Uint8Array(440), UniqueMBRDiskSignature: 0, Unknown: 0, PartitionRecords: records, Signature: MBR_SIGNATURE },
    sector,
    0,
  );
  return sector;
}

/** The four regions a GPT occupies: [LBA0 MBR, LBA1 header, entries] at the start, [entries, header] at the end. */
export function encodeGpt(g: GptGeometry, entries: readonly GptPartitionEntry[], bootCode?: Uint8Array): { head: Uint8Array; tail: Uint8Array; tailOffsetBytes: number } {
  const arr = encodeEntries(entries);
  const crc = crc32(arr);
  const s = g.sectorBytes;
  const head = new Uint8Array(s * 2 + arr.length);
  head.set(encodeProtectiveMbr(g, bootCode), 0);
  head.set(encodeHeader(g, true, crc), s);
  head.set(arr, 2 * s);
  const tail = new Uint8Array(arr.length + s);
  tail.set(arr, 0);
  tail.set(encodeHeader(g, false, crc), arr.length);
  return { head, tail, tailOffsetBytes: (g.totalSectors - 1 - entryArraySectors(s)) * s };
}
