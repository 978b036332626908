/** Drives one pass of an extent stream into one or more sinks. */
import { windows } from "./windows.js";
import type { Extent } from "./extent.js";
import type { ImageSink } from "./sink.js";

export const DEFAULT_WINDOW_BYTES = 256 << 10;

export interface PumpProgress {
  (doneBytes: number, totalBytes: number): void;
}

export async function pump(extents: Iterable<Extent>, totalBytes: number, sinks: readonly ImageSink[], progress?: PumpProgress): Promise<void> {
  const windowBytes = Math.max(DEFAULT_WINDOW_BYTES, ...sinks.map((s) => s.alignBytes));
  for (const s of sinks) await s.begin(totalBytes);
  for (const w of windows(extents, windowBytes, totalBytes)) {
    for (const s of sinks) await s.write(w);
    progress?.(w.offsetBytes + w.data.length, totalBytes);
  }
  for (const s of sinks) await s.finish();
}
