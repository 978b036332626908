/**
 * GPT reader for inspect/diff: decodes and validates the protective MBR, the
 * primary header and entry array (falling back to the backup header when the
 * primary is damaged). Every count and offset is bounded before use.
 */
import { crc32 } from "../bin/crc.js";
import { fail } from "../bin/errors.js";
import { formatUuid, guidFromGptBytes } from "../bin/guid.js";
import { GPT_ENTRY_SIZE, GPT_HEADER_SIZE, GPT_SIGNATURE, GptEntry, GptHeader } from "./gpt.js";
import { PARTITION_TYPES } from "./types.js";

export interface ReadPartition {
  readonly number: number;
  readonly typeGuid: string;
  readonly typeName: string | undefined;
  readonly uuid: string;
  readonly label: string;
  readonly startLba: number;
  readonly endLba: number;
  readonly attributes: bigint;
}

export interface ReadGpt {
  readonly sectorBytes: number;
  readonly diskGuid: string;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  readonly backupLba: number;
  readonly partitions: readonly ReadPartition[];
  /** Problems found (bad CRCs, a damaged primary); empty for a sound table. */
  readonly problems: readonly string[];
}

export type ReadAt = (offsetBytes: number, lengthBytes: number) => Uint8Array;

const MAX_ENTRIES = 1024;

function sig(b: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (b[i] !== GPT_SIGNATURE[i]) return false;
  return true;
}

function decodeName(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = b[i] | (b[i + 1] << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * The logical sector size a GPT was written for: 512 or 4096, found by where
 * a header signature is (the primary at LBA 1, else the backup in the last
 * sector); 512 when neither size shows one.
 */
export function detectSectorBytes(readAt: ReadAt, diskBytes: number): number {
  for (const size of [512, 4096]) if (diskBytes >= 3 * size && sig(readAt(size, 8))) return size;
  for (const size of [512, 4096]) if (diskBytes >= 3 * size && sig(readAt((Math.floor(diskBytes / size) - 1) * size, 8))) return size;
  return 512;
}

/** Reads the GPT of a disk; the sector size is detected (detectSectorBytes) unless given. */
export function readGpt(readAt: ReadAt, diskBytes: number, sectorBytes = detectSectorBytes(readAt, diskBytes)): ReadGpt {
  const problems: string[] = [];
  const mbr = readAt(0, 512);
  if (mbr.length < 512 || mbr[510] !== 0x55 || mbr[511] !== 0xaa) problems.push("protective MBR: no 0x55AA signature");
  else if (mbr[0x1be + 4] !== 0xee) problems.push("protective MBR: first record is not type 0xEE");
  const totalSectors = Math.floor(diskBytes / sectorBytes);
  if (totalSectors < 3) fail("E_IMAGE", `image of ${diskBytes} bytes is too small for a GPT`);

  const tryHeader = (lba: number, which: string) => {
    const raw = readAt(lba * sectorBytes, GPT_HEADER_SIZE);
    if (raw.length < GPT_HEADER_SIZE || !sig(raw)) {
      problems.push(`${which} GPT header at LBA ${lba}: no "EFI PART" signature`);
      return undefined;
    }
    const h = GptHeader.decode(raw);
    // The CRC covers HeaderSize bytes (92 to one sector; other tools may write more than 92).
    if (h.HeaderSize < GPT_HEADER_SIZE || h.HeaderSize > sectorBytes) {
      problems.push(`${which} GPT header at LBA ${lba}: HeaderSize ${h.HeaderSize} is outside 92..${sectorBytes}`);
      return undefined;
    }
    const z = h.HeaderSize === GPT_HEADER_SIZE ? raw.slice() : readAt(lba * sectorBytes, h.HeaderSize).slice();
    z.fill(0, 0x10, 0x14);
    if (crc32(z) !== h.HeaderCRC32) {
      problems.push(`${which} GPT header at LBA ${lba}: HeaderCRC32 mismatch`);
      return undefined;
    }
    if (h.MyLBA !== lba) problems.push(`${which} GPT header at LBA ${lba}: MyLBA says ${h.MyLBA}`);
    if (h.NumberOfPartitionEntries > MAX_ENTRIES || h.SizeOfPartitionEntry !== GPT_ENTRY_SIZE) {
      problems.push(`${which} GPT header: ${h.NumberOfPartitionEntries} entries of ${h.SizeOfPartitionEntry} bytes is not supported`);
      return undefined;
    }
    const arrBytes = h.NumberOfPartitionEntries * GPT_ENTRY_SIZE;
    if (h.PartitionEntryLBA * sectorBytes + arrBytes > diskBytes) {
      problems.push(`${which} GPT header: entry array beyond the end of the image`);
      return undefined;
    }
    const arr = readAt(h.PartitionEntryLBA * sectorBytes, arrBytes);
    if (crc32(arr) !== h.PartitionEntryArrayCRC32) {
      problems.push(`${which} GPT entry array: PartitionEntryArrayCRC32 mismatch`);
      return undefined;
    }
    return { h, arr };
  };

  const primary = tryHeader(1, "primary");
  const backup = tryHeader(totalSectors - 1, "backup");
  if (primary && primary.h.AlternateLBA !== totalSectors - 1) {
    problems.push(`primary GPT header: AlternateLBA ${primary.h.AlternateLBA} is not the image's last LBA ${totalSectors - 1} (was the image resized? sgdisk -e moves the backup)`);
  }
  if (primary && backup && (primary.h.PartitionEntryArrayCRC32 !== backup.h.PartitionEntryArrayCRC32 || primary.h.NumberOfPartitionEntries !== backup.h.NumberOfPartitionEntries)) {
    problems.push("primary and backup GPT partition entry arrays differ (the primary is read)");
  }
  const use = primary ?? backup;
  if (!use) fail("E_IMAGE", `no valid GPT (${problems.join("; ")})`);
  const { h, arr } = use;
  const partitions: ReadPartition[] = [];
  for (let i = 0; i < h.NumberOfPartitionEntries; i++) {
    const e = GptEntry.decode(arr, i * GPT_ENTRY_SIZE);
    if (e.PartitionTypeGUID.every((b) => b === 0)) continue;
    const typeGuid = formatUuid(guidFromGptBytes(e.PartitionTypeGUID));
    const a = new DataView(e.Attributes.buffer, e.Attributes.byteOffset, 8).getBigUint64(0, true);
    if (e.StartingLBA > e.EndingLBA || e.EndingLBA >= totalSectors) problems.push(`partition ${i + 1}: LBA range ${e.StartingLBA}..${e.EndingLBA} is invalid`);
    partitions.push({
      number: i + 1,
      typeGuid,
      typeName: PARTITION_TYPES.find((t) => t.guid === typeGuid)?.name,
      uuid: formatUuid(guidFromGptBytes(e.UniquePartitionGUID)),
      label: decodeName(e.PartitionName),
      startLba: e.StartingLBA,
      endLba: e.EndingLBA,
      attributes: a,
    });
  }
  return {
    sectorBytes,
    diskGuid: formatUuid(guidFromGptBytes(h.DiskGUID)),
    firstUsableLba: h.FirstUsableLBA,
    lastUsableLba: h.LastUsableLBA,
    backupLba: h.AlternateLBA,
    partitions,
    problems,
  };
}
