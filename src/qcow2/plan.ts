/**
 * qcow2 arithmetic (pure): cluster geometry, L1 size and the refcount
 * structures' size. qemu docs/interop/qcow2.txt.
 */
import { fail } from "../bin/errors.js";
import { divCeil, isPow2 } from "../bin/int.js";
import { QCOW2_MAX_CLUSTER_BITS, QCOW2_MIN_CLUSTER_BITS, QCOW2_REFCOUNT_ORDER } from "./header.js";

export const QCOW2_DEFAULT_CLUSTER_BYTES = 65536;

export function clusterBitsOf(clusterBytes: number): number {
  if (!isPow2(clusterBytes) || clusterBytes < 2 ** QCOW2_MIN_CLUSTER_BITS || clusterBytes > 2 ** QCOW2_MAX_CLUSTER_BITS) {
    fail("E_USAGE", `qcow2 cluster size must be a power of two from 512 to 2 MiB, got ${clusterBytes}`, "qcow2.clusterBytes");
  }
  return Math.log2(clusterBytes);
}

/** An L2 table is one cluster of 8-byte entries. */
export const l2EntriesPerTable = (clusterBytes: number) => clusterBytes / 8;

/**
 * L1 entries needed for a virtual size: each L1 entry maps one L2 table,
 * i.e. l2Entries clusters, so l1_size = ceil(size / (clusterBytes * clusterBytes/8)).
 */
export function l1SizeFor(virtualSizeBytes: number, clusterBytes: number): number {
  return divCeil(virtualSizeBytes, clusterBytes * l2EntriesPerTable(clusterBytes));
}

/** qemu refuses to open an image whose L1 table is larger than this (32 MiB). */
export const QCOW2_MAX_L1_BYTES = 32 << 20;

/**
 * Refuses a virtual size whose L1 table qemu would not open with this cluster
 * size (small clusters on a large disk), naming the smallest cluster size
 * that works.
 */
export function checkL1Size(virtualSizeBytes: number, clusterBytes: number): void {
  if (l1SizeFor(virtualSizeBytes, clusterBytes) * 8 <= QCOW2_MAX_L1_BYTES) return;
  let ok = clusterBytes;
  while (ok < 2 << 20 && l1SizeFor(virtualSizeBytes, ok) * 8 > QCOW2_MAX_L1_BYTES) ok *= 2;
  fail("E_LAYOUT", `a ${virtualSizeBytes}-byte disk with ${clusterBytes}-byte clusters needs an L1 table of ${l1SizeFor(virtualSizeBytes, clusterBytes) * 8} bytes, more than the 32 MiB qemu opens: use a cluster size of at least ${ok} bytes`, "qcow2 clusterSize");
}

/**
 * The cluster size for a disk when none is asked for: the default, or the
 * smallest larger power of two whose L1 table qemu opens (only disks over
 * 2 PiB need one), at most 2 MiB.
 */
export function clusterBytesFor(virtualSizeBytes: number): number {
  let c = QCOW2_DEFAULT_CLUSTER_BYTES;
  while (c < 2 << 20 && l1SizeFor(virtualSizeBytes, c) * 8 > QCOW2_MAX_L1_BYTES) c *= 2;
  return c;
}

/** A refcount block is one cluster of (1 << refcount_order)-bit entries: clusterBytes*8 >> order. */
export const refcountsPerBlock = (clusterBytes: number) => (clusterBytes * 8) >> QCOW2_REFCOUNT_ORDER;

export interface RefcountLayout {
  /** Clusters of the refcount table (8-byte entries, one per refcount block). */
  tableClusters: number;
  /** Refcount blocks. */
  blockCount: number;
}

/**
 * Refcount structures appended after `usedClusters` host clusters must count
 * themselves too: find the least B, T with
 *   B >= ceil((usedClusters + T + B) / refcountsPerBlock)  and  T >= ceil(8B / clusterBytes).
 * Iterating from B = T = 0 only ever increases both, and converges in a few
 * steps because each block covers far more clusters than it adds.
 */
export function refcountLayout(usedClusters: number, clusterBytes: number): RefcountLayout {
  const perBlock = refcountsPerBlock(clusterBytes);
  let blockCount = 0;
  let tableClusters = 0;
  for (let i = 0; i < 64; i++) {
    const b = divCeil(usedClusters + tableClusters + blockCount, perBlock);
    const t = Math.max(1, divCeil(b * 8, clusterBytes));
    if (b === blockCount && t === tableClusters) return { tableClusters, blockCount };
    blockCount = b;
    tableClusters = t;
  }
  return fail("E_INTERNAL", "refcount layout did not converge");
}
