/**
 * qcow2 reader for `mkdisk convert`: opens a qcow2 v2/v3 image (ours, or what
 * qemu-img writes) and yields the guest data of the active L1 table as an
 * ordered extent stream (a PlannedRegion); unallocated and zero clusters are
 * gaps. Every count and offset read from the image is bounded before use;
 * malformed input raises MkdiskError E_IMAGE, valid features we do not read
 * (backing files, encryption, external data, extended L2, zstd) E_UNSUPPORTED.
 */
import { inflateSync } from "fflate";
import { fail } from "../bin/errors.js";
import { divCeil } from "../bin/int.js";
import type { Extent, PlannedRegion } from "../io/extent.js";
import {
  Qcow2Header, QCOW2_INCOMPAT_COMPRESSION_TYPE, QCOW2_INCOMPAT_CORRUPT, QCOW2_INCOMPAT_DIRTY, QCOW2_MAGIC, QCOW2_MAX_CLUSTER_BITS, QCOW2_MIN_CLUSTER_BITS,
} from "./header.js";
import { compressedOffsetBits, QCOW2_SECTOR_BYTES } from "./tables.js";
import { l1SizeFor, l2EntriesPerTable, QCOW2_MAX_L1_BYTES } from "./plan.js";

/** Random access to an image file (a Node adapter lives outside the format module). */
export interface ReadAt {
  readonly sizeBytes: number;
  /** Exactly `lengthBytes` bytes; bytes past the end of the file read as zeros. */
  readAt(offsetBytes: number, lengthBytes: number): Uint8Array;
}

export interface Qcow2Image extends PlannedRegion {
  readonly clusterBytes: number;
  readonly version: number;
  /** Guest bytes [offsetBytes, offsetBytes+lengthBytes) (random access; zeros where unallocated). */
  readAt(offsetBytes: number, lengthBytes: number): Uint8Array;
}

const TWO32 = 0x1_0000_0000;

export function openQcow2(src: ReadAt): Qcow2Image {
  const where = "Qcow2Header";
  if (src.sizeBytes < Qcow2Header.sizeBytes) fail("E_IMAGE", `file is ${src.sizeBytes} bytes, shorter than a qcow2 header`, where);
  const h = Qcow2Header.decode(src.readAt(0, Qcow2Header.sizeBytes));
  if (h.magic !== QCOW2_MAGIC) fail("E_IMAGE", `magic at 0x0: expected 0x514649fb ("QFI\\xfb"), got 0x${h.magic.toString(16)}`, where + ".magic");
  if (h.version !== 2 && h.version !== 3) fail("E_UNSUPPORTED", `version ${h.version} (only 2 and 3 are read)`, where + ".version");
  if (h.cluster_bits < QCOW2_MIN_CLUSTER_BITS || h.cluster_bits > QCOW2_MAX_CLUSTER_BITS) fail("E_IMAGE", `cluster_bits ${h.cluster_bits} outside 9..21`, where + ".cluster_bits");
  const C = 2 ** h.cluster_bits;
  if (h.backing_file_offset !== 0) fail("E_UNSUPPORTED", "images with a backing file are not read; flatten it first (qemu-img convert)", where + ".backing_file_offset");
  if (h.crypt_method !== 0) fail("E_UNSUPPORTED", `encrypted images (crypt_method ${h.crypt_method}) are not read`, where + ".crypt_method");
  if (h.version === 3) {
    const inc = h.incompatible_features;
    if (inc & QCOW2_INCOMPAT_CORRUPT) fail("E_IMAGE", "the image is marked corrupt", where + ".incompatible_features");
    const known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_COMPRESSION_TYPE;
    if (inc & ~known) fail("E_UNSUPPORTED", `incompatible features 0x${inc.toString(16)} (external data file, extended L2 or unknown)`, where + ".incompatible_features");
    if (inc & QCOW2_INCOMPAT_COMPRESSION_TYPE) {
      if (h.header_length <= 104) fail("E_IMAGE", "compression type feature without a compression_type field", where + ".header_length");
      const type = src.readAt(104, 1)[0];
      if (type !== 0) fail("E_UNSUPPORTED", `compression type ${type} (only zlib/deflate is read)`, where + ".compression_type");
    }
  }
  const sizeBytes = h.size;
  const perTable = l2EntriesPerTable(C);
  const l1Needed = l1SizeFor(sizeBytes, C);
  if (h.l1_size < l1Needed) fail("E_IMAGE", `l1_size ${h.l1_size} is smaller than the ${l1Needed} entries the virtual size needs`, where + ".l1_size");
  if (l1Needed * 8 > QCOW2_MAX_L1_BYTES) fail("E_IMAGE", `L1 table of ${l1Needed} entries exceeds 32 MiB`, where + ".l1_size");
  checkRange(src, h.l1_table_offset, l1Needed * 8, C, where + ".l1_table_offset");

  const x = compressedOffsetBits(h.cluster_bits);
  let l1v: DataView | undefined;
  const l1Entry = (i: number): number => {
    if (!l1v) {
      const l1 = src.readAt(h.l1_table_offset, l1Needed * 8);
      l1v = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
    }
    // ">>> 0": a bitwise AND is a signed 32-bit result, so an offset with bit 31 set would turn negative.
    return (l1v.getUint32(i * 8) & 0x00ff_ffff) * TWO32 + ((l1v.getUint32(i * 8 + 4) & 0xffff_fe00) >>> 0);
  };
  let cachedL2: { l1Index: number; view: DataView; offsetBytes: number } | undefined;
  const l2Table = (l1Index: number): { view: DataView; offsetBytes: number } | undefined => {
    if (cachedL2?.l1Index === l1Index) return cachedL2;
    const l2Off = l1Entry(l1Index);
    if (l2Off === 0) return undefined;
    checkRange(src, l2Off, C, C, `L1[${l1Index}]`);
    const l2 = src.readAt(l2Off, C);
    cachedL2 = { l1Index, view: new DataView(l2.buffer, l2.byteOffset, l2.byteLength), offsetBytes: l2Off };
    return cachedL2;
  };
  /** The guest cluster's bytes (cut at the virtual size), or undefined when it reads as zeros. */
  const cluster = (guestCluster: number): Uint8Array | undefined => {
    const i = Math.floor(guestCluster / perTable);
    const j = guestCluster % perTable;
    const t = l2Table(i);
    if (!t) return undefined;
    const guestOff = guestCluster * C;
    const lengthBytes = Math.min(C, sizeBytes - guestOff);
    const hi = t.view.getUint32(j * 8);
    const lo = t.view.getUint32(j * 8 + 4);
    const place = `L2[${i}][${j}] at 0x${(t.offsetBytes + j * 8).toString(16)}`;
    if (hi & 0x4000_0000) {
      // Compressed: bits 0..x-1 host byte offset, x..61 additional sectors.
      const hostOff = (hi & (2 ** (x - 32) - 1)) * TWO32 + lo;
      const sectors = (hi >>> (x - 32)) & (2 ** (62 - x) - 1);
      const csize = (sectors + 1) * QCOW2_SECTOR_BYTES - (hostOff % QCOW2_SECTOR_BYTES);
      if (hostOff >= src.sizeBytes) fail("E_IMAGE", `compressed cluster offset ${hostOff} beyond the file (${src.sizeBytes})`, place);
      const data = src.readAt(hostOff, Math.min(csize, src.sizeBytes - hostOff));
      const out = new Uint8Array(C);
      let got: Uint8Array;
      try {
        got = inflateSync(data, { out });
      } catch (e) {
        return fail("E_IMAGE", `compressed cluster does not inflate: ${(e as Error).message}`, place);
      }
      if (got.length < lengthBytes) fail("E_IMAGE", `compressed cluster inflates to ${got.length} bytes, expected ${C}`, place);
      return out.subarray(0, lengthBytes);
    }
    const hostOff = (hi & 0x00ff_ffff) * TWO32 + ((lo & 0xffff_fe00) >>> 0);
    if (hostOff === 0) return undefined; // unallocated, or the "reads as zeros" flag
    if (lo & 1) return undefined; // zero flag with a preallocated cluster
    checkRange(src, hostOff, C, C, place);
    return src.readAt(hostOff, lengthBytes);
  };
  const clusterCount = divCeil(sizeBytes, C);
  return {
    sizeBytes,
    clusterBytes: C,
    version: h.version,
    *extents(): Generator<Extent> {
      for (let i = 0; i < l1Needed; i++) {
        if (l1Entry(i) === 0) continue;
        const last = Math.min(clusterCount, (i + 1) * perTable);
        for (let g = i * perTable; g < last; g++) {
          const bytes = cluster(g);
          if (bytes) yield { offsetBytes: g * C, lengthBytes: bytes.length, source: { kind: "bytes", bytes } };
        }
      }
    },
    readAt(offsetBytes: number, lengthBytes: number): Uint8Array {
      if (!Number.isSafeInteger(offsetBytes) || !Number.isSafeInteger(lengthBytes) || offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > sizeBytes) {
        fail("E_USAGE", `range ${offsetBytes}+${lengthBytes} outside the virtual disk (${sizeBytes} bytes)`, "qcow2.readAt");
      }
      const out = new Uint8Array(lengthBytes);
      let pos = offsetBytes;
      while (pos < offsetBytes + lengthBytes) {
        const g = Math.floor(pos / C);
        const inC = pos - g * C;
        const n = Math.min(C - inC, offsetBytes + lengthBytes - pos);
        const bytes = cluster(g);
        if (bytes) out.set(bytes.subarray(inC, inC + n), pos - offsetBytes);
        pos += n;
      }
      return out;
    },
  };
}

function checkRange(src: ReadAt, offsetBytes: number, lengthBytes: number, alignBytes: number, where: string): void {
  if (offsetBytes % alignBytes !== 0) fail("E_IMAGE", `offset 0x${offsetBytes.toString(16)} is not ${alignBytes}-byte aligned`, where);
  if (lengthBytes === 0) return; // nothing to read (an empty disk's L1 table)
  if (offsetBytes <= 0 || offsetBytes + lengthBytes > src.sizeBytes) {
    fail("E_IMAGE", `range 0x${offsetBytes.toString(16)}+${lengthBytes} lies outside the file (${src.sizeBytes} bytes)`, where);
  }
}
