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
import { isDenseRuns, scanDataRuns, SCAN_CHUNK_BYTES, zeroBlockRuns } from "../ext4/holes.js";
import type { DataRuns, ReadDataRuns } from "../ext4/index.js";
import type { TreeNode } from "../tree/types.js";

/** Files per prefetch round: the unit handed to the threads together (its files' paths are in its messages). */
const BATCH_FILES = 8192;
/** Files per batch of early reads (during the scan): small, so helpers start soon. */
const EARLY_BATCH_FILES = 256;
/**
 * Files read early at most. A tree with more has its helpers end there (a
 * thread's memory, about 10 MiB, and the early batches' tables matter more
 * to a tree of 200 000 files than the rest of the hole scan's speed): the
 * other files are read on this thread at prefetch.
 */
const EARLY_MAX_FILES = 65_536;
/** With no helper reading anything for this long, the files they claimed are read here (a helper gone). */
const WAIT_MS = 10_000;
/** The state of a file no partition asks for, which this thread claimed so that no one reads it. */
const SKIPPED = 4;

/** Files handed to the threads together, with their shared tables and results. */
/**
 * Host paths packed one after another, for a batch's message: the bytes go in
 * a SharedArrayBuffer the helpers read, so neither a string nor a Buffer per
 * path is made (a tree of 200 000 files would feel that garbage).
 */
class PathPack {
  private buf = Buffer.allocUnsafeSlow(64 << 10);
  private used = 0;
  private starts: number[] = [];

  push(path: Uint8Array): void {
    if (this.used + path.length > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.used + path.length));
      bigger.set(this.buf.subarray(0, this.used));
      this.buf = bigger;
    }
    this.starts.push(this.used);
    this.buf.set(path, this.used);
    this.used += path.length;
  }

  /** The packed paths so far, and a fresh start. */
  take(): { bytes: SharedArrayBuffer; starts: readonly number[] } {
    const bytes = new SharedArrayBuffer(this.used);
    new Uint8Array(bytes).set(this.buf.subarray(0, this.used));
    const starts = this.starts;
    this.used = 0;
    this.starts = [];
    return { bytes, starts };
  }
}

class Batch {
  readonly state: Int32Array; // [0]: next file to claim; [1 + i]: file i's RUNS_* state
  readonly sparse = new Map<number, DataRuns>();
  /** Files this thread claimed, and of those, read. */
  mine = 0;
  readHere = 0;

  constructor(readonly id: number, readonly files: readonly TreeNode[]) {
    this.state = new Int32Array(new SharedArrayBuffer((files.length + 1) * 4));
  }

  /**
   * Hands the batch to the helpers: the shared state and the files' host
   * paths, packed (`paths`, this thread keeps no reference), and in a copy
   * for each message, where each path starts, the content offset and size.
   */
  post(helpers: readonly Helper[], paths: { bytes: SharedArrayBuffer; starts: readonly number[] }, beat: Int32Array): void {
    if (helpers.length === 0) return;
    const meta = new Float64Array(3 * this.files.length);
    this.files.forEach((n, i) => {
      meta[3 * i] = paths.starts[i];
      meta[3 * i + 1] = n.contentOffsetBytes ?? 0;
      meta[3 * i + 2] = n.sizeBytes;
    });
    for (const h of helpers) h.worker.postMessage({ type: "runs", id: this.id, state: this.state.buffer, meta, paths: paths.bytes, beat: beat.buffer });
  }

  /** Reads, on this thread, the files no thread has claimed yet. */
  work(buf: Uint8Array, words: Uint32Array, wanted?: (i: number) => boolean): void {
    const count = this.files.length;
    for (;;) {
      const i = Atomics.add(this.state, 0, 1);
      if (i >= count) break;
      this.mine++;
      if (wanted && !wanted(i)) {
        Atomics.store(this.state, 1 + i, SKIPPED); // no partition asks for it: claimed, so no helper reads it either
        continue;
      }
      this.readHere++;
      let result = RUNS_FAILED;
      let f = -1;
      try {
        const n = this.files[i];
        f = openSync(n.sourcePath, "r");
        const size = n.sizeBytes;
        const runs = scanDataRuns((into, off) => readSync(f, into, 0, into.length, off), n.contentOffsetBytes ?? 0, size, buf, words);
        if (runs && isDenseRuns(runs, size)) result = RUNS_DENSE;
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

  /**
   * Waits for the files the helpers claimed (of those `wanted`). A helper
   * counts every read in `beat`: the wait goes on while any helper makes
   * progress, however long its file, and gives up only after WAIT_MS without
   * any (a helper gone), returning false; its files are then read here.
   */
  wait(beat: Int32Array, wanted?: (i: number) => boolean): boolean {
    for (let i = 0; i < this.files.length; i++) {
      if (wanted && !wanted(i)) continue;
      while (Atomics.load(this.state, 1 + i) === RUNS_PENDING) {
        const before = Atomics.load(beat, 0);
        if (Atomics.wait(this.state, 1 + i, RUNS_PENDING, WAIT_MS) === "timed-out" && Atomics.load(beat, 0) === before) return false;
      }
    }
    return true;
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
 * onFile, starts the helpers on each file as the scan finds it. Once
 * `prefetch` has every file read it closes the pool, so the helpers' memory
 * is not held through the rest of planning (a later prefetch reads on this
 * thread). close() closes what this thread has open and drops the results.
 */
export function fileDataRuns(pool?: ReaderPool, opts: { earlyMaxFiles?: number } = {}): {
  readDataRuns: ReadDataRuns;
  early(node: TreeNode, hostPath: Buffer): void;
  /** Files handed out so far (of which read early, during the scan), how many the helpers took, and how many this thread read (for tests). */
  stats(): { files: number; early: number; byHelpers: number; readHere: number };
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
  const live = () => pool?.live() ?? [];
  // [0]: the helpers' reads, counted; [1]: set when nothing more is wanted (a helper stops mid-file).
  const beat = new Int32Array(new SharedArrayBuffer(8));
  let stalled = false; // a wait gave up: the helpers are gone, nothing more is waited for
  let ids = 0;
  const buf = new Uint8Array(SCAN_CHUNK_BYTES);
  const words = new Uint32Array(buf.buffer);
  const byId = new Map<number, Batch>();
  // Results are read from every helper's port, a closed pool's too (a helper ends after its last job).
  const drain = () => {
    for (const h of pool?.helpers ?? []) {
      for (let m = receiveMessageOnPort(h.port); m; m = receiveMessageOnPort(h.port)) {
        const [id, i, runs] = m.message as [number, number, Array<[number, number]>];
        byId.get(id)?.sparse.set(i, runs);
      }
    }
  };

  // Early reads: files posted to the helpers while the scan runs.
  const earlyBatches: Batch[] = [];
  let earlyCount = 0; // files posted or pending; early file k is file k % EARLY_BATCH_FILES of batch k / EARLY_BATCH_FILES
  let slotOf = new Int32Array(1024).fill(-1); // scanIndex → early file number, -1: not read early
  const slot = (n: TreeNode): number => (n.scanIndex !== undefined && n.scanIndex < slotOf.length ? slotOf[n.scanIndex] : -1);
  let pendingFiles: TreeNode[] = [];
  const pendingPaths = new PathPack();
  const postEarly = () => {
    if (pendingFiles.length === 0) return;
    const b = new Batch(++ids, pendingFiles);
    earlyBatches.push(b);
    byId.set(b.id, b);
    b.post(live(), pendingPaths.take(), beat);
    pendingFiles = [];
  };
  const early = (node: TreeNode, hostPath: Buffer) => {
    // A file's scanIndex finds its early read again (slotOf); one without, or told twice, is not read early.
    if (!pool || !pool.anyLive() || node.scanIndex === undefined || slot(node) >= 0) return;
    while (node.scanIndex >= slotOf.length) {
      const bigger = new Int32Array(Math.max(1024, 2 * slotOf.length)).fill(-1);
      bigger.set(slotOf);
      slotOf = bigger;
    }
    slotOf[node.scanIndex] = earlyCount++;
    pendingFiles.push(node);
    pendingPaths.push(hostPath);
    if (pendingFiles.length === EARLY_BATCH_FILES) postEarly();
    if (earlyCount === (opts.earlyMaxFiles ?? EARLY_MAX_FILES)) {
      // A tree this large: its memory matters more than the rest of the hole
      // scan's speed. The helpers end once these files are read.
      postEarly();
      pool.close();
    }
  };

  // Prefetch rounds: the planner's files not read early, BATCH_FILES at a time, on every thread,
  // all of them before prefetch returns; the planner then asks for them in the same order.
  let rounds: Batch[] = [];
  let r = 0; // the round, and the file in it, the planner asks for next
  let cursor = 0;
  const runRound = (files: readonly TreeNode[]) => {
    const round = new Batch(++ids, files);
    byId.set(round.id, round);
    const helpers = live();
    if (helpers.length > 0) {
      const pack = new PathPack();
      for (const n of files) pack.push(n.sourcePath);
      round.post(helpers, pack.take(), beat);
    }
    round.work(buf, words); // this thread takes its share, then waits for the helpers'
    if (!stalled) stalled = !round.wait(beat);
    drain();
    rounds.push(round);
  };

  const readDataRuns = ((node: TreeNode): DataRuns => {
    const e = slot(node) >= 0 ? slot(node) : undefined;
    let tried = false;
    if (e !== undefined) {
      tried = true;
      const runs = earlyBatches[Math.floor(e / EARLY_BATCH_FILES)].runs(e % EARLY_BATCH_FILES);
      if (runs) return runs;
    } else if (r < rounds.length && rounds[r].files[cursor] === node) {
      tried = true;
      const runs = rounds[r].runs(cursor);
      if (++cursor === rounds[r].files.length) {
        r++;
        cursor = 0;
      }
      if (runs) return runs;
    }
    if (pool && tried) pool.fallbacks++;
    return inline(node); // not read ahead, or failed: read here (and throw here)
  }) as ReadDataRuns;
  // Without helpers there is nothing to share: the planner's files are read one by one as it asks.
  if (pool && pool.helpers.length > 0) readDataRuns.prefetch = (files) => {
    // The early batches: this thread finishes what the helpers have not
    // started, of the files asked for (not those excludeFiles drops), and
    // waits for the rest.
    postEarly();
    const asked = new Uint8Array(earlyCount);
    for (const n of files) if (slot(n) >= 0) asked[slot(n)] = 1;
    earlyBatches.forEach((b, k) => b.work(buf, words, (i) => asked[k * EARLY_BATCH_FILES + i] === 1));
    earlyBatches.forEach((b, k) => {
      if (!stalled) stalled = !b.wait(beat, (i) => asked[k * EARLY_BATCH_FILES + i] === 1);
    });
    drain();
    rounds = [];
    r = 0;
    cursor = 0;
    // The rest in rounds on every thread; with no helper left, each is read when the planner
    // asks, as without threads (rounds would only hold their tables for nothing).
    if (live().length > 0) {
      const rest = files.filter((n) => slot(n) < 0);
      for (let k = 0; k < rest.length; k += BATCH_FILES) runRound(rest.slice(k, k + BATCH_FILES));
    }
    // Every file asked for is read: a helper still on a file no partition
    // takes stops, and the helpers' memory goes now, not after the rest of planning.
    Atomics.store(beat, 1, 1);
    pool?.close();
  };

  return {
    readDataRuns,
    early,
    stats() {
      const all = [...earlyBatches, ...rounds];
      return { files: all.reduce((a, b) => a + b.files.length, 0), early: earlyCount, byHelpers: all.reduce((a, b) => a + b.byHelpers(), 0), readHere: all.reduce((a, b) => a + b.readHere, 0) };
    },
    close() {
      closeFile();
      // Files no thread has claimed yet are not read, nor the rest of one being read (a plan that failed half-way).
      for (const b of [...earlyBatches, ...rounds]) Atomics.store(b.state, 0, b.files.length);
      Atomics.store(beat, 1, 1);
      rounds = [];
      earlyBatches.length = 0;
      earlyCount = 0;
      slotOf = new Int32Array(0);
      byId.clear();
      pendingFiles = [];
      pendingPaths.take();
    },
  };
}
