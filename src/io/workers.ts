/**
 * The --workers default, in a module of its own so that reading it loads
 * nothing else (deflate-pool.ts loads fflate, which a raw build never needs).
 */
import { availableParallelism } from "node:os";

/**
 * The default: one worker per CPU, at most 4 (compression uses them all; the
 * ext4 hole scan one fewer, see io/readers.ts). The main thread's share (reading,
 * zero checks, writing) is small next to deflate, so it does not get a CPU of
 * its own: on 2 CPUs, compressing a 1 GiB disk took 19.4 s with one worker and
 * 14.2 s with two. Output does not depend on the count.
 */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}
