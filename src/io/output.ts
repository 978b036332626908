/**
 * Safe output files: everything is written to a temporary file in the
 * destination directory and renamed into place only when complete, so a
 * half-written image is never left at the output path. An existing output is
 * replaced only when `force` is set. Temporary files are removed on failure
 * and, through `removeTempFiles`, on Ctrl-C (the CLI installs the handler
 * while there is something to remove: `watchCleanup`).
 */
import { closeSync, existsSync, fdatasync, fsyncSync, lstatSync, mkdtempSync, openSync, renameSync, rmSync, statfsSync, unlinkSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { MkdiskError } from "../bin/errors.js";

/** Temporary outputs not yet renamed into place. */
const live = new Set<string>();
/** Scratch directories (see scratchDirectory). */
const scratch = new Set<string>();
/** Outputs renamed into place by this process, in order. */
const placed: string[] = [];
/** Temporary files or directories being created (not yet in `live` or `scratch`). */
let creating = 0;

let watcher: ((active: boolean) => void) | undefined;
let watching = false;
/** Tells the watcher when there starts or stops being something to clean up or report. */
function update(): void {
  const need = creating > 0 || live.size > 0 || scratch.size > 0 || placed.length > 0;
  if (need === watching) return;
  watching = need;
  watcher?.(need);
}

/**
 * Calls `fn(true)` when the process starts holding something a signal handler
 * must clean up or report (a temporary output or scratch directory, before it
 * is created; an output already renamed into place) and `fn(false)` when it
 * no longer does. The CLI installs its signal handlers only in between, so a
 * signal during planning, which is synchronous and has nothing on disk to
 * remove, ends the process at once instead of waiting for planning to end.
 */
export function watchCleanup(fn: (active: boolean) => void): void {
  watcher = fn;
  if (watching) fn(true);
}

/**
 * An output error raised below the build (a sink writing to a file
 * descriptor, which knows no path) names the output it was writing (all of
 * them when a build writes several at once: the sinks share one pump). When
 * the file system is full and every output is in one directory, it also says
 * how much room is left there (read after the temporary files are gone).
 * Other errors pass through unchanged.
 */
export function namingOutput(e: unknown, paths: readonly string[]): unknown {
  if (!(e instanceof MkdiskError) || e.code !== "E_OUTPUT" || e.where !== undefined || paths.length === 0) return e;
  let free = "";
  if (/ENOSPC/.test(e.message) && new Set(paths.map((p) => dirname(p))).size === 1) {
    try {
      const s = statfsSync(dirname(paths[0]!));
      const bytes = Number(s.bavail) * Number(s.bsize);
      free = `; ${bytes < 2 ** 20 ? `${Math.floor(bytes / 1024)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`} free there`;
    } catch {
      // No figure then; the error itself stands.
    }
  }
  const message = free && e.message.endsWith(")") ? `${e.message.slice(0, -1)}${free})` : `${e.message}${free}`;
  return new MkdiskError(e.code, message, paths.join(", "));
}

/** E_OUTPUT for a failed system call on an output: "`what` failed: <error>", with advice when the disk is full. */
export function outputFailure(what: string, err: NodeJS.ErrnoException, where?: string): MkdiskError {
  const hint = err.code === "ENOSPC" ? " (the output file system is full: free space or write elsewhere)" : "";
  return new MkdiskError("E_OUTPUT", `${what} failed: ${err.message}${hint}`, where);
}

/** Removes every temporary output and scratch directory still there (on an error or a signal). */
export function removeTempFiles(): void {
  for (const p of live) {
    try {
      unlinkSync(p);
    } catch {
      /* already gone */
    }
  }
  live.clear();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  scratch.clear();
  update();
}

/**
 * The outputs this process has renamed into place that are still there
 * (complete images: an interrupted build names them rather than claim that
 * nothing was written). Outputs inside a removed scratch directory are not.
 */
export function outputsInPlace(): string[] {
  return placed.filter((p) => existsSync(p));
}

/**
 * A new temporary directory (under the system's), removed by `remove()` or,
 * if the process is interrupted first, by removeTempFiles.
 */
export function scratchDirectory(prefix: string): { path: string; remove(): void } {
  creating++;
  update();
  let path: string;
  try {
    path = mkdtempSync(join(tmpdir(), prefix));
    scratch.add(path);
  } finally {
    creating--;
    update();
  }
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      scratch.delete(path);
      update();
    },
  };
}

/** Whether anything is at `path`, a dangling symlink included (existsSync follows links). */
function occupied(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

export function checkOutputPath(path: string, force: boolean): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw new MkdiskError("E_OUTPUT", `output is a directory; give the path of a file to write`, path);
  if (!force && st) {
    throw new MkdiskError("E_OUTPUT", `output exists${st.isSymbolicLink() ? " (a symbolic link)" : ""}; pass --force to replace it`, path);
  }
  if (!existsSync(dirname(path) || ".")) {
    throw new MkdiskError("E_OUTPUT", `output directory ${dirname(path)} does not exist`, path);
  }
}

export interface TempOutput {
  readonly fd: number;
  readonly tempPath: string;
  /**
   * Starts writing what has been written so far to disk, in the background
   * (an fdatasync on libuv's thread pool), so the disk works while the build
   * goes on and the fsync in commit() has less left to wait for. At most one
   * is in flight. A failure is kept and reported by commit(): Linux reports a
   * writeback error once per open file, so commit()'s own fsync would not
   * see it again.
   */
  flushEarly(): void;
  /** Resolves when no background flush is in flight (call before commit or abort). */
  settle(): Promise<void>;
  /**
   * Makes the bytes durable: reports a failed background flush, then fsync
   * and close. A full disk or an I/O error shows here at the latest.
   */
  sync(): void;
  /** Fails if the output appeared during the build and `force` is not set (the temporary file is then removed). */
  checkTarget(): void;
  /** Renames the synced temporary file into place and makes the rename durable. */
  publish(): void;
  /** sync, checkTarget, publish: one output. Several: see commitAll. */
  commit(): void;
  /** close and remove. */
  abort(): void;
}

/** Disk progress between two background flushes of the outputs (see TempOutput.flushEarly). */
export const EARLY_FLUSH_BYTES = 32 << 20;

/**
 * A pump progress callback that also starts a background flush of `temps`
 * every EARLY_FLUSH_BYTES of progress, then calls `progress`.
 */
export function flushingProgress(temps: readonly TempOutput[], progress?: (done: number, total: number) => void): (done: number, total: number) => void {
  let flushedAt = 0;
  return (done, total) => {
    if (done - flushedAt >= EARLY_FLUSH_BYTES) {
      flushedAt = done;
      for (const t of temps) t.flushEarly();
    }
    progress?.(done, total);
  };
}

/**
 * Makes a rename in `dir` durable (the file's data already is). Best effort:
 * some file systems refuse fsync on a directory, and the output is in place
 * by now either way.
 */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Not supported here; nothing to undo.
  } finally {
    try {
      if (fd !== undefined) closeSync(fd);
    } catch {
      // The output is in place; a failed close of the directory changes nothing.
    }
  }
}

export function openTempOutput(path: string, force: boolean): TempOutput {
  checkOutputPath(path, force);
  // Beside the output (a rename cannot cross file systems); a name too long for one more suffix is shortened.
  const base = basename(path);
  const tempName = Buffer.byteLength(base) > 200 ? `.mkdisk-${createHash("sha256").update(base).digest("hex").slice(0, 16)}` : `.${base}`;
  // Not path.join, which would fold "link/.." to "." where the kernel goes through the link.
  const tempPath = `${dirname(path)}/${tempName}.${process.pid}.mkdisk-tmp`;
  let fd: number;
  // Registered before it exists, so that the signal handlers are in place when it appears.
  live.add(tempPath);
  update();
  try {
    fd = openSync(tempPath, "wx", 0o644);
  } catch (e) {
    live.delete(tempPath);
    update();
    throw new MkdiskError("E_OUTPUT", `cannot create a temporary file beside the output: ${(e as Error).message}`, path);
  }
  let open = true;
  let flushing: Promise<void> | undefined;
  let flushError: NodeJS.ErrnoException | undefined;
  const failed = (what: string, err: NodeJS.ErrnoException) => outputFailure(what, err, path);
  return {
    fd,
    tempPath,
    flushEarly() {
      if (flushing || !open) return;
      flushing = new Promise<void>((resolve) =>
        fdatasync(fd, (err) => {
          flushError ??= err ?? undefined;
          resolve();
        }),
      ).then(() => {
        flushing = undefined;
      });
    },
    async settle() {
      while (flushing) await flushing;
    },
    sync() {
      if (flushError) throw failed("writing the output to disk", flushError);
      // Delayed allocation, quotas and network file systems can report a full
      // disk or an I/O error only here.
      try {
        fsyncSync(fd);
        // Linux releases the descriptor even when close fails: never close it twice.
        open = false;
        closeSync(fd);
      } catch (e) {
        throw failed("writing the output to disk", e as NodeJS.ErrnoException);
      }
    },
    checkTarget() {
      // Re-checked just before replacing: the output may have appeared meanwhile.
      if (!force && occupied(path)) {
        this.abort();
        throw new MkdiskError("E_OUTPUT", `output appeared during the build; pass --force to replace it`, path);
      }
    },
    publish() {
      this.checkTarget();
      try {
        renameSync(tempPath, path);
      } catch (e) {
        throw failed(`moving ${tempPath} into place`, e as NodeJS.ErrnoException);
      }
      live.delete(tempPath);
      placed.push(path);
      update();
      syncDirectory(dirname(path));
    },
    commit() {
      this.sync();
      this.publish();
    },
    abort() {
      if (open) {
        try { closeSync(fd); } catch { /* closed */ }
        open = false;
      }
      try { unlinkSync(tempPath); } catch { /* gone */ }
      live.delete(tempPath);
      update();
    },
  };
}

/**
 * Puts several outputs of one build in place, close to all or nothing: every
 * one is synced (where a full disk or a failing device shows) and checked
 * for an output that appeared meanwhile before any is renamed. So those
 * failures leave every earlier output as it was; only a failed rename, after
 * others succeeded, can leave some outputs replaced and not others. Waits for
 * background flushes first. On failure, call abortAll.
 */
export async function commitAll(temps: readonly TempOutput[]): Promise<void> {
  for (const t of temps) await t.settle();
  for (const t of temps) t.sync();
  for (const t of temps) t.checkTarget();
  for (const t of temps) t.publish();
}

/** Waits for background flushes, then closes and removes every temporary file not yet in place. */
export async function abortAll(temps: readonly TempOutput[]): Promise<void> {
  for (const t of temps) await t.settle();
  for (const t of temps) t.abort();
}

