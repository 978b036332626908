/** Shared fixtures for the OVF / OVA / Vagrant box tests. */
import { closeSync, openSync } from "node:fs";
import { BuildContext } from "../../src/context/index.js";
import { bytesExtent, type Extent } from "../../src/io/extent.js";
import { pump } from "../../src/io/pump.js";
import { RawSink } from "../../src/io/raw.js";
import { BoxSink, type BoxOptions, type PackageKind } from "../../src/ovf/index.js";

export const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";
export const EPOCH = 1662046009;
/** `epochSec: null` builds without SOURCE_DATE_EPOCH. */
export const ctxFor = (seed = SEED, epochSec: number | null = EPOCH) => new BuildContext({ seed, epochSec: epochSec ?? undefined });

/** Deterministic bytes that compress somewhat (text-like runs with a PRNG). */
export function content(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x & 0x0f) < 6 ? 0x20 + (x >>> 8) % 64 : 0x61 + (i % 23);
  }
  return out;
}

/** A 24 MiB disk: data at the start, a lone sector in the middle, data at the end, zeros elsewhere. */
export const DISK_BYTES = 24 << 20;
export function diskExtents(): Extent[] {
  return [
    bytesExtent(0, content(1 << 20, 1)),
    bytesExtent(9 << 20, content(512, 2)),
    bytesExtent(DISK_BYTES - (300 << 10), content(300 << 10, 3)),
  ];
}

export async function writePackageFile(kind: PackageKind, path: string, opts: BoxOptions & { ctx?: BuildContext } = {}): Promise<void> {
  const fd = openSync(path, "w");
  try {
    await pump(diskExtents(), DISK_BYTES, [new BoxSink(kind, fd, opts.ctx ?? ctxFor(), { scratchDir: undefined, workers: 1, ...opts })]);
  } finally {
    closeSync(fd);
  }
}

export async function writeRawFile(path: string): Promise<void> {
  const fd = openSync(path, "w");
  try {
    await pump(diskExtents(), DISK_BYTES, [new RawSink(fd)]);
  } finally {
    closeSync(fd);
  }
}
