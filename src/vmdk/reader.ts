/**
 * VMDK reader for `mkdisk convert`: a monolithic hosted sparse extent
 * (streamOptimized with compressed grains and markers, ours or qemu-img's,
 * or a plain monolithicSparse) yielded as an ordered extent stream. Every
 * count and offset read from the image is bounded before use; malformed input
 * raises E_IMAGE, other VMDK kinds (descriptor files with separate extents,
 * VMFS) E_UNSUPPORTED.
 */
import { unzlibSync } from "fflate";
import { fail } from "../bin/errors.js";
import { divCeil, isPow2 } from "../bin/int.js";
import type { Extent, PlannedRegion } from "../io/extent.js";
import { COMPRESSION_DEFLATE, COMPRESSION_NONE, decodeGdOffset, FLAG_COMPRESSED_GRAINS, FLAG_MARKERS, FLAG_ZEROED_GRAIN_GTE, GrainMarker, Marker, MARKER_EOS, MARKER_FOOTER, SECTOR_BYTES, SparseExtentHeader, SPARSE_MAGICNUMBER } from "./header.js";
import { decodeSectorTable } from "./tables.js";

export interface ReadAt {
  readonly sizeBytes: number;
  /** Exactly `lengthBytes` bytes; bytes past the end of the file read as zeros. */
  readAt(offsetBytes: number, lengthBytes: number): Uint8Array;
}

export interface VmdkImage extends PlannedRegion {
  readonly grainBytes: number;
  readonly compressed: boolean;
  /** Guest bytes [offsetBytes, offsetBytes+lengthBytes) (random access; zeros where absent). */
  readAt(offsetBytes: number, lengthBytes: number): Uint8Array;
}

const MAX_GRAIN_SECTORS = 2048; // 1 MiB
const MAX_GTES_PER_GT = 4096;

/** Embedded descriptors are a few sectors; more is not read. */
const MAX_DESCRIPTOR_SECTORS = 2048;

/**
 * A delta disk (a snapshot's child) holds only what changed: its other grains
 * live in the parent, named by the embedded descriptor's parentCID and
 * parentFileNameHint. Reading it alone would give zeros there, so it is
 * refused, as a qcow2 with a backing file is.
 */
function refuseDelta(src: ReadAt, descriptorSector: number, descriptorSectors: number): void {
  if (descriptorSector === 0 || descriptorSectors === 0) return;
  if (descriptorSectors > MAX_DESCRIPTOR_SECTORS || (descriptorSector + descriptorSectors) * SECTOR_BYTES > src.sizeBytes) {
    fail("E_IMAGE", `embedded descriptor (${descriptorSectors} sectors at sector ${descriptorSector}) lies outside the file or is implausibly large`, "SparseExtentHeader.descriptorOffset");
  }
  const text = Buffer.from(src.readAt(descriptorSector * SECTOR_BYTES, descriptorSectors * SECTOR_BYTES)).toString("latin1");
  const parent = /^\s*parentCID\s*=\s*"?([0-9a-fA-F]+)"?/m.exec(text)?.[1];
  if (parent !== undefined && parent.toLowerCase() !== "ffffffff") {
    const hint = /^\s*parentFileNameHint\s*=\s*"([^"]*)"/m.exec(text)?.[1];
    fail("E_UNSUPPORTED", `a delta disk (parentCID ${parent}${hint ? `, parent ${JSON.stringify(hint)}` : ""}): the grains it does not hold are in its parent; flatten it first (e.g. qemu-img convert into one image)`, "descriptor.parentCID");
  }
}

export function openVmdk(src: ReadAt): VmdkImage {
  if (src.sizeBytes < SECTOR_BYTES) fail("E_IMAGE", `file is ${src.sizeBytes} bytes, shorter than a VMDK header`, "SparseExtentHeader");
  let h = SparseExtentHeader.decode(src.readAt(0, SECTOR_BYTES));
  if (h.magicNumber !== SPARSE_MAGICNUMBER) {
    fail("E_UNSUPPORTED", `not a hosted sparse extent (magic 0x${h.magicNumber.toString(16)}); descriptor-only and split VMDKs are not read`, "SparseExtentHeader.magicNumber");
  }
  let gd = decodeGdOffset(h.gdOffset);
  if (gd === "end") {
    // Stream-optimized: footer marker, footer header, end-of-stream marker close the file.
    if (src.sizeBytes < 4 * SECTOR_BYTES || src.sizeBytes % SECTOR_BYTES !== 0) fail("E_IMAGE", "stream too short or not whole sectors for a footer", "footer");
    const tail = src.readAt(src.sizeBytes - 3 * SECTOR_BYTES, 3 * SECTOR_BYTES);
    const fm = Marker.decode(tail, 0);
    const eos = Marker.decode(tail, 2 * SECTOR_BYTES);
    if (fm.size !== 0 || fm.type !== MARKER_FOOTER) fail("E_IMAGE", `footer marker expected at ${src.sizeBytes - 1536}`, "footer");
    if (eos.numSectors !== 0 || eos.size !== 0 || eos.type !== MARKER_EOS) fail("E_IMAGE", "end-of-stream marker expected in the last sector", "footer");
    h = SparseExtentHeader.decode(tail, SECTOR_BYTES);
    if (h.magicNumber !== SPARSE_MAGICNUMBER) fail("E_IMAGE", "footer header has a bad magic", "footer.magicNumber");
    gd = decodeGdOffset(h.gdOffset);
    if (gd === "end") fail("E_IMAGE", "footer gdOffset is GD_AT_END too", "footer.gdOffset");
  }
  if (gd === undefined) fail("E_IMAGE", "gdOffset out of range", "SparseExtentHeader.gdOffset");
  refuseDelta(src, h.descriptorOffset, h.descriptorSize);
  if (h.version < 1 || h.version > 3) fail("E_UNSUPPORTED", `version ${h.version}`, "SparseExtentHeader.version");
  if (!isPow2(h.grainSize) || h.grainSize > MAX_GRAIN_SECTORS) fail("E_IMAGE", `grainSize ${h.grainSize} sectors is not a power of two up to ${MAX_GRAIN_SECTORS}`, "SparseExtentHeader.grainSize");
  if (h.numGTEsPerGT < 1 || h.numGTEsPerGT > MAX_GTES_PER_GT) fail("E_IMAGE", `numGTEsPerGT ${h.numGTEsPerGT} outside 1..${MAX_GTES_PER_GT}`, "SparseExtentHeader.numGTEsPerGT");
  if (h.capacity < 1 || h.capacity > Number.MAX_SAFE_INTEGER / SECTOR_BYTES) fail("E_IMAGE", `capacity ${h.capacity} sectors`, "SparseExtentHeader.capacity");
  const compressed = h.compressAlgorithm === COMPRESSION_DEFLATE || (h.flags & FLAG_COMPRESSED_GRAINS) !== 0;
  if (h.compressAlgorithm !== COMPRESSION_NONE && h.compressAlgorithm !== COMPRESSION_DEFLATE) fail("E_UNSUPPORTED", `compressAlgorithm ${h.compressAlgorithm}`, "SparseExtentHeader.compressAlgorithm");
  if (compressed && !(h.flags & FLAG_MARKERS)) fail("E_UNSUPPORTED", "compressed grains without markers", "SparseExtentHeader.flags");
  const zeroedGte = (h.flags & FLAG_ZEROED_GRAIN_GTE) !== 0;

  const sizeBytes = h.capacity * SECTOR_BYTES;
  const grainBytes = h.grainSize * SECTOR_BYTES;
  const gtes = h.numGTEsPerGT;
  const gdEntries = divCeil(h.capacity, h.grainSize * gtes);
  const gdSector = gd;
  checkSectors(src, gdSector, gdEntries * 4, "SparseExtentHeader.gdOffset");

  let gdTable: number[] | undefined;
  const gdEntry = (i: number): number => {
    gdTable ??= decodeSectorTable(src.readAt(gdSector * SECTOR_BYTES, gdEntries * 4), gdEntries);
    return gdTable[i];
  };
  let cachedGt: { index: number; entries: number[] } | undefined;
  const grainTable = (i: number): number[] | undefined => {
    if (cachedGt?.index === i) return cachedGt.entries;
    const at = gdEntry(i);
    if (at === 0) return undefined;
    checkSectors(src, at, gtes * 4, `GD[${i}]`);
    cachedGt = { index: i, entries: decodeSectorTable(src.readAt(at * SECTOR_BYTES, gtes * 4), gtes) };
    return cachedGt.entries;
  };
  /** The grain's bytes (cut at the capacity), or undefined when it reads as zeros. */
  const grainData = (grain: number): Uint8Array | undefined => {
    const i = Math.floor(grain / gtes);
    const j = grain % gtes;
    const gt = grainTable(i);
    if (!gt) return undefined;
    const at = gt[j];
    if (at === 0 || (zeroedGte && at === 1)) return undefined;
    const lengthBytes = Math.min(grainBytes, sizeBytes - grain * grainBytes);
    const place = `GT[${i}][${j}] -> sector ${at}`;
    if (!compressed) {
      checkSectors(src, at, grainBytes, place);
      return src.readAt(at * SECTOR_BYTES, lengthBytes);
    }
    checkSectors(src, at, GrainMarker.sizeBytes, place);
    const m = GrainMarker.decode(src.readAt(at * SECTOR_BYTES, GrainMarker.sizeBytes));
    if (m.lba !== grain * h.grainSize) fail("E_IMAGE", `grain marker lba ${m.lba}, expected ${grain * h.grainSize}`, place);
    if (m.size === 0 || m.size > src.sizeBytes - at * SECTOR_BYTES - GrainMarker.sizeBytes) fail("E_IMAGE", `grain marker size ${m.size} out of range`, place);
    const data = src.readAt(at * SECTOR_BYTES + GrainMarker.sizeBytes, m.size);
    const out = new Uint8Array(grainBytes);
    let got: Uint8Array;
    try {
      got = unzlibSync(data, { out });
    } catch (e) {
      return fail("E_IMAGE", `grain does not inflate: ${(e as Error).message}`, place);
    }
    if (got.length < lengthBytes) fail("E_IMAGE", `grain inflates to ${got.length} bytes, expected ${lengthBytes}`, place);
    return out.subarray(0, lengthBytes);
  };
  const grainCount = divCeil(sizeBytes, grainBytes);
  return {
    sizeBytes,
    grainBytes,
    compressed,
    *extents(): Generator<Extent> {
      for (let i = 0; i < gdEntries; i++) {
        if (gdEntry(i) === 0) continue;
        const last = Math.min(grainCount, (i + 1) * gtes);
        for (let g = i * gtes; g < last; g++) {
          const bytes = grainData(g);
          if (bytes) yield { offsetBytes: g * grainBytes, lengthBytes: bytes.length, source: { kind: "bytes", bytes } };
        }
      }
    },
    readAt(offsetBytes: number, lengthBytes: number): Uint8Array {
      if (!Number.isSafeInteger(offsetBytes) || !Number.isSafeInteger(lengthBytes) || offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > sizeBytes) {
        fail("E_USAGE", `range ${offsetBytes}+${lengthBytes} outside the virtual disk (${sizeBytes} bytes)`, "vmdk.readAt");
      }
      const out = new Uint8Array(lengthBytes);
      let pos = offsetBytes;
      while (pos < offsetBytes + lengthBytes) {
        const g = Math.floor(pos / grainBytes);
        const inG = pos - g * grainBytes;
        const n = Math.min(grainBytes - inG, offsetBytes + lengthBytes - pos);
        const bytes = grainData(g);
        if (bytes) out.set(bytes.subarray(inG, inG + n), pos - offsetBytes);
        pos += n;
      }
      return out;
    },
  };
}

function checkSectors(src: ReadAt, sector: number, lengthBytes: number, where: string): void {
  if (sector === 0 || sector * SECTOR_BYTES + lengthBytes > src.sizeBytes) {
    fail("E_IMAGE", `sector ${sector} (+${lengthBytes} bytes) lies outside the file (${src.sizeBytes} bytes)`, where);
  }
}
