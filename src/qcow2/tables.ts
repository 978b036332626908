/**
 * qcow2 L1/L2 table entries and refcount entries, qemu docs/interop/qcow2.txt
 * ("Cluster mapping", "Compressed Clusters Descriptor", "Host cluster
 * management"). All entries are big-endian; L1 and L2 entries are 64-bit.
 *
 * L1 entry            L2 entry, standard cluster       L2 entry, compressed cluster
 *  bit  0..8  0        bit  0     all zeros (v3)        bit 0..x-1   host byte offset
 *  bit  9..55 L2 off   bit  1..8  0                     bit x..61    additional 512-byte
 *  bit 56..62 0        bit  9..55 host cluster offset                sectors
 *  bit 63     COPIED   bit 56..61 0                     bit 62       1 (compressed)
 *                      bit 62     0                     bit 63       0
 *                      bit 63     COPIED                x = 62 - (cluster_bits - 8)
 *
 * COPIED means "refcount is exactly 1". An all-zero entry is an unallocated
 * cluster, which reads as zeros when there is no backing file.
 *
 * Two codecs: a readable one (BigInt with named bits) and a fast one used by
 * the writer on whole tables (two 32-bit halves, no BigInt); a property test
 * proves they write the same bytes.
 */
import { fail } from "../bin/errors.js";

export const QCOW_OFLAG_COPIED = 1n << 63n;
export const QCOW_OFLAG_COMPRESSED = 1n << 62n;
export const QCOW_OFLAG_ZERO = 1n;
/** Bits 9..55: host cluster offset in L1 and standard L2 entries. */
export const L1E_OFFSET_MASK = 0x00ff_ffff_ffff_fe00n;
export const L2E_OFFSET_MASK = 0x00ff_ffff_ffff_fe00n;
export const QCOW2_SECTOR_BYTES = 512;

export type L2Entry =
  | { readonly kind: "unallocated" }
  | { readonly kind: "zero" }
  | { readonly kind: "standard"; readonly hostOffsetBytes: number; readonly copied: boolean }
  | { readonly kind: "compressed"; readonly hostOffsetBytes: number; readonly additionalSectors: number };

/** x in the compressed descriptor: the bit where the sector count starts. */
export function compressedOffsetBits(clusterBits: number): number {
  return 62 - (clusterBits - 8);
}

/** Readable codec: one L2 entry as a 64-bit value. */
export function encodeL2Entry(e: L2Entry, clusterBits: number): bigint {
  switch (e.kind) {
    case "unallocated":
      return 0n;
    case "zero":
      return QCOW_OFLAG_ZERO;
    case "standard": {
      const off = BigInt(e.hostOffsetBytes);
      if ((off & ~L2E_OFFSET_MASK) !== 0n) fail("E_FORMAT", `host offset ${e.hostOffsetBytes} is not a cluster offset below 2^56`, "L2Entry.offset");
      return off | (e.copied ? QCOW_OFLAG_COPIED : 0n);
    }
    case "compressed": {
      const x = BigInt(compressedOffsetBits(clusterBits));
      const off = BigInt(e.hostOffsetBytes);
      const sectors = BigInt(e.additionalSectors);
      if (off >= 1n << x) fail("E_FORMAT", `compressed host offset ${e.hostOffsetBytes} needs more than ${x} bits`, "L2Entry.compressed.offset");
      if (sectors >= 1n << (62n - x)) fail("E_FORMAT", `compressed sector count ${e.additionalSectors} does not fit ${62n - x} bits`, "L2Entry.compressed.sectors");
      return QCOW_OFLAG_COMPRESSED | (sectors << x) | off;
    }
  }
}

/** Readable codec: decodes one 64-bit L2 entry. */
export function decodeL2Entry(v: bigint, clusterBits: number): L2Entry {
  if (v & QCOW_OFLAG_COMPRESSED) {
    const x = BigInt(compressedOffsetBits(clusterBits));
    return {
      kind: "compressed",
      hostOffsetBytes: Number(v & ((1n << x) - 1n)),
      additionalSectors: Number((v >> x) & ((1n << (62n - x)) - 1n)),
    };
  }
  const off = v & L2E_OFFSET_MASK;
  if (off === 0n) return v & QCOW_OFLAG_ZERO ? { kind: "zero" } : { kind: "unallocated" };
  return { kind: "standard", hostOffsetBytes: Number(off), copied: (v & QCOW_OFLAG_COPIED) !== 0n };
}

/** Readable codec for a whole table: entries as big-endian u64s. */
export function encodeL2TableReadable(entries: readonly L2Entry[], clusterBits: number): Uint8Array {
  const out = new Uint8Array(entries.length * 8);
  const d = new DataView(out.buffer, out.byteOffset, out.byteLength);
  entries.forEach((e, i) => d.setBigUint64(i * 8, encodeL2Entry(e, clusterBits), false));
  return out;
}

const TWO32 = 0x1_0000_0000;

/**
 * Fast codec: writes a standard entry (COPIED set, refcount 1) for a
 * cluster-aligned host offset into table `d` at entry `index`.
 */
export function setL2StandardFast(d: DataView, index: number, hostOffsetBytes: number): void {
  d.setUint32(index * 8, (Math.floor(hostOffsetBytes / TWO32) | 0x8000_0000) >>> 0, false);
  d.setUint32(index * 8 + 4, hostOffsetBytes % TWO32, false);
}

/** Fast codec: writes a compressed-cluster descriptor. Values are checked by the caller (planner). */
export function setL2CompressedFast(d: DataView, index: number, hostOffsetBytes: number, additionalSectors: number, clusterBits: number): void {
  const x = compressedOffsetBits(clusterBits); // 49..61, always >= 32
  const hi = Math.floor(hostOffsetBytes / TWO32) + additionalSectors * 2 ** (x - 32) + 0x4000_0000;
  d.setUint32(index * 8, hi >>> 0, false);
  d.setUint32(index * 8 + 4, hostOffsetBytes % TWO32, false);
}

/** Fast codec for the writer's L2 table model: a list of entries, all standard (copied) or compressed. */
export function encodeL2TableFast(entries: readonly L2Entry[], clusterBits: number): Uint8Array {
  const out = new Uint8Array(entries.length * 8);
  const d = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.kind === "standard") {
      if (!e.copied) fail("E_INTERNAL", "the fast L2 codec writes COPIED standard entries only");
      setL2StandardFast(d, i, e.hostOffsetBytes);
    } else if (e.kind === "compressed") setL2CompressedFast(d, i, e.hostOffsetBytes, e.additionalSectors, clusterBits);
    else if (e.kind === "zero") d.setUint32(i * 8 + 4, 1, false);
  }
  return out;
}

/** L1 entry (readable): L2 table offset with COPIED. */
export function encodeL1Entry(l2OffsetBytes: number): bigint {
  const off = BigInt(l2OffsetBytes);
  if ((off & ~L1E_OFFSET_MASK) !== 0n) fail("E_FORMAT", `L2 table offset ${l2OffsetBytes} is not a cluster offset below 2^56`, "L1Entry.offset");
  return off | QCOW_OFLAG_COPIED;
}

/**
 * Additional sectors of a compressed cluster stored at [offset, offset+length):
 * sectors after the one holding the first byte, up to the one holding the
 * last byte (qcow2.txt "Compressed Clusters Descriptor").
 */
export function compressedAdditionalSectors(hostOffsetBytes: number, lengthBytes: number): number {
  return Math.floor((hostOffsetBytes + lengthBytes - 1) / QCOW2_SECTOR_BYTES) - Math.floor(hostOffsetBytes / QCOW2_SECTOR_BYTES);
}
