/**
 * VMDK sparse extent header and stream markers, VMware "Virtual Disk Format
 * 1.1" (hosted sparse extents; stream-optimized compressed sparse extents).
 * Little-endian. Sector = 512 bytes; every offset and size here is in sectors.
 *
 * SparseExtentHeader, sector 0 (and again as the footer near the end):
 *  off len field
 *  0x00  4  magicNumber          0x564d444b, bytes "KDMV"
 *  0x04  4  version              3 (stream-optimized)
 *  0x08  4  flags                bit 0 valid newline test, bit 16 compressed grains, bit 17 markers
 *  0x0c  8  capacity             disk size in sectors
 *  0x14  8  grainSize            sectors per grain (128 = 64 KiB)
 *  0x1c  8  descriptorOffset     embedded descriptor (sector 1)
 *  0x24  8  descriptorSize
 *  0x2c  4  numGTEsPerGT         512
 *  0x30  8  rgdOffset            0: no redundant grain directory
 *  0x38  8  gdOffset             GD_AT_END (all ones) in the first header, the real one in the footer
 *  0x40  8  overHead             sectors before the first grain
 *  0x48  1  uncleanShutdown
 *  0x49  1  singleEndLineChar    '\n'
 *  0x4a  1  nonEndLineChar       ' '
 *  0x4b  1  doubleEndLineChar1   '\r'
 *  0x4c  1  doubleEndLineChar2   '\n'
 *  0x4d  2  compressAlgorithm    1: deflate
 *  0x4f 433 pad
 *
 * Marker (one sector): numSectors u64 (a grain marker's lba), size u32
 * (a grain marker's compressed byte count, 0 for metadata markers), type u32
 * (metadata markers only), pad. A grain marker is 12 bytes then the data,
 * padded to a sector.
 */
import { defineStruct } from "../bin/struct.js";

export const SECTOR_BYTES = 512;
export const SPARSE_MAGICNUMBER = 0x564d444b; // "KDMV" on disk
export const VMDK_STREAM_VERSION = 3;
export const FLAG_VALID_NEWLINE_DETECTION = 1 << 0;
export const FLAG_REDUNDANT_GRAIN_TABLE = 1 << 1;
export const FLAG_ZEROED_GRAIN_GTE = 1 << 2;
export const FLAG_COMPRESSED_GRAINS = 1 << 16;
export const FLAG_MARKERS = 1 << 17;
export const COMPRESSION_NONE = 0;
export const COMPRESSION_DEFLATE = 1;
export const GRAIN_SECTORS = 128;
export const NUM_GTES_PER_GT = 512;
/** gdOffset meaning "the grain directory is at the end: read the footer". */
export const GD_AT_END = new Uint8Array(8).fill(0xff);

export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;

export const SparseExtentHeader = defineStruct("SparseExtentHeader", SECTOR_BYTES, {
  magicNumber: { off: 0x00, type: "u32le" },
  version: { off: 0x04, type: "u32le" },
  flags: { off: 0x08, type: "u32le" },
  capacity: { off: 0x0c, type: "u64le" },
  grainSize: { off: 0x14, type: "u64le" },
  descriptorOffset: { off: 0x1c, type: "u64le" },
  descriptorSize: { off: 0x24, type: "u64le" },
  numGTEsPerGT: { off: 0x2c, type: "u32le" },
  rgdOffset: { off: 0x30, type: "u64le" },
  /** u64le; a bytes field so the all-ones GD_AT_END value (beyond 2^53) round-trips. */
  gdOffset: { off: 0x38, type: "bytes", len: 8 },
  overHead: { off: 0x40, type: "u64le" },
  uncleanShutdown: { off: 0x48, type: "u8" },
  singleEndLineChar: { off: 0x49, type: "u8" },
  nonEndLineChar: { off: 0x4a, type: "u8" },
  doubleEndLineChar1: { off: 0x4b, type: "u8" },
  doubleEndLineChar2: { off: 0x4c, type: "u8" },
  compressAlgorithm: { off: 0x4d, type: "u16le" },
  pad: { off: 0x4f, type: "bytes", len: 433 },
});

export const Marker = defineStruct("Marker", SECTOR_BYTES, {
  numSectors: { off: 0x00, type: "u64le" },
  size: { off: 0x08, type: "u32le" },
  type: { off: 0x0c, type: "u32le" },
  pad: { off: 0x10, type: "bytes", len: 496 },
});

/** The 12 bytes before a compressed grain's data. */
export const GrainMarker = defineStruct("GrainMarker", 12, {
  lba: { off: 0x00, type: "u64le" },
  size: { off: 0x08, type: "u32le" },
});

/** gdOffset field bytes for a real sector number. */
export function gdOffsetBytes(sector: number): Uint8Array {
  const b = new Uint8Array(8);
  const d = new DataView(b.buffer);
  if (!Number.isSafeInteger(sector) || sector < 0) throw new RangeError(`bad gdOffset ${sector}`);
  d.setUint32(0, sector % 0x1_0000_0000, true);
  d.setUint32(4, Math.floor(sector / 0x1_0000_0000), true);
  return b;
}

/** gdOffset field → sector number, or "end" for GD_AT_END, or undefined when out of range. */
export function decodeGdOffset(b: Uint8Array): number | "end" | undefined {
  if (b.every((x) => x === 0xff)) return "end";
  const d = new DataView(b.buffer, b.byteOffset, 8);
  const v = d.getUint32(0, true) + d.getUint32(4, true) * 0x1_0000_0000;
  return Number.isSafeInteger(v) ? v : undefined;
}

export interface StreamHeaderFields {
  capacitySectors: number;
  descriptorSectors: number;
  overHeadSectors: number;
  /** Sector of the grain directory, or "end" (first header of a stream). */
  gdSector: number | "end";
}

export function encodeStreamHeader(f: StreamHeaderFields): Uint8Array {
  return SparseExtentHeader.encode({
    magicNumber: SPARSE_MAGICNUMBER,
    version: VMDK_STREAM_VERSION,
    flags: FLAG_VALID_NEWLINE_DETECTION | FLAG_COMPRESSED_GRAINS | FLAG_MARKERS,
    capacity: f.capacitySectors,
    grainSize: GRAIN_SECTORS,
    descriptorOffset: 1,
    descriptorSize: f.descriptorSectors,
    numGTEsPerGT: NUM_GTES_PER_GT,
    rgdOffset: 0,
    gdOffset: f.gdSector === "end" ? GD_AT_END : gdOffsetBytes(f.gdSector),
    overHead: f.overHeadSectors,
    uncleanShutdown: 0,
    singleEndLineChar: 0x0a,
    nonEndLineChar: 0x20,
    doubleEndLineChar1: 0x0d,
    doubleEndLineChar2: 0x0a,
    compressAlgorithm: COMPRESSION_DEFLATE,
    pad: new Uint8Array(433),
  });
}

/** A metadata marker sector (GT, GD, footer, end of stream). */
export function encodeMarker(type: number, numSectors: number): Uint8Array {
  return Marker.encode({ numSectors, size: 0, type, pad: new Uint8Array(496) });
}
