/**
 * Raw (sparse) image sink: the file is truncated to the disk size, so it
 * starts as one hole; only non-zero 4 KiB blocks are written, in coalesced
 * runs. A disk of 20 GiB holding 1 GiB of data costs the 1 GiB.
 */
import { ftruncateSync, writeSync } from "node:fs";
import { MkdiskError } from "../bin/errors.js";
import { outputFailure } from "./output.js";
import type { ImageSink } from "./sink.js";
import type { Window } from "./windows.js";
import { isAllZero } from "./zero.js";

const BLOCK = 4096;

export function writeFully(fd: number, data: Uint8Array, position: number | null): void {
  let done = 0;
  while (done < data.length) {
    let n: number;
    try {
      n = writeSync(fd, data, done, data.length - done, position === null ? null : position + done);
    } catch (e) {
      throw outputFailure("write", e as NodeJS.ErrnoException);
    }
    done += n;
  }
}

export class RawSink implements ImageSink {
  readonly format = "raw";
  readonly alignBytes = BLOCK;
  constructor(private readonly fd: number) {}

  begin(totalBytes: number): void {
    try {
      ftruncateSync(this.fd, totalBytes);
    } catch (e) {
      throw new MkdiskError("E_OUTPUT", `cannot size the output to ${totalBytes} bytes: ${(e as Error).message}`);
    }
  }

  write(w: Window): void {
    const d = w.data;
    let runStart = -1;
    for (let i = 0; i < d.length; i += BLOCK) {
      const end = Math.min(i + BLOCK, d.length);
      if (isAllZero(d, i, end)) {
        if (runStart >= 0) writeFully(this.fd, d.subarray(runStart, i), w.offsetBytes + runStart);
        runStart = -1;
      } else if (runStart < 0) runStart = i;
    }
    if (runStart >= 0) writeFully(this.fd, d.subarray(runStart), w.offsetBytes + runStart);
  }

  finish(): void {}
}
