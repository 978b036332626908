/**
 * Streaming VMDK streamOptimized writer (an ImageSink). Sequential writes
 * only, so it can write to a pipe (stdout) as well as to a file.
 *
 * Stream layout (sectors of 512 bytes), VMware Virtual Disk Format 1.1,
 * "Stream-Optimized Compressed Sparse Extents":
 *   0                 SparseExtentHeader, gdOffset = GD_AT_END
 *   1..               embedded descriptor, overHead = 1 + its sectors
 *   grains            for each non-zero 64 KiB grain, in guest order:
 *                     grain marker { lba, size } + zlib data, padded to a sector
 *   grain tables      each GT follows the grains it maps: GT marker + 4 sectors;
 *                     a GT whose grains are all zero is not written (GD entry 0)
 *   GD marker + grain directory
 *   footer marker + footer (the header again, gdOffset = the GD's sector)
 *   end-of-stream marker
 * All-zero grains are absent (GT entry 0). The last grain of a disk that is
 * not a multiple of 64 KiB is compressed as a whole grain, zero-padded.
 */
import { fail } from "../bin/errors.js";
import { divCeil } from "../bin/int.js";
import type { BuildContext } from "../context/index.js";
import { defaultDeflateWorkers, OrderedDeflate } from "../io/deflate-pool.js";
import type { ImageSink } from "../io/sink.js";
import type { Window } from "../io/windows.js";
import { isAllZero } from "../io/zero.js";
import { cidFromUuid, encodeDescriptor, type VmdkAdapterType } from "./descriptor.js";
import { encodeMarker, encodeStreamHeader, GRAIN_SECTORS, GrainMarker, MARKER_FOOTER, MARKER_GD, MARKER_GT, MARKER_EOS, NUM_GTES_PER_GT, SECTOR_BYTES } from "./header.js";
import { encodeSectorTableFast, GT_SECTORS } from "./tables.js";

export interface VmdkOptions {
  /** CID and ddb.uuid are derived from it (ctx.namedUuid). */
  ctx: BuildContext;
  /** Default "ide" (qemu-img's default). */
  adapterType?: VmdkAdapterType;
  /** Compression threads; 1 compresses inline. Output does not depend on it. */
  workers?: number;
}

export interface SequentialOut {
  /** Receives each buffer exactly once and may keep it: the sink never reuses a buffer it passed. */
  write(bytes: Uint8Array): void | Promise<void>;
}

export const GRAIN_BYTES = GRAIN_SECTORS * SECTOR_BYTES;
const CHUNK_BYTES = 1 << 20;
const MAX_SECTOR_U32 = 0xffff_ffff;

/** Collects small pieces into ~1 MiB chunks; a fresh buffer per chunk, since `out` may keep it. */
class ChunkedOut {
  private chunk = new Uint8Array(CHUNK_BYTES);
  private used = 0;
  /** Bytes accepted so far. */
  positionBytes = 0;
  constructor(private readonly out: SequentialOut) {}
  async append(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, CHUNK_BYTES - this.used);
      this.chunk.set(bytes.subarray(done, done + n), this.used);
      this.used += n;
      done += n;
      if (this.used === CHUNK_BYTES) await this.flush();
    }
    this.positionBytes += bytes.length;
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.used === CHUNK_BYTES ? this.chunk : this.chunk.slice(0, this.used);
    this.chunk = new Uint8Array(CHUNK_BYTES);
    this.used = 0;
    await this.out.write(full);
  }
}

export class VmdkSink implements ImageSink {
  readonly format = "vmdk";
  readonly alignBytes = GRAIN_BYTES;
  private readonly out: ChunkedOut;
  private readonly adapterType: VmdkAdapterType;
  private readonly workers: number;
  private readonly ctx: BuildContext;
  private capacitySectors = -1;
  private descriptorSectors = 0;
  private overHeadSectors = 0;
  /** Grain directory: sector of each grain table's data, 0 when absent. */
  private gd = new Uint32Array(0);
  private gtIndex = -1;
  private readonly gt = new Uint32Array(NUM_GTES_PER_GT);
  private gtUsed = false;
  private ordered: OrderedDeflate<number> | undefined;
  private lastGrain = -1;

  constructor(out: SequentialOut, opts: VmdkOptions) {
    this.out = new ChunkedOut(out);
    this.ctx = opts.ctx;
    this.adapterType = opts.adapterType ?? "ide";
    this.workers = opts.workers ?? defaultDeflateWorkers();
  }

  private get sector(): number {
    return this.out.positionBytes / SECTOR_BYTES;
  }

  async begin(totalBytes: number): Promise<void> {
    if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0 || totalBytes % SECTOR_BYTES !== 0) {
      fail("E_UNSUPPORTED", `VMDK capacity must be a positive multiple of 512 bytes, got ${totalBytes}`, "vmdk");
    }
    this.capacitySectors = totalBytes / SECTOR_BYTES;
    const descriptor = encodeDescriptor({
      capacitySectors: this.capacitySectors,
      cid: cidFromUuid(this.ctx.namedUuid("vmdk-cid")),
      uuid: this.ctx.namedUuid("vmdk-ddb-uuid"),
      adapterType: this.adapterType,
    });
    this.descriptorSectors = descriptor.length / SECTOR_BYTES;
    this.overHeadSectors = 1 + this.descriptorSectors;
    const grains = divCeil(this.capacitySectors, GRAIN_SECTORS);
    this.gd = new Uint32Array(divCeil(grains, NUM_GTES_PER_GT));
    await this.out.append(encodeStreamHeader({ capacitySectors: this.capacitySectors, descriptorSectors: this.descriptorSectors, overHeadSectors: this.overHeadSectors, gdSector: "end" }));
    await this.out.append(descriptor);
    this.ordered = new OrderedDeflate<number>({ framing: "zlib", workers: this.workers }, (grain, _input, compressed) => this.emitGrain(grain, compressed));
  }

  async write(w: Window): Promise<void> {
    const d = w.data;
    if (!this.ordered) fail("E_INTERNAL", "write() before begin()", "vmdk");
    if (w.offsetBytes % GRAIN_BYTES !== 0) fail("E_INTERNAL", `window at ${w.offsetBytes} is not grain aligned`, "vmdk");
    const firstGrain = w.offsetBytes / GRAIN_BYTES;
    if (firstGrain <= this.lastGrain) fail("E_INTERNAL", `window at ${w.offsetBytes} out of order`, "vmdk");
    this.lastGrain = firstGrain + divCeil(d.length, GRAIN_BYTES) - 1;
    for (let i = 0; i < d.length; i += GRAIN_BYTES) {
      const end = Math.min(i + GRAIN_BYTES, d.length);
      if (isAllZero(d, i, end)) continue;
      const copy = new Uint8Array(GRAIN_BYTES); // whole grain, zero past the disk end
      copy.set(d.subarray(i, end));
      await this.ordered.push(firstGrain + i / GRAIN_BYTES, copy);
    }
  }

  private async emitGrain(grain: number, compressed: Uint8Array): Promise<void> {
    const gtIndex = Math.floor(grain / NUM_GTES_PER_GT);
    if (gtIndex !== this.gtIndex) {
      await this.emitGrainTable();
      this.gtIndex = gtIndex;
    }
    const at = this.sector;
    if (at > MAX_SECTOR_U32) fail("E_FIT", "the VMDK stream exceeds 2 TiB, beyond 32-bit grain table entries", "vmdk");
    const bytes = new Uint8Array(divCeil(GrainMarker.sizeBytes + compressed.length, SECTOR_BYTES) * SECTOR_BYTES);
    GrainMarker.encodeInto({ lba: grain * GRAIN_SECTORS, size: compressed.length }, bytes, 0);
    bytes.set(compressed, GrainMarker.sizeBytes);
    this.gt[grain % NUM_GTES_PER_GT] = at;
    this.gtUsed = true;
    await this.out.append(bytes);
  }

  /** Writes the current grain table (if any grain of it is present) and records it in the GD. */
  private async emitGrainTable(): Promise<void> {
    if (!this.gtUsed) return;
    await this.out.append(encodeMarker(MARKER_GT, GT_SECTORS));
    const at = this.sector;
    if (at > MAX_SECTOR_U32) fail("E_FIT", "the VMDK stream exceeds 2 TiB, beyond 32-bit grain directory entries", "vmdk");
    this.gd[this.gtIndex] = at;
    await this.out.append(encodeSectorTableFast(this.gt));
    this.gt.fill(0);
    this.gtUsed = false;
  }

  async abort(): Promise<void> {
    await this.ordered?.close();
  }

  async finish(): Promise<void> {
    if (!this.ordered) fail("E_INTERNAL", "finish() before begin()", "vmdk");
    try {
      await this.ordered.flush();
    } finally {
      await this.ordered.close();
    }
    await this.emitGrainTable();
    const gdBytes = encodeSectorTableFast(this.gd);
    await this.out.append(encodeMarker(MARKER_GD, gdBytes.length / SECTOR_BYTES));
    const gdSector = this.sector;
    await this.out.append(gdBytes);
    await this.out.append(encodeMarker(MARKER_FOOTER, 1));
    await this.out.append(encodeStreamHeader({ capacitySectors: this.capacitySectors, descriptorSectors: this.descriptorSectors, overHeadSectors: this.overHeadSectors, gdSector }));
    await this.out.append(encodeMarker(MARKER_EOS, 0));
    await this.out.flush();
  }
}
