/**
 * Reader threads: worker threads that do the ext4 hole scan (io/holes.ts)
 * beside the main thread, which meanwhile scans the tree.
 *
 * A job ("runs") is a batch of files (their paths packed in shared memory),
 * handed out one file at a time through a shared counter,
 * with each file's outcome in a shared Int32Array the main thread reads with Atomics (sparse files' runs come back
 * as messages on the helper's port). The runs are a function of a file's
 * bytes, so the number of helpers never changes an image. A file a helper
 * cannot read (gone, a read error, shorter than scanned) is marked failed and
 * the main thread reads it again itself, which throws the error it would
 * have thrown without helpers.
 *
 * The worker body is a script string (`eval: true`), as in deflate-pool.ts,
 * so it works the same from the TypeScript sources, from dist/ and from the
 * bundled CLI. Its hole scan is ext4/holes.ts's scanDataRuns and isDenseRuns,
 * spliced in as source text. Workers are unref'd (an abandoned pool never keeps the
 * process alive) and boot in the background while the tree is scanned.
 */
import { availableParallelism } from "node:os";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { isDenseRuns, scanDataRuns, SCAN_CHUNK_BYTES } from "../ext4/holes.js";
import { defaultWorkers } from "./workers.js";

/** Per-file states of a "runs" job (index 1 + i of its state array; index 0 is the counter). */
export const RUNS_PENDING = 0;
export const RUNS_DENSE = 1; // one run over the whole file
export const RUNS_SPARSE = 2; // other runs: posted on the helper's port as [job id, i, runs]
export const RUNS_FAILED = 3;

const WORKER_BODY = `
(async () => {
  const { parentPort, workerData } = await import("node:worker_threads");
  const fs = await import("node:fs");
  const scanDataRuns = (${scanDataRuns.toString()});
  const isDenseRuns = (${isDenseRuns.toString()});
  const port = workerData.port;
  const buf = new Uint8Array(${SCAN_CHUNK_BYTES});
  const words = new Uint32Array(buf.buffer);
  const runs = (job) => {
    const state = new Int32Array(job.state);
    const meta = job.meta;
    const count = meta.length / 3;
    // [0] counts reads, so the main thread can tell a long file from a helper gone; [1] set: stop.
    const beat = new Int32Array(job.beat);
    const read = (fd, into, off) => {
      if (Atomics.load(beat, 1) !== 0) throw new Error("no longer wanted");
      Atomics.add(beat, 0, 1);
      return fs.readSync(fd, into, 0, into.length, off);
    };
    for (;;) {
      const i = Atomics.add(state, 0, 1);
      if (i >= count) break;
      let result = ${RUNS_FAILED};
      try {
        const end = i + 1 < count ? meta[3 * i + 3] : job.paths.byteLength;
        const fd = fs.openSync(Buffer.from(job.paths, meta[3 * i], end - meta[3 * i]), "r");
        try {
          const size = meta[3 * i + 2];
          const r = scanDataRuns((into, off) => read(fd, into, off), meta[3 * i + 1], size, buf, words);
          if (r && isDenseRuns(r, size)) result = ${RUNS_DENSE};
          else if (r) {
            port.postMessage([job.id, i, r]);
            result = ${RUNS_SPARSE};
          }
        } finally {
          fs.closeSync(fd);
        }
      } catch {}
      Atomics.store(state, 1 + i, result);
      Atomics.notify(state, 1 + i);
    }
  };
  parentPort.on("message", (job) => {
    if (job.type === "runs") runs(job);
    else if (job.type === "close") parentPort.close(); // ends the thread; what it posted stays readable
  });
})();
`;

export interface Helper {
  readonly worker: Worker;
  /** Where the helper posts sparse runs (read with receiveMessageOnPort). */
  readonly port: MessagePort;
  /** Set when the thread has stopped (an error or exit): its unfinished jobs are done on the main thread. */
  dead: boolean;
}

/** A fixed set of reader threads; `helpers` is empty when the main thread reads alone. */
export class ReaderPool {
  readonly helpers: Helper[] = [];
  /** Jobs a helper could not do (an error, or a helper gone) that this thread did again. */
  fallbacks = 0;
  private closed = false;

  constructor(count: number) {
    for (let k = 0; k < count; k++) {
      let worker: Worker;
      const { port1, port2 } = new MessageChannel();
      try {
        worker = new Worker(WORKER_BODY, { eval: true, workerData: { port: port2 }, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: 2 } });
      } catch {
        break; // threads not allowed here (a permission model) or not available: this thread reads alone
      }
      worker.unref();
      const h: Helper = { worker, port: port1, dead: false };
      worker.on("error", () => (h.dead = true));
      worker.on("exit", () => (h.dead = true));
      this.helpers.push(h);
    }
  }

  /** The helpers that can take jobs: none once the pool is closed. */
  live(): Helper[] {
    return this.closed ? [] : this.helpers.filter((h) => !h.dead);
  }

  /** Whether any helper can take jobs (live() without building the list, for per-file checks). */
  anyLive(): boolean {
    return !this.closed && this.helpers.some((h) => !h.dead);
  }

  /** Lets each helper finish the jobs it was given and end; the pool takes no more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.helpers) if (!h.dead) h.worker.postMessage({ type: "close" });
  }
}

/**
 * Reader threads besides the main one for `workers` (the --workers value;
 * default as for compression): one fewer, and no more than the other CPUs.
 */
export function readerHelpers(workers: number | undefined): number {
  const n = Math.min(workers ?? defaultWorkers(), availableParallelism());
  return Number.isSafeInteger(n) && n > 1 ? n - 1 : 0;
}
