/**
 * Safe outputs with background flushes, and the pump's event-loop turns.
 * The flush itself cannot be observed from user space (it only moves dirty
 * pages to disk sooner); what is checked is that it never changes what ends up
 * at the output path, never races commit or abort, and is started on schedule.
 */
import { describe, expect, it } from "vitest";
import { closeSync, existsSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { abortAll, commitAll, EARLY_FLUSH_BYTES, flushingProgress, openTempOutput, type TempOutput } from "../../src/io/output.js";
import { pump } from "../../src/io/pump.js";
import { bytesExtent } from "../../src/io/extent.js";
import type { ImageSink } from "../../src/io/sink.js";
import { MkdiskError } from "../../src/bin/errors.js";
import { tempDir } from "../helpers/tools.js";

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Runs `body` with a fresh temporary output for `disk.img` in a directory removed afterwards. */
async function withTempOutput(body: (o: TempOutput, out: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  try {
    const out = join(t.path, "disk.img");
    await body(openTempOutput(out, false), out);
  } finally {
    t.cleanup();
  }
}

/** commitAll as a build calls it (abortAll on failure); returns the error, if any. */
async function commitOrAbort(temps: TempOutput[]): Promise<unknown> {
  try {
    await commitAll(temps);
    return undefined;
  } catch (e) {
    await abortAll(temps);
    return e;
  }
}

/** Aborts `o` and checks that neither the output nor the temporary file is left. */
function abortLeavesNothing(o: TempOutput, out: string): void {
  o.abort();
  expect(existsSync(out)).toBe(false);
  expect(existsSync(o.tempPath)).toBe(false);
}

describe("TempOutput background flush", () => {
  it("commit after flushes in flight gives exactly the bytes written", async () => {
    await withTempOutput(async (o, out) => {
      const a = pattern(3 << 20, 1);
      const b = pattern(1 << 20, 7);
      writeSync(o.fd, a, 0, a.length, 0);
      o.flushEarly();
      o.flushEarly(); // one in flight at a time: a no-op
      writeSync(o.fd, b, 0, b.length, a.length); // written while the flush may still run
      o.flushEarly();
      await o.settle();
      o.commit();
      expect(existsSync(o.tempPath)).toBe(false);
      const got = readFileSync(out);
      expect(got.length).toBe(a.length + b.length);
      expect(Buffer.compare(got.subarray(0, a.length), a)).toBe(0);
      expect(Buffer.compare(got.subarray(a.length), b)).toBe(0);
    });
  });

  it("abort after a flush leaves neither the output nor the temporary file", async () => {
    await withTempOutput(async (o, out) => {
      writeSync(o.fd, pattern(1 << 20, 3));
      o.flushEarly();
      await o.settle();
      abortLeavesNothing(o, out);
    });
  });

  it("a failed background flush fails commit (the kernel reports a writeback error only once)", async () => {
    await withTempOutput(async (o, out) => {
      writeSync(o.fd, pattern(4096, 9));
      // Make the flush fail: its fd is gone (EBADF), as a failing disk would make it fail with EIO.
      closeSync(o.fd);
      o.flushEarly();
      await o.settle();
      expect(() => o.commit()).toThrow(/writing the output to disk failed: EBADF/);
      abortLeavesNothing(o, out);
    });
  });

  it("a failing final fsync is an output error naming the output, not a crash", async () => {
    await withTempOutput(async (o, out) => {
      writeSync(o.fd, pattern(4096, 11));
      closeSync(o.fd); // the fsync in commit now fails with EBADF, as a full or failing disk would make it fail
      let err: unknown;
      try {
        o.commit();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MkdiskError);
      expect((err as MkdiskError).code).toBe("E_OUTPUT");
      expect((err as MkdiskError).message).toBe(`${out}: writing the output to disk failed: EBADF: bad file descriptor, fsync`);
      abortLeavesNothing(o, out);
    });
  });

  it("commitAll replaces no output when a later one fails to sync (a full or failing disk)", async () => {
    const t = tempDir();
    try {
      const outs = ["a.img", "b.img", "c.img"].map((n) => join(t.path, n));
      for (const p of outs) writeFileSync(p, "old\n");
      const temps = outs.map((p) => openTempOutput(p, true));
      temps.forEach((o, i) => writeSync(o.fd, Buffer.from(`new ${i}\n`)));
      closeSync(temps[1]!.fd); // its fsync now fails with EBADF, as a full disk would make it fail
      const err = await commitOrAbort(temps);
      expect((err as MkdiskError).message).toBe(`${outs[1]}: writing the output to disk failed: EBADF: bad file descriptor, fsync`);
      for (const p of outs) expect(readFileSync(p, "utf8")).toBe("old\n");
      expect(readdirSync(t.path).sort()).toEqual(["a.img", "b.img", "c.img"]);
      // The same three outputs, none failing: every one is replaced.
      const again = outs.map((p) => openTempOutput(p, true));
      again.forEach((o, i) => writeSync(o.fd, Buffer.from(`new ${i}\n`)));
      await commitAll(again);
      outs.forEach((p, i) => expect(readFileSync(p, "utf8")).toBe(`new ${i}\n`));
      expect(readdirSync(t.path).sort()).toEqual(["a.img", "b.img", "c.img"]);
    } finally {
      t.cleanup();
    }
  });

  it("commitAll replaces no output when a later one appeared during the build", async () => {
    const t = tempDir();
    try {
      const [a, b] = ["a.img", "b.img"].map((n) => join(t.path, n));
      const temps = [openTempOutput(a!, false), openTempOutput(b!, false)];
      writeFileSync(b!, "someone else's\n");
      const err = await commitOrAbort(temps);
      expect((err as MkdiskError).message).toMatch(/output appeared during the build/);
      expect(existsSync(a!)).toBe(false);
      expect(readdirSync(t.path)).toEqual(["b.img"]);
    } finally {
      t.cleanup();
    }
  });

  it("flushingProgress starts a flush of every output each EARLY_FLUSH_BYTES of progress", () => {
    const calls: string[] = [];
    const fake = (name: string): TempOutput => ({ fd: -1, tempPath: name, flushEarly: () => calls.push(name), settle: async () => {}, sync() {}, checkTarget() {}, publish() {}, commit() {}, abort() {} });
    const seen: number[] = [];
    const p = flushingProgress([fake("a"), fake("b")], (done) => seen.push(done));
    const M = EARLY_FLUSH_BYTES;
    for (const done of [M / 2, M - 1, M, M + M / 2, 2 * M + 1, 5 * M]) p(done, 10 * M);
    expect(calls).toEqual(["a", "b", "a", "b", "a", "b"]);
    expect(seen).toEqual([M / 2, M - 1, M, M + M / 2, 2 * M + 1, 5 * M]);
  });
});

describe("pump", () => {
  it("lets the event loop turn during a long synchronous pass", async () => {
    const window = 256 << 10;
    const data = pattern(window, 5);
    const windows = 200;
    const extents = Array.from({ length: windows }, (_, i) => bytesExtent(i * window, data));
    let fired = false;
    const firedAt: boolean[] = [];
    const sink: ImageSink = {
      format: "raw",
      alignBytes: 4096,
      begin() {},
      write() {
        firedAt.push(fired);
      },
      finish() {},
    };
    setImmediate(() => (fired = true));
    await pump(extents, windows * window, [sink]);
    expect(firedAt.length).toBe(windows);
    // The callback ran while windows were still being written, not after the pass.
    expect(firedAt[windows - 1]).toBe(true);
    expect(firedAt[0]).toBe(false);
  });
});
