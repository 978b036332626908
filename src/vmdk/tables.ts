/**
 * Grain tables and the grain directory, VMware Virtual Disk Format 1.1
 * ("Grain Directory and Grain Table"). Both are arrays of little-endian u32
 * sector numbers; 0 means "not present" (a grain of zeros, or a grain table
 * whose grains are all zeros).
 *
 * A grain table has numGTEsPerGT (512) entries, 2048 bytes = 4 sectors.
 * Readable codec: the GrainTableEntry struct per entry. Fast codec: one
 * DataView over the table. A property test proves they write the same bytes.
 */
import { defineStruct } from "../bin/struct.js";
import { NUM_GTES_PER_GT, SECTOR_BYTES } from "./header.js";

export const GrainTableEntry = defineStruct("GrainTableEntry", 4, {
  grainSector: { off: 0, type: "u32le" },
});

export const GT_BYTES = NUM_GTES_PER_GT * GrainTableEntry.sizeBytes;
export const GT_SECTORS = GT_BYTES / SECTOR_BYTES;

/** Readable codec: table of sector numbers (GT or GD), padded to whole sectors. */
export function encodeSectorTableReadable(sectors: readonly number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil((sectors.length * 4) / SECTOR_BYTES) * SECTOR_BYTES);
  sectors.forEach((s, i) => GrainTableEntry.encodeInto({ grainSector: s }, out, i * 4));
  return out;
}

/** Fast codec: the same bytes, one DataView, no per-entry objects. Values are checked by the writer. */
export function encodeSectorTableFast(sectors: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil((sectors.length * 4) / SECTOR_BYTES) * SECTOR_BYTES);
  const d = new DataView(out.buffer);
  for (let i = 0; i < sectors.length; i++) d.setUint32(i * 4, sectors[i], true);
  return out;
}

/** Decodes `count` u32le sector numbers. */
export function decodeSectorTable(bytes: Uint8Array, count: number): number[] {
  const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = d.getUint32(i * 4, true);
  return out;
}
