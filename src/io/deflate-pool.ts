/**
 * Compression off the main thread, with output that does not depend on the
 * number of workers.
 *
 * Every block (a qcow2 cluster, a VMDK grain) is compressed independently with
 * fflate at the fixed level DEFLATE_LEVEL, so which thread compressed it makes
 * no difference to its bytes. `OrderedDeflate` hands the results back in
 * submission order and bounds the bytes in flight, so memory stays bounded and
 * the writer sees the same sequence whatever the worker count.
 *
 * Worker startup: the worker body is a small script string run with
 * `new Worker(code, { eval: true })`. It loads fflate with a dynamic
 * `import()` of the absolute file URL that
 * `createRequire(import.meta.url).resolve("fflate")` finds, so the same code
 * works from the TypeScript sources (vitest) and from `dist/`, with no sibling
 * `.js` file to ship or find, and whether Node evaluates the string as
 * CommonJS or as an ES module (it follows the parent's --input-type). The inline path (workers <= 1) loads
 * the very same fflate file through the same `createRequire`, so inline and
 * worker output come from one copy of the compressor.
 *
 * Workers are `ref`'d only while they hold a job, so an abandoned pool (a
 * build that failed half-way) never keeps the process alive.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { MkdiskError } from "../bin/errors.js";

/** Pinned compression level: changing it changes every compressed image. */
export const DEFLATE_LEVEL = 6;

/** Young generation of each worker's heap (see DeflatePool.spawn). */
const WORKER_YOUNG_GENERATION_MIB = 2;
/** Input bytes in flight per worker: 32 blocks of 64 KiB keep a worker busy; more only costs memory. */
const IN_FLIGHT_BYTES_PER_WORKER = 2 << 20;

/** "raw": RFC 1951 deflate (qcow2). "zlib": RFC 1950 framing, header + adler32 (VMDK grains). */
export type DeflateFraming = "raw" | "zlib";

interface Fflate {
  deflateSync(data: Uint8Array, opts: { level: number }): Uint8Array;
  zlibSync(data: Uint8Array, opts: { level: number }): Uint8Array;
}

const require_ = createRequire(import.meta.url);
const FFLATE_PATH = require_.resolve("fflate");
const fflate = require_(FFLATE_PATH) as Fflate;

/** Compresses on the calling thread. */
export function deflateInline(data: Uint8Array, framing: DeflateFraming): Uint8Array {
  return framing === "raw" ? fflate.deflateSync(data, { level: DEFLATE_LEVEL }) : fflate.zlibSync(data, { level: DEFLATE_LEVEL });
}

/**
 * The default: one worker per CPU, at most 4. The main thread's share (reading,
 * zero checks, writing) is small next to deflate, so it does not get a CPU of
 * its own: on 2 CPUs, compressing a 1 GiB disk took 19.4 s with one worker and
 * 14.2 s with two. Output does not depend on the count.
 */
export function defaultDeflateWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

const WORKER_BODY = `
(async () => {
  const { parentPort } = await import("node:worker_threads");
  const m = await import(${JSON.stringify(pathToFileURL(FFLATE_PATH).href)});
  const f = m.default ?? m;
  parentPort.on("message", (msg) => {
    const input = new Uint8Array(msg.buf);
    let out = msg.framing === "raw" ? f.deflateSync(input, { level: msg.level }) : f.zlibSync(input, { level: msg.level });
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = out.slice();
    parentPort.postMessage({ id: msg.id, buf: msg.buf, out: out.buffer }, [msg.buf, out.buffer]);
  });
})();
`;

interface Job {
  id: number;
  input: Uint8Array;
  resolve(r: { input: Uint8Array; out: Uint8Array }): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/** A fixed set of worker threads compressing whole buffers. Use through OrderedDeflate. */
export class DeflatePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private failed: Error | undefined;
  private closed = false;

  constructor(private readonly workerCount: number, private readonly framing: DeflateFraming) {
    if (!Number.isSafeInteger(workerCount) || workerCount < 1 || workerCount > 256) {
      throw new MkdiskError("E_USAGE", `worker count must be 1..256, got ${workerCount}`, "workers");
    }
  }

  /**
   * Compresses `input`, which must be a whole ArrayBuffer the caller gives up
   * (it is transferred to the worker and handed back in the result).
   */
  compress(input: Uint8Array): Promise<{ input: Uint8Array; out: Uint8Array }> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new MkdiskError("E_INTERNAL", "deflate pool used after close"));
    if (input.byteOffset !== 0 || input.byteLength !== input.buffer.byteLength) input = input.slice();
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, input, resolve, reject });
      this.dispatch();
    });
  }

  private spawn(): Slot {
    // A small young generation: fflate allocates fresh typed arrays for every
    // block, and their (off-heap) memory goes back only when a scavenge frees
    // the small wrappers. With V8's default a worker held some 40 MiB of them.
    const worker = new Worker(WORKER_BODY, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MIB } });
    const slot: Slot = { worker, job: undefined };
    worker.unref();
    worker.on("message", (m: { id: number; buf: ArrayBuffer; out: ArrayBuffer }) => {
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (!job || job.id !== m.id) {
        this.fail(new MkdiskError("E_INTERNAL", "deflate worker answered a job it was not given"));
        return;
      }
      job.resolve({ input: new Uint8Array(m.buf), out: new Uint8Array(m.out) });
      this.dispatch();
    });
    worker.on("error", (e) => this.fail(new MkdiskError("E_INTERNAL", `deflate worker failed: ${e.message}`)));
    worker.on("exit", (code) => {
      if (!this.closed) this.fail(new MkdiskError("E_INTERNAL", `deflate worker exited unexpectedly (code ${code})`));
    });
    this.slots.push(slot);
    return slot;
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.failed) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (!slot && this.slots.length < this.workerCount) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      const buf = job.input.buffer as ArrayBuffer;
      slot.worker.postMessage({ id: job.id, buf, framing: this.framing, level: DEFLATE_LEVEL }, [buf]);
    }
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    for (const s of this.slots) {
      s.job?.reject(e);
      s.job = undefined;
    }
    for (const j of this.queue.splice(0)) j.reject(e);
    void this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ws = this.slots.splice(0).map((s) => s.worker);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

export interface OrderedDeflateOptions {
  framing: DeflateFraming;
  /** 1 (or less): compress inline on the calling thread, no threads at all. */
  workers: number;
  /** Upper bound on input bytes submitted but not yet handed back; default 2 MiB per worker, at least two blocks per worker. */
  maxInFlightBytes?: number;
}

/** Receives each block's result in submission order. `input` is the block as submitted. */
export type DeflateResultHandler<T> = (tag: T, input: Uint8Array, compressed: Uint8Array) => void | Promise<void>;

/**
 * Compresses blocks on a pool and delivers results strictly in submission
 * order, bounding the bytes in flight. With workers <= 1, `push` compresses
 * and delivers before it returns.
 */
export class OrderedDeflate<T> {
  private readonly pool: DeflatePool | undefined;
  private readonly pending: { tag: T; bytes: number; result: Promise<{ input: Uint8Array; out: Uint8Array }> }[] = [];
  private inFlightBytes = 0;
  private readonly maxInFlightBytes: number;

  constructor(private readonly opts: OrderedDeflateOptions, private readonly onResult: DeflateResultHandler<T>) {
    const workers = Math.floor(opts.workers);
    this.pool = workers > 1 ? new DeflatePool(workers, opts.framing) : undefined;
    this.maxInFlightBytes = opts.maxInFlightBytes ?? workers * IN_FLIGHT_BYTES_PER_WORKER;
  }

  /**
   * Submits a block. `input` must be owned by the callee from now on (a fresh
   * copy, never a window buffer).
   */
  async push(tag: T, input: Uint8Array): Promise<void> {
    if (!this.pool) {
      await this.onResult(tag, input, deflateInline(input, this.opts.framing));
      return;
    }
    const result = this.pool.compress(input);
    // Avoid an unhandled rejection if we fail before awaiting this one.
    result.catch(() => undefined);
    this.pending.push({ tag, bytes: input.length, result });
    this.inFlightBytes += input.length;
    const minBlocks = 2 * this.opts.workers;
    while (this.pending.length > minBlocks && this.inFlightBytes > this.maxInFlightBytes) await this.deliverOldest();
  }

  private async deliverOldest(): Promise<void> {
    const p = this.pending.shift()!;
    const { input, out } = await p.result;
    this.inFlightBytes -= p.bytes;
    await this.onResult(p.tag, input, out);
  }

  /** Delivers everything submitted so far. */
  async flush(): Promise<void> {
    while (this.pending.length > 0) await this.deliverOldest();
  }

  /** Stops the worker threads (after flush, or to abandon the work). */
  async close(): Promise<void> {
    this.pending.length = 0;
    await this.pool?.close();
  }
}
