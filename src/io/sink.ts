/**
 * An ImageSink receives the windows of one image in offset order and writes
 * one output format. Several sinks can share one pass over the extent stream
 * (`--format raw,qcow2`): the source files are read once.
 */
import type { Window } from "./windows.js";

export interface ImageSink {
  /** The format name, for messages. */
  readonly format: string;
  /** Windows must be a multiple of this (a power of two): the sink's cluster or grain size. */
  readonly alignBytes: number;
  /** Called once before any window, with the virtual disk size. */
  begin(totalBytes: number): void | Promise<void>;
  /** Receives a window; `w.data` is only valid during the call (copy to keep it). */
  write(w: Window): void | Promise<void>;
  /** All windows delivered: write trailing metadata. */
  finish(): void | Promise<void>;
  /**
   * The build failed (in this sink or another): release what the sink holds
   * (worker threads, scratch files). The output file itself is the caller's.
   */
  abort?(): void | Promise<void>;
}
