/** Shared helpers for the qcow2/vmdk oracle tests: build raw + image from the same extents. */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { bytesExtent, type Extent } from "../../src/io/extent.js";
import { pump } from "../../src/io/pump.js";
import { RawSink } from "../../src/io/raw.js";
import type { ImageSink } from "../../src/io/sink.js";
import { run } from "../helpers/tools.js";

export async function writeImage(path: string, extents: readonly Extent[], totalBytes: number, make: (fd: number) => ImageSink): Promise<void> {
  const fd = openSync(path, "w");
  try {
    await pump(extents, totalBytes, [make(fd)]);
  } finally {
    closeSync(fd);
  }
}

export async function writeRaw(path: string, extents: readonly Extent[], totalBytes: number): Promise<void> {
  await writeImage(path, extents, totalBytes, (fd) => new RawSink(fd));
}

/** A file-descriptor-backed sequential `out` for VmdkSink. */
export function fdOut(fd: number): { write(bytes: Uint8Array): void } {
  return {
    write(bytes) {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    },
  };
}

/** Random-access source over a file, for the readers. */
export function fileSource(path: string): { sizeBytes: number; readAt(offsetBytes: number, lengthBytes: number): Uint8Array; close(): void } {
  const fd = openSync(path, "r");
  const sizeBytes = fstatSync(fd).size;
  return {
    sizeBytes,
    readAt(offsetBytes, lengthBytes) {
      const b = new Uint8Array(lengthBytes);
      let done = 0;
      while (done < lengthBytes) {
        const n = readSync(fd, b, done, lengthBytes - done, offsetBytes + done);
        if (n === 0) break;
        done += n;
      }
      return b;
    },
    close: () => closeSync(fd),
  };
}

/** Deterministic pseudo-random bytes (xorshift32), so tests need no Math.random. */
export function pseudoRandom(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < lengthBytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Data that compresses but whose deflate matches reach further back than
 * 4 KiB (a random 6 KiB block repeated), plus runs and text-like bytes.
 */
export function mixedContent(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  const block = pseudoRandom(6144, seed);
  for (let i = 0; i < lengthBytes; i++) {
    const phase = Math.floor(i / 65536) % 4;
    out[i] = phase === 0 ? block[i % 6144] : phase === 1 ? (i >> 7) & 0xff : phase === 2 ? block[(i * 7) % 6144] : 0x41 + (i % 26);
  }
  return out;
}

export interface Case {
  name: string;
  totalBytes: number;
  extents: Extent[];
}

const MiB = 1 << 20;

/** The fixed acceptance cases shared by qcow2 and vmdk. */
export function fixedCases(): Case[] {
  const one = new Uint8Array([0x5a]);
  return [
    { name: "empty disk", totalBytes: 4 * MiB, extents: [] },
    { name: "one byte in the last sector", totalBytes: 4 * MiB, extents: [bytesExtent(4 * MiB - 1, one)] },
    {
      name: "data at cluster and grain boundaries",
      totalBytes: 8 * MiB,
      extents: [
        bytesExtent(0, pseudoRandom(512, 1)),
        bytesExtent(65536 - 3, pseudoRandom(6, 2)),
        bytesExtent(2 * 65536 - 512, pseudoRandom(1024, 3)),
        bytesExtent(MiB - 1, pseudoRandom(2, 4)),
        bytesExtent(4 * MiB - 4096, pseudoRandom(8192, 5)),
        bytesExtent(8 * MiB - 65536, pseudoRandom(65536, 6)),
      ],
    },
    { name: "all data (3 MiB, incompressible + compressible)", totalBytes: 3 * MiB, extents: [bytesExtent(0, pseudoRandom(MiB, 7)), bytesExtent(MiB, mixedContent(2 * MiB, 8))] },
    {
      name: "odd virtual size",
      totalBytes: 5 * MiB + 3 * 512,
      extents: [bytesExtent(0, mixedContent(70000, 9)), bytesExtent(5 * MiB + 2 * 512 + 7, pseudoRandom(505, 10))],
    },
    {
      name: "more than one L2 table / grain table",
      totalBytes: 40 * MiB,
      extents: [bytesExtent(MiB, mixedContent(65536, 11)), bytesExtent(33 * MiB, pseudoRandom(200000, 12)), bytesExtent(40 * MiB - 512, pseudoRandom(512, 13))],
    },
  ];
}

/** fast-check: a disk size (multiple of 512) and sorted, non-overlapping byte extents in it. */
export const sparseDisk = fc
  .record({
    sectors: fc.integer({ min: 1, max: 12 * 2048 }),
    pieces: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 150000 }), seed: fc.integer({ min: 1, max: 0x7fffffff }), mixed: fc.boolean() }), {
      maxLength: 8,
    }),
  })
  .map(({ sectors, pieces }): Case => {
    const totalBytes = sectors * 512;
    const starts = pieces.map((p) => ({ ...p, off: Math.floor(p.at * totalBytes) })).sort((a, b) => a.off - b.off);
    const extents: Extent[] = [];
    let end = 0;
    for (const p of starts) {
      const off = Math.max(p.off, end);
      const len = Math.min(p.len, totalBytes - off);
      if (len <= 0) continue;
      extents.push(bytesExtent(off, p.mixed ? mixedContent(len, p.seed) : pseudoRandom(len, p.seed)));
      end = off + len;
    }
    return { name: "generated", totalBytes, extents };
  });

export function qemuImg(args: string[]): { status: number; stdout: string; stderr: string } {
  return run("qemu-img", args);
}

export function tmpPath(dir: string, name: string): string {
  return join(dir, name);
}

/**
 * Bytes of the virtual disk in `unit`-sized blocks that hold a non-zero byte
 * (the last block cut at the disk's end): what an image that leaves all-zero
 * clusters or grains out must report as data.
 */
export function nonZeroBytes(rawPath: string, unit: number): number {
  const fd = openSync(rawPath, "r");
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(unit);
    let total = 0;
    for (let at = 0; at < size; at += unit) {
      const n = readSync(fd, buf, 0, Math.min(unit, size - at), at);
      if (buf.subarray(0, n).some((b) => b !== 0)) total += n;
    }
    return total;
  } finally {
    closeSync(fd);
  }
}

/** Bytes `qemu-img map` reports as data (allocated, compressed or not). */
export function mappedDataBytes(format: string, img: string): number {
  const r = qemuImg(["map", "-f", format, "--output=json", img]);
  if (r.status !== 0) throw new Error(`qemu-img map ${img}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { length: number; data: boolean }[]).reduce((s, m) => s + (m.data ? m.length : 0), 0);
}

