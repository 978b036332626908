/**
 * Node adapter for content-based hole detection in ext4 (ext4/holes.ts), with
 * the reading spread over threads.
 *
 * The ext4 planner needs every regular file's data runs before it places a
 * block (inode tables come first on the disk), so a build reads the whole
 * tree once at plan time. `prefetch`, which the planner calls with the files
 * it is about to ask for, hands them out one at a time through a shared
 * counter to this thread and to the pool's reader threads (io/readers.ts),
 * and returns when all are read. It blocks (Atomics.wait), as planning is
 * synchronous. The runs are a function of the bytes alone, so which thread
 * read a file makes no difference to the image.
 *
 * A file a thread could not read (gone, unreadable, shorter than scanned) is
 * read again on this thread when the planner asks for it, so the error is
 * thrown where, and as, it would be without helpers.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { receiveMessageOnPort } from "node:worker_threads";
import { openFailure } from "./filekind.js";
import { RUNS_DENSE, RUNS_FAILED, RUNS_PENDING, RUNS_SPARSE, type Helper, type ReaderPool } from "./readers.js";
import { scanDataRuns, SCAN_CHUNK_BYTES, zeroBlockRuns } from "../ext4/holes.js";
import type { DataRuns, ReadDataRuns } from "../ext4/index.js";
import type { TreeNode } from "../tree/types.js";

/** Files per batch: bounds the shared tables (24 bytes a file plus its path). */
const BATCH_FILES = 8192;
/** Files per batch of early reads (during the scan): small, so helpers start soon. */
const EARLY_BATCH_FILES = 256;
/** A file that takes longer than this on a helper is read again here rather than waited for. */
const WAIT_MS = 10_000;

/** Files handed to the threads together, with their shared tables and results. */
class Batch {
  readonly state: Int32Array; // [0]: next file to claim; [1 + i]: file i's RUNS_* state
  readonly meta: Float64Array; // per file: path start, content offset, size
  readonly paths: Uint8Array;
  readonly sparse = new Map<number, DataRuns>();
  /** Files this thread claimed. */
  mine = 0;

  constructor(readonly id: number, readonly files: readonly TreeNode[], pathList: readonly Uint8Array[]) {
    const count = files.length;
    this.paths = new Uint8Array(new SharedArrayBuffer(pathList.reduce((a, p) => a + p.length, 0)));
    this.meta = new Float64Array(new SharedArrayBuffer(count * 3 * 8));
    let at = 0;
    for (let i = 0; i < count; i++) {
      this.paths.set(pathList[i], at);
      this.meta[3 * i] = at;
      this.meta[3 * i + 1] = files[i].contentOffsetBytes ?? 0;
      this.meta[3 * i + 2] = files[i].sizeBytes;
      at += pathList[i].length;
    }
    this.state = new Int32Array(new SharedArrayBuffer((count + 1) * 4));
  }

  post(helpers: readonly Helper[]): void {
    for (const h of helpers) h.worker.postMessage({ type: "runs", id: this.id, state: this.state.buffer, meta: this.meta.buffer, paths: this.paths.buffer });
  }

  /** Reads, on this thread, the files no thread has claimed yet. */
  work(buf: Uint8Array, words: Uint32Array): void {
    const count = this.files.length;
    for (;;) {
      const i = Atomics.add(this.state, 0, 1);
      if (i >= count) break;
      this.mine++;
      let result = RUNS_FAILED;
      let f = -1;
      try {
        const end = i + 1 < count ? this.meta[3 * i + 3] : this.paths.length;
        f = openSync(Buffer.from(this.paths.buffer, this.meta[3 * i], end - this.meta[3 * i]), "r");
        const size = this.files[i].sizeBytes;
        const runs = scanDataRuns((into, off) => readSync(f, into, 0, into.length, off), this.meta[3 * i + 1], size, buf, words);
        if (runs && isDense(runs, size)) result = RUNS_DENSE;
        else if (runs) {
          this.sparse.set(i, runs.slice());
          result = RUNS_SPARSE;
        }
      } catch {
        // read again when asked for, which throws the error
      } finally {
        if (f >= 0) closeSync(f);
      }
      Atomics.store(this.state, 1 + i, result);
    }
  }

  /** Waits for the files the helpers claimed. */
  wait(): void {
    for (let i = 0; i < this.files.length; i++) {
      if (Atomics.load(this.state, 1 + i) === RUNS_PENDING) Atomics.wait(this.state, 1 + i, RUNS_PENDING, WAIT_MS);
    }
  }

  /** Files the helpers claimed so far. */
  byHelpers(): number {
    return Math.min(Atomics.load(this.state, 0), this.files.length) - this.mine;
  }

  /** File i's runs, or undefined when it is to be read again on this thread. */
  runs(i: number): DataRuns | undefined {
    const st = Atomics.load(this.state, 1 + i);
    if (st === RUNS_DENSE) return [[0, Math.ceil(this.files[i].sizeBytes / 4096)]];
    if (st === RUNS_SPARSE) return this.sparse.get(i);
    return undefined;
  }
}

/**
 * The planner's ReadDataRuns, reading on this thread and on the threads of
 * `pool` (none: this thread only). `early`, given to the tree scan as its
 * onFile, starts the helpers on each file as the scan finds it. close()
 * closes what this thread has open and drops the results; the pool is the caller's.
 */
export function fileDataRuns(pool?: ReaderPool): {
  readDataRuns: ReadDataRuns;
  early(node: TreeNode, hostPath: Buffer): void;
  /** Files read ahead so far, and how many of them by helpers (for tests and bench/phases.mjs). */
  stats(): { files: number; byHelpers: number };
  close(): void;
} {
  let openPath: string | Buffer | undefined;
  let fd = -1;
  const closeFile = () => {
    if (fd >= 0) closeSync(fd);
    fd = -1;
    openPath = undefined;
  };
  const inline = zeroBlockRuns((path, into, off) => {
    if (path !== openPath) {
      closeFile();
      try {
        fd = openSync(path, "r");
      } catch (e) {
        throw openFailure(e as NodeJS.ErrnoException, path);
      }
      openPath = path;
    }
    return readSync(fd, into, 0, into.length, off);
  });
  const live = () => pool?.helpers.filter((h) => !h.dead) ?? [];
  let ids = 0;
  const buf = new Uint8Array(SCAN_CHUNK_BYTES);
  const words = new Uint32Array(buf.buffer);
  const byId = new Map<number, Batch>();
  const drain = (helpers: readonly Helper[]) => {
    for (const h of helpers) {
      for (let m = receiveMessageOnPort(h.port); m; m = receiveMessageOnPort(h.port)) {
        const [id, i, runs] = m.message as [number, number, Array<[number, number]>];
        byId.get(id)?.sparse.set(i, runs);
      }
    }
  };

  // Early reads: files posted to the helpers while the scan runs.
  const earlyBatches: Batch[] = [];
  const earlyAt = new Map<TreeNode, number>(); // batch index * EARLY_BATCH_FILES + file index
  let pendingFiles: TreeNode[] = [];
  let pendingPaths: Uint8Array[] = [];
  const postEarly = () => {
    if (pendingFiles.length === 0) return;
    const b = new Batch(++ids, pendingFiles, pendingPaths);
    pendingFiles.forEach((n, i) => earlyAt.set(n, earlyBatches.length * EARLY_BATCH_FILES + i));
    earlyBatches.push(b);
    byId.set(b.id, b);
    b.post(live());
    pendingFiles = [];
    pendingPaths = [];
  };
  const early = (node: TreeNode, hostPath: Buffer) => {
    if (!pool || pool.helpers.length === 0) return;
    pendingFiles.push(node);
    pendingPaths.push(Uint8Array.from(hostPath));
    if (pendingFiles.length === EARLY_BATCH_FILES) postEarly();
  };

  // Prefetch rounds: the planner's files not read early, BATCH_FILES at a time, on every thread.
  let round: Batch | undefined;
  let cursor = 0; // next index into round.files the planner should ask for
  let queued: readonly TreeNode[] = []; // of which queued[next...] are still to read
  let next = 0;
  const startRound = () => {
    const files = queued.slice(next, next + BATCH_FILES);
    next += files.length;
    if (round) byId.delete(round.id);
    round = new Batch(++ids, files, files.map((n) => n.sourcePath));
    byId.set(round.id, round);
    const helpers = live();
    round.post(helpers);
    round.work(buf, words); // this thread takes its share, then waits for the helpers'
    round.wait();
    drain(helpers);
    cursor = 0;
  };

  const readDataRuns = ((node: TreeNode): DataRuns => {
    const e = earlyAt.get(node);
    if (e !== undefined) {
      const runs = earlyBatches[Math.floor(e / EARLY_BATCH_FILES)].runs(e % EARLY_BATCH_FILES);
      if (runs) return runs;
    } else {
      if (round && cursor >= round.files.length && next < queued.length && queued[next] === node) startRound();
      if (round && cursor < round.files.length && round.files[cursor] === node) {
        const runs = round.runs(cursor++);
        if (runs) return runs;
      }
    }
    if (pool && (e !== undefined || round?.files[cursor - 1] === node)) pool.fallbacks++;
    return inline(node); // not read ahead, or failed: read here (and throw here)
  }) as ReadDataRuns;
  readDataRuns.prefetch = (files) => {
    // The early batches: this thread finishes what the helpers have not started.
    postEarly();
    for (const b of earlyBatches) b.work(buf, words);
    for (const b of earlyBatches) b.wait();
    drain(live());
    if (round) byId.delete(round.id);
    round = undefined;
    queued = files.filter((n) => !earlyAt.has(n));
    next = 0;
    if (queued.length > 0) startRound();
  };

  return {
    readDataRuns,
    early,
    stats() {
      const all = [...earlyBatches, ...(round ? [round] : [])];
      return { files: all.reduce((a, b) => a + b.files.length, 0), byHelpers: all.reduce((a, b) => a + b.byHelpers(), 0) };
    },
    close() {
      closeFile();
      // Files no thread has claimed yet are not read (a plan that failed half-way).
      for (const b of [...earlyBatches, ...(round ? [round] : [])]) Atomics.store(b.state, 0, b.files.length);
      round = undefined;
      queued = [];
      next = 0;
      earlyBatches.length = 0;
      earlyAt.clear();
      byId.clear();
      pendingFiles = [];
      pendingPaths = [];
    },
  };
}

function isDense(runs: DataRuns, sizeBytes: number): boolean {
  return runs.length === 1 && runs[0][0] === 0 && runs[0][1] === Math.ceil(sizeBytes / 4096);
}
