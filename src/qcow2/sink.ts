/**
 * Streaming qcow2 v3 writer (an ImageSink). One pass, no temporary raw image.
 *
 * Host layout, in the order it is written:
 *   cluster 0                 header (written last, so a half-written file has no magic)
 *   data                      guest clusters in guest order as windows arrive;
 *                             all-zero clusters are skipped (unallocated);
 *                             with compression, compressed clusters packed back
 *                             to back (they may share host clusters), a cluster
 *                             that does not shrink stored whole at the next
 *                             cluster boundary
 *   L2 tables                 one cluster each, only for L1 ranges holding data
 *   L1 table                  l1_size entries, rounded up to whole clusters
 *   refcount table            then the refcount blocks, covering every host
 *   refcount blocks           cluster including themselves (plan.ts)
 *
 * Writes are sequential except the final header; the file is exactly as long
 * as the last refcount block's end.
 */
import { fail } from "../bin/errors.js";
import { divCeil } from "../bin/int.js";
import { defaultDeflateWorkers, OrderedDeflate } from "../io/deflate-pool.js";
import { writeFully } from "../io/raw.js";
import type { ImageSink } from "../io/sink.js";
import type { Window } from "../io/windows.js";
import { isAllZero } from "../io/zero.js";
import { encodeHeaderCluster } from "./header.js";
import { checkL1Size, clusterBitsOf, l1SizeFor, l2EntriesPerTable, QCOW2_DEFAULT_CLUSTER_BYTES, refcountLayout, refcountsPerBlock } from "./plan.js";
import { compressedAdditionalSectors, compressedOffsetBits, setL2CompressedFast, setL2StandardFast } from "./tables.js";

export interface Qcow2Options {
  /** Cluster size, a power of two from 512 to 2 MiB; default 65536. */
  clusterBytes?: number;
  /** Deflate each cluster (qcow2 compressed clusters); default false. */
  compress?: boolean;
  /** Compression threads; 1 compresses inline. Output does not depend on it. */
  workers?: number;
}

const STAGING_BYTES = 1 << 20;
const MAX_REFCOUNT = 0xffff; // refcount_order 4

/** Sequential positional writer with a staging buffer, so small pieces become large writes. */
class SequentialWriter {
  private readonly staging = new Uint8Array(STAGING_BYTES);
  private stagedBytes = 0;
  private stagingStartBytes: number;
  constructor(private readonly fd: number, startBytes: number) {
    this.stagingStartBytes = startBytes;
  }
  get positionBytes(): number {
    return this.stagingStartBytes + this.stagedBytes;
  }
  append(bytes: Uint8Array): void {
    if (bytes.length >= STAGING_BYTES) {
      this.flush();
      writeFully(this.fd, bytes, this.stagingStartBytes);
      this.stagingStartBytes += bytes.length;
      return;
    }
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, STAGING_BYTES - this.stagedBytes);
      this.staging.set(bytes.subarray(done, done + n), this.stagedBytes);
      this.stagedBytes += n;
      done += n;
      if (this.stagedBytes === STAGING_BYTES) this.flush();
    }
  }
  appendZeros(lengthBytes: number): void {
    while (lengthBytes > 0) {
      const n = Math.min(lengthBytes, STAGING_BYTES - this.stagedBytes);
      this.staging.fill(0, this.stagedBytes, this.stagedBytes + n);
      this.stagedBytes += n;
      lengthBytes -= n;
      if (this.stagedBytes === STAGING_BYTES) this.flush();
    }
  }
  flush(): void {
    if (this.stagedBytes === 0) return;
    writeFully(this.fd, this.staging.subarray(0, this.stagedBytes), this.stagingStartBytes);
    this.stagingStartBytes += this.stagedBytes;
    this.stagedBytes = 0;
  }
}

export class Qcow2Sink implements ImageSink {
  readonly format = "qcow2";
  readonly alignBytes: number;
  private readonly clusterBytes: number;
  private readonly clusterBits: number;
  private readonly compress: boolean;
  private readonly workers: number;
  private readonly out: SequentialWriter;
  private virtualSizeBytes = -1;
  /** Refcount of each host cluster so far (in-memory model, not an on-disk codec). */
  private refcounts = new Uint16Array(1024);
  /** L2 tables by L1 index, in the on-disk big-endian form; created on first use, in increasing order. */
  private readonly l2Tables = new Map<number, Uint8Array>();
  private ordered: OrderedDeflate<number> | undefined;
  private lastGuestCluster = -1;

  constructor(private readonly fd: number, opts: Qcow2Options = {}) {
    this.clusterBytes = opts.clusterBytes ?? QCOW2_DEFAULT_CLUSTER_BYTES;
    this.clusterBits = clusterBitsOf(this.clusterBytes);
    this.alignBytes = this.clusterBytes;
    this.compress = opts.compress ?? false;
    this.workers = opts.workers ?? defaultDeflateWorkers();
    // Cluster 0 is the header, written at the very end.
    this.out = new SequentialWriter(fd, this.clusterBytes);
    this.refcounts[0] = 1;
  }

  begin(totalBytes: number): void {
    if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0 || totalBytes % 512 !== 0) {
      fail("E_UNSUPPORTED", `qcow2 virtual size must be a positive multiple of 512 bytes, got ${totalBytes}`, "qcow2");
    }
    checkL1Size(totalBytes, this.clusterBytes);
    this.virtualSizeBytes = totalBytes;
    if (this.compress) {
      this.ordered = new OrderedDeflate<number>({ framing: "raw", workers: this.workers }, (guestCluster, input, compressed) =>
        this.storeCompressed(guestCluster, input, compressed),
      );
    }
  }

  async write(w: Window): Promise<void> {
    const C = this.clusterBytes;
    const d = w.data;
    if (w.offsetBytes % C !== 0) fail("E_INTERNAL", `window at ${w.offsetBytes} is not cluster aligned`, "qcow2");
    const firstCluster = w.offsetBytes / C;
    if (firstCluster <= this.lastGuestCluster) fail("E_INTERNAL", `window at ${w.offsetBytes} out of order`, "qcow2");
    this.lastGuestCluster = firstCluster + divCeil(d.length, C) - 1;
    if (this.ordered) {
      for (let i = 0; i < d.length; i += C) {
        const end = Math.min(i + C, d.length);
        if (isAllZero(d, i, end)) continue;
        const copy = new Uint8Array(C); // a full cluster: the tail past the disk end is zero
        copy.set(d.subarray(i, end));
        await this.ordered.push(firstCluster + i / C, copy);
      }
      return;
    }
    // Uncompressed: runs of non-zero clusters are contiguous on the host too.
    let runStart = -1;
    const flushRun = (runEnd: number) => {
      for (let j = runStart; j < runEnd; j += C) this.mapStandard(firstCluster + j / C, this.out.positionBytes + (j - runStart));
      this.out.append(d.subarray(runStart, runEnd));
      const tail = (runEnd - runStart) % C;
      if (tail !== 0) this.out.appendZeros(C - tail); // last cluster of the disk, cut short
      runStart = -1;
    };
    for (let i = 0; i < d.length; i += C) {
      const end = Math.min(i + C, d.length);
      if (isAllZero(d, i, end)) {
        if (runStart >= 0) flushRun(i);
      } else if (runStart < 0) runStart = i;
    }
    if (runStart >= 0) flushRun(d.length);
  }

  private l2For(guestCluster: number): { table: DataView; index: number } {
    const perTable = l2EntriesPerTable(this.clusterBytes);
    const l1Index = Math.floor(guestCluster / perTable);
    let t = this.l2Tables.get(l1Index);
    if (!t) {
      t = new Uint8Array(this.clusterBytes);
      this.l2Tables.set(l1Index, t);
    }
    return { table: new DataView(t.buffer, t.byteOffset, t.byteLength), index: guestCluster % perTable };
  }

  private incRefcount(hostCluster: number): void {
    if (hostCluster >= this.refcounts.length) {
      const grown = new Uint16Array(Math.max(this.refcounts.length * 2, hostCluster + 1));
      grown.set(this.refcounts);
      this.refcounts = grown;
    }
    if (this.refcounts[hostCluster] === MAX_REFCOUNT) fail("E_FORMAT", `refcount of host cluster ${hostCluster} overflows 16 bits`, "qcow2");
    this.refcounts[hostCluster]++;
  }

  private mapStandard(guestCluster: number, hostOffsetBytes: number): void {
    const { table, index } = this.l2For(guestCluster);
    setL2StandardFast(table, index, hostOffsetBytes);
    this.incRefcount(hostOffsetBytes / this.clusterBytes);
  }

  private storeCompressed(guestCluster: number, input: Uint8Array, compressed: Uint8Array): void {
    const C = this.clusterBytes;
    if (compressed.length < C) {
      const start = this.out.positionBytes;
      const sectors = compressedAdditionalSectors(start, compressed.length);
      if (start >= 2 ** compressedOffsetBits(this.clusterBits)) fail("E_FIT", "image too large for compressed cluster offsets", "qcow2");
      const { table, index } = this.l2For(guestCluster);
      setL2CompressedFast(table, index, start, sectors, this.clusterBits);
      this.out.append(compressed);
      // Every host cluster the compressed bytes touch holds one more reference.
      const last = Math.floor((start + compressed.length - 1) / C);
      for (let hc = Math.floor(start / C); hc <= last; hc++) this.incRefcount(hc);
      return;
    }
    this.alignToCluster();
    this.mapStandard(guestCluster, this.out.positionBytes);
    this.out.append(input);
  }

  private alignToCluster(): void {
    const r = this.out.positionBytes % this.clusterBytes;
    if (r !== 0) this.out.appendZeros(this.clusterBytes - r);
  }

  async abort(): Promise<void> {
    await this.ordered?.close();
  }

  async finish(): Promise<void> {
    if (this.virtualSizeBytes < 0) fail("E_INTERNAL", "finish() before begin()", "qcow2");
    const C = this.clusterBytes;
    if (this.ordered) {
      try {
        await this.ordered.flush();
      } finally {
        await this.ordered.close();
      }
    }
    this.alignToCluster();

    // L2 tables, in L1 order.
    const l1Size = l1SizeFor(this.virtualSizeBytes, C);
    const l1Bytes = new Uint8Array(divCeil(l1Size * 8, C) * C);
    const l1 = new DataView(l1Bytes.buffer);
    for (const [l1Index, table] of this.l2Tables) {
      const at = this.out.positionBytes;
      setL2StandardFast(l1, l1Index, at); // L1 entry: offset | COPIED, same bit layout
      this.incRefcount(at / C);
      this.out.append(table);
    }
    // L1 table.
    const l1TableOffsetBytes = this.out.positionBytes;
    for (let i = 0; i < l1Bytes.length / C; i++) this.incRefcount(l1TableOffsetBytes / C + i);
    this.out.append(l1Bytes);

    // Refcount table, then refcount blocks.
    const used = this.out.positionBytes / C;
    const { tableClusters, blockCount } = refcountLayout(used, C);
    const refcountTableOffsetBytes = this.out.positionBytes;
    const firstBlockCluster = used + tableClusters;
    const totalClusters = firstBlockCluster + blockCount;
    for (let hc = used; hc < totalClusters; hc++) this.incRefcount(hc);
    const rt = new Uint8Array(tableClusters * C);
    const rtView = new DataView(rt.buffer);
    for (let b = 0; b < blockCount; b++) setRefcountTableEntry(rtView, b, (firstBlockCluster + b) * C);
    this.out.append(rt);
    const perBlock = refcountsPerBlock(C);
    const block = new Uint8Array(C);
    const bv = new DataView(block.buffer);
    for (let b = 0; b < blockCount; b++) {
      block.fill(0);
      const first = b * perBlock;
      const n = Math.min(perBlock, totalClusters - first);
      for (let i = 0; i < n; i++) bv.setUint16(i * 2, this.refcounts[first + i], false);
      this.out.append(block);
    }
    this.out.flush();

    // Header last.
    writeFully(
      this.fd,
      encodeHeaderCluster({
        clusterBits: this.clusterBits,
        virtualSizeBytes: this.virtualSizeBytes,
        l1Size,
        l1TableOffsetBytes,
        refcountTableOffsetBytes,
        refcountTableClusters: tableClusters,
      }),
      0,
    );
  }
}

/** Refcount table entry: the refcount block's host offset, big-endian u64, no flags. */
function setRefcountTableEntry(d: DataView, index: number, blockOffsetBytes: number): void {
  d.setUint32(index * 8, Math.floor(blockOffsetBytes / 0x1_0000_0000), false);
  d.setUint32(index * 8 + 4, blockOffsetBytes % 0x1_0000_0000, false);
}
