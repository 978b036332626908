/**
 * DigestSink: SHA-256 of the raw disk bytes, whole and per byte range
 * (partitions), computed from the same windows the image sinks receive, so
 * the digests describe the disk content whatever container format is written.
 * Gaps between windows are hashed as zeros without allocating them.
 */
import { createHash, type Hash } from "node:crypto";
import type { ImageSink } from "./sink.js";
import type { Window } from "./windows.js";

const ZEROS = new Uint8Array(1 << 20);

export interface DigestRange {
  readonly name: string;
  readonly startBytes: number;
  readonly sizeBytes: number;
}

class RangeHash {
  readonly h: Hash = createHash("sha256");
  pos: number;
  constructor(readonly start: number, readonly end: number) {
    this.pos = start;
  }
  /** Feeds [from, to) of the disk, with `data` holding bytes starting at `dataOffset` (or zeros when absent). */
  feed(from: number, to: number, data?: Uint8Array, dataOffset = 0): void {
    const a = Math.max(from, this.pos, this.start);
    const b = Math.min(to, this.end);
    if (b <= a) return;
    if (data) this.h.update(data.subarray(a - dataOffset, b - dataOffset));
    else for (let p = a; p < b; p += ZEROS.length) this.h.update(ZEROS.subarray(0, Math.min(ZEROS.length, b - p)));
    this.pos = b;
  }
}

export class DigestSink implements ImageSink {
  readonly format = "digest";
  readonly alignBytes = 4096;
  private total = 0;
  private whole!: RangeHash;
  private parts: RangeHash[] = [];
  private pos = 0;
  result: { sha256: string; ranges: Record<string, string> } | undefined;

  constructor(private readonly ranges: readonly DigestRange[]) {}

  begin(totalBytes: number): void {
    this.total = totalBytes;
    this.whole = new RangeHash(0, totalBytes);
    this.parts = this.ranges.map((r) => new RangeHash(r.startBytes, r.startBytes + r.sizeBytes));
  }

  private feedAll(from: number, to: number, data?: Uint8Array, dataOffset = 0): void {
    this.whole.feed(from, to, data, dataOffset);
    for (const p of this.parts) p.feed(from, to, data, dataOffset);
  }

  write(w: Window): void {
    if (w.offsetBytes > this.pos) this.feedAll(this.pos, w.offsetBytes);
    this.feedAll(w.offsetBytes, w.offsetBytes + w.data.length, w.data, w.offsetBytes);
    this.pos = w.offsetBytes + w.data.length;
  }

  finish(): void {
    this.feedAll(this.pos, this.total);
    const ranges: Record<string, string> = {};
    this.ranges.forEach((r, i) => (ranges[r.name] = this.parts[i].h.digest("hex")));
    this.result = { sha256: this.whole.h.digest("hex"), ranges };
  }
}
