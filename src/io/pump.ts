/** Drives one pass of an extent stream into one or more sinks. */
import { windows } from "./windows.js";
import type { Extent } from "./extent.js";
import type { ImageSink } from "./sink.js";

export const DEFAULT_WINDOW_BYTES = 256 << 10;

export interface PumpProgress {
  (doneBytes: number, totalBytes: number): void;
}

/**
 * Windows between two turns of the event loop. Raw sinks write synchronously,
 * so without these turns a build would hold the loop until the end: no
 * signal handler, and no completion of background work (the outputs' early
 * flushes, see io/output.ts) would run.
 */
const WINDOWS_PER_TURN = 64;

export async function pump(extents: Iterable<Extent>, totalBytes: number, sinks: readonly ImageSink[], progress?: PumpProgress): Promise<void> {
  const windowBytes = Math.max(DEFAULT_WINDOW_BYTES, ...sinks.map((s) => s.alignBytes));
  for (const s of sinks) await s.begin(totalBytes);
  let n = 0;
  for (const w of windows(extents, windowBytes, totalBytes)) {
    for (const s of sinks) await s.write(w);
    progress?.(w.offsetBytes + w.data.length, totalBytes);
    if (++n % WINDOWS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  for (const s of sinks) await s.finish();
}
