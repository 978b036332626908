/**
 * qcow2 image header, qemu docs/interop/qcow2.txt ("Header"), version 3.
 * Big-endian. Host offset 0, the first cluster.
 *
 *  off len field
 *  0x00  4  magic                    "QFI\xfb"
 *  0x04  4  version                  3
 *  0x08  8  backing_file_offset      0: no backing file
 *  0x10  4  backing_file_size
 *  0x14  4  cluster_bits             9..21
 *  0x18  8  size                     virtual disk size in bytes
 *  0x20  4  crypt_method             0: none
 *  0x24  4  l1_size                  entries in the active L1 table
 *  0x28  8  l1_table_offset          cluster aligned
 *  0x30  8  refcount_table_offset    cluster aligned
 *  0x38  4  refcount_table_clusters
 *  0x3c  4  nb_snapshots
 *  0x40  8  snapshots_offset
 *  --- version 3 ---
 *  0x48  8  incompatible_features
 *  0x50  8  compatible_features
 *  0x58  8  autoclear_features
 *  0x60  4  refcount_order           refcount width = 1 << refcount_order bits
 *  0x64  4  header_length            104: no compression_type byte (zlib)
 *
 * Header extensions follow at header_length, each { u32 type, u32 length,
 * data padded to 8 bytes }, closed by the end marker (type 0, length 0).
 */
import { defineStruct } from "../bin/struct.js";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const QCOW2_VERSION = 3;
/** 16-bit refcounts, what qemu-img creates by default. */
export const QCOW2_REFCOUNT_ORDER = 4;
export const QCOW2_HEADER_LENGTH_V3 = 104;
export const QCOW2_MIN_CLUSTER_BITS = 9;
export const QCOW2_MAX_CLUSTER_BITS = 21;
/** Header extension type 0: end of the header extension area. */
export const QCOW2_EXT_END = 0x00000000;

/** Incompatible feature bits (qcow2.txt "incompatible_features"). */
export const QCOW2_INCOMPAT_DIRTY = 1 << 0;
export const QCOW2_INCOMPAT_CORRUPT = 1 << 1;
export const QCOW2_INCOMPAT_EXTERNAL_DATA = 1 << 2;
export const QCOW2_INCOMPAT_COMPRESSION_TYPE = 1 << 3;
export const QCOW2_INCOMPAT_EXTENDED_L2 = 1 << 4;

export const Qcow2Header = defineStruct("Qcow2Header", 0x68, {
  magic: { off: 0x00, type: "u32be" },
  version: { off: 0x04, type: "u32be" },
  backing_file_offset: { off: 0x08, type: "u64be" },
  backing_file_size: { off: 0x10, type: "u32be" },
  cluster_bits: { off: 0x14, type: "u32be" },
  size: { off: 0x18, type: "u64be" },
  crypt_method: { off: 0x20, type: "u32be" },
  l1_size: { off: 0x24, type: "u32be" },
  l1_table_offset: { off: 0x28, type: "u64be" },
  refcount_table_offset: { off: 0x30, type: "u64be" },
  refcount_table_clusters: { off: 0x38, type: "u32be" },
  nb_snapshots: { off: 0x3c, type: "u32be" },
  snapshots_offset: { off: 0x40, type: "u64be" },
  incompatible_features: { off: 0x48, type: "u64be" },
  compatible_features: { off: 0x50, type: "u64be" },
  autoclear_features: { off: 0x58, type: "u64be" },
  refcount_order: { off: 0x60, type: "u32be" },
  header_length: { off: 0x64, type: "u32be" },
});

/** Header extension prefix, qcow2.txt "Header extensions". Big-endian. */
export const Qcow2HeaderExtension = defineStruct("Qcow2HeaderExtension", 8, {
  type: { off: 0, type: "u32be" },
  length: { off: 4, type: "u32be" },
});

export interface Qcow2HeaderFields {
  clusterBits: number;
  virtualSizeBytes: number;
  l1Size: number;
  l1TableOffsetBytes: number;
  refcountTableOffsetBytes: number;
  refcountTableClusters: number;
}

/**
 * The whole first cluster: header, the end-of-extensions marker, zeros to the
 * end of the cluster (every byte written).
 */
export function encodeHeaderCluster(f: Qcow2HeaderFields): Uint8Array {
  const out = new Uint8Array(2 ** f.clusterBits);
  Qcow2Header.encodeInto(
    {
      magic: QCOW2_MAGIC,
      version: QCOW2_VERSION,
      backing_file_offset: 0,
      backing_file_size: 0,
      cluster_bits: f.clusterBits,
      size: f.virtualSizeBytes,
      crypt_method: 0,
      l1_size: f.l1Size,
      l1_table_offset: f.l1TableOffsetBytes,
      refcount_table_offset: f.refcountTableOffsetBytes,
      refcount_table_clusters: f.refcountTableClusters,
      nb_snapshots: 0,
      snapshots_offset: 0,
      incompatible_features: 0,
      compatible_features: 0,
      autoclear_features: 0,
      refcount_order: QCOW2_REFCOUNT_ORDER,
      header_length: QCOW2_HEADER_LENGTH_V3,
    },
    out,
    0,
  );
  Qcow2HeaderExtension.encodeInto({ type: QCOW2_EXT_END, length: 0 }, out, QCOW2_HEADER_LENGTH_V3);
  return out;
}
