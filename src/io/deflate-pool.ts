/**
 * Compression off the main thread, with output that does not depend on the
 * number of workers.
 *
 * Every block (a qcow2 cluster, a VMDK grain) is compressed independently with
 * fflate, at the fixed level DEFLATE_LEVEL or, for a block that
 * `looksIncompressible`, at level 0 (stored), so which thread compressed it
 * makes no difference to its bytes. `OrderedDeflate` hands the results back in
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

/** Blocks shorter than this are always deflated: their histogram says too little. */
const INCOMPRESSIBLE_MIN_BYTES = 4096;
/** Keeps 256 * S below 2^53 (S <= n^2), so the arithmetic stays exact. */
const INCOMPRESSIBLE_MAX_BYTES = 1 << 22;
/** Bytes looked at first; see looksIncompressible. */
const INCOMPRESSIBLE_PREFIX_BYTES = 8192;
/** Four interleaved byte histograms (independent counters run faster than one). */
const HISTOGRAM = new Uint32Array(1024);

/**
 * Whether `data` looks like already-compressed bytes, which deflate would not
 * shrink: a compressed kernel or initrd, `.gz`/`.xz`/`.zst` files, JPEGs.
 * Deflating such a block costs as much CPU as deflating text and gains
 * nothing, so its caller stores it instead (btrfs's compression heuristic
 * skips such data on the same kind of evidence).
 *
 * The test is on the byte histogram's collision count S = sum of c_b^2 over
 * the 256 byte values, for a block of n bytes: uniformly random bytes give
 * an excess 256*S - n^2 of 255*n on average, with a standard deviation of
 * about 22.6*n. Compressors' output is nearly as flat: on 64 KiB pieces of
 * compressed text, brotli's measured 260*n to 390*n and gzip's 330*n to
 * 660*n. The block counts as incompressible when the excess lies between
 * 165*n (4 standard deviations under random bytes') and 480*n; Huffman
 * coding gains next to nothing on a histogram that flat (for a 64 KiB block,
 * at 480*n the collision entropy is 7.99 bits a byte). Some data that
 * deflate's matches would shrink falls outside the band: a histogram flatter
 * than random bytes' (a table of 0..255), or m whole copies of random bytes
 * (255*m*n, so two or more copies). A shorter repeat keeps a random-looking
 * histogram (a compressed file stored twice within 32 KiB), so a block in
 * the band is also checked for repeats (`repeatedAnchors`) and deflated if it
 * has them. Integer arithmetic only (exact below 2^53), so the answer
 * cannot depend on the Node build.
 *
 * On the end-to-end benchmark disk (a kernel, an initrd and Debian's files)
 * 1 399 of 4 306 non-zero 64 KiB clusters count as incompressible; deflate
 * makes every one of them larger, and they took 25 to 30 % of its time. On
 * the larger tree's disk, 569 of 9 917 do, on which deflate would have saved
 * 1 227 bytes in all.
 */
export function looksIncompressible(data: Uint8Array): boolean {
  const n = data.length;
  if (n < INCOMPRESSIBLE_MIN_BYTES || n > INCOMPRESSIBLE_MAX_BYTES) return false;
  const h = HISTOGRAM;
  h.fill(0);
  // Text and machine code show it in their first bytes: a prefix whose excess
  // is 1 000 times its length (33 standard deviations above random bytes')
  // settles it without counting the rest.
  const prefix = n >= 4 * INCOMPRESSIBLE_PREFIX_BYTES ? INCOMPRESSIBLE_PREFIX_BYTES : 0;
  if (prefix > 0) {
    countBytes(data, 0, prefix);
    if (collisionExcess(prefix) > 1000 * prefix) return false;
  }
  countBytes(data, prefix, n);
  const excess = collisionExcess(n);
  return excess >= 165 * n && excess <= 480 * n && repeatedAnchors(data) < REPEAT_ANCHOR_LIMIT;
}

/**
 * Repeats found by `repeatedAnchors` at or above which a block counts as
 * compressible: 32 anchors stand for 512 repeated bytes at a short distance,
 * about 1 KiB near 32 KiB (anchor slots get reused in between). Random bytes
 * give about one hit in 200 blocks of 64 KiB (0.1 per 2 MiB block), never
 * near 32; the benchmark disks' compressed clusters gave at most 60.
 */
const REPEAT_ANCHOR_LIMIT = 32;
/** Anchor table of repeatedAnchors: the last position and word seen per 12-bit hash. */
const ANCHOR_POS = new Int32Array(4096);
const ANCHOR_WORD = new Int32Array(4096);

/**
 * Counts 4-byte words, at offsets that are multiples of 4, equal to the
 * word last seen with the same hash at most 32 KiB (deflate's window)
 * before. Only one word in four is looked at, chosen by its hash, so both
 * copies of repeated bytes pick the same words. Repeats at a distance that is
 * not a multiple of 4 go unseen; duplicated files in a filesystem image start
 * on block boundaries, so theirs are seen. About 0.1 ms per 64 KiB.
 */
function repeatedAnchors(data: Uint8Array): number {
  ANCHOR_POS.fill(-(1 << 30));
  const end = data.length & ~3;
  let hits = 0;
  for (let i = 0; i < end; i += 4) {
    const w = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    const h = Math.imul(w, 0x9e3779b1);
    if ((h & 0x3000) !== 0) continue;
    const slot = h >>> 20;
    if (i - ANCHOR_POS[slot]! <= 32768 && ANCHOR_WORD[slot] === w) hits++;
    ANCHOR_POS[slot] = i;
    ANCHOR_WORD[slot] = w;
  }
  return hits;
}

/** Adds data[from, to) to HISTOGRAM; from and to are multiples of 4 but for the very end. */
function countBytes(data: Uint8Array, from: number, to: number): void {
  const h = HISTOGRAM;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    h[data[i]!]!++;
    h[256 + data[i + 1]!]!++;
    h[512 + data[i + 2]!]!++;
    h[768 + data[i + 3]!]!++;
  }
  for (; i < to; i++) h[data[i]!]!++;
}

/** 256 * S - n^2 for the n bytes counted in HISTOGRAM, S the sum of squared counts. */
function collisionExcess(n: number): number {
  const h = HISTOGRAM;
  let s = 0;
  for (let b = 0; b < 256; b++) {
    const c = h[b]! + h[256 + b]! + h[512 + b]! + h[768 + b]!;
    s += c * c;
  }
  return 256 * s - n * n;
}

/** The level a block is compressed at: 0 (stored) when it looks incompressible, else DEFLATE_LEVEL. */
export function deflateLevelFor(data: Uint8Array): number {
  return looksIncompressible(data) ? 0 : DEFLATE_LEVEL;
}

/** Compresses on the calling thread. */
export function deflateInline(data: Uint8Array, framing: DeflateFraming): Uint8Array {
  const level = deflateLevelFor(data);
  return framing === "raw" ? fflate.deflateSync(data, { level }) : fflate.zlibSync(data, { level });
}

/** The default worker count (io/workers.ts), which compression uses in full. */
export { defaultWorkers as defaultDeflateWorkers } from "./workers.js";

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
  /** deflateLevelFor(input), decided here so inline and worker output agree. */
  level: number;
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
    const level = deflateLevelFor(input);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, input, level, resolve, reject });
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
      slot.worker.postMessage({ id: job.id, buf, framing: this.framing, level: job.level }, [buf]);
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
