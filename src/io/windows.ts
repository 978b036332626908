/**
 * The hot block-copy path: turns an ordered extent stream into aligned,
 * fixed-size windows of bytes. Every writer (raw, qcow2, vmdk) consumes
 * windows, so file contents are read once, straight into the window buffer,
 * with large reads; consecutive small files land in the same window, so
 * writes are coalesced. Windows no extent touches are never produced: zeros
 * are not materialised.
 *
 * The yielded `data` buffer is reused: it is valid until the next iteration.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { fail, MkdiskError } from "../bin/errors.js";
import { openFailure } from "./filekind.js";
import type { Extent } from "./extent.js";

export interface Window {
  /** Disk offset of data[0]; a multiple of the window size. */
  readonly offsetBytes: number;
  /** windowBytes long, except the last window of the disk, cut at totalBytes. */
  readonly data: Uint8Array;
}

class FileReader {
  private path: string | Buffer | undefined;
  private fd = -1;
  read(path: string | Buffer, into: Uint8Array, fileOffsetBytes: number): void {
    if (this.path !== path) {
      this.close();
      try {
        this.fd = openSync(path, "r");
      } catch (e) {
        throw openFailure(e as NodeJS.ErrnoException, path);
      }
      this.path = path;
    }
    let done = 0;
    while (done < into.length) {
      let n: number;
      try {
        n = readSync(this.fd, into, done, into.length - done, fileOffsetBytes + done);
      } catch (e) {
        throw new MkdiskError("E_TREE", `read failed: ${(e as Error).message}`, String(path));
      }
      if (n === 0) fail("E_TREE", `file is shorter than when it was scanned (changed during the build?): expected bytes up to ${fileOffsetBytes + into.length}, got ${fileOffsetBytes + done}`, String(path));
      done += n;
    }
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.path = undefined;
  }
}

export function* windows(extents: Iterable<Extent>, windowBytes: number, totalBytes: number): Generator<Window> {
  const buf = new Uint8Array(windowBytes);
  const reader = new FileReader();
  let cur = -1; // current window index
  let curLen = 0;
  let filled = 0; // buf[0, filled) holds this window's bytes; the rest is zeroed as extents move past it
  try {
    for (const e of extents) {
      if (e.lengthBytes === 0 || e.source.kind === "zero") continue;
      if (e.offsetBytes + e.lengthBytes > totalBytes) fail("E_INTERNAL", `extent ends at ${e.offsetBytes + e.lengthBytes}, beyond the image (${totalBytes})`);
      let pos = e.offsetBytes;
      const end = e.offsetBytes + e.lengthBytes;
      while (pos < end) {
        const wi = Math.floor(pos / windowBytes);
        if (wi !== cur) {
          if (cur >= 0) {
            buf.fill(0, filled, curLen);
            yield { offsetBytes: cur * windowBytes, data: buf.subarray(0, curLen) };
          }
          if (wi < cur) fail("E_INTERNAL", `extent stream out of order at ${pos}`);
          cur = wi;
          curLen = Math.min(windowBytes, totalBytes - wi * windowBytes);
          filled = 0;
        }
        const inWin = pos - wi * windowBytes;
        if (inWin < filled) fail("E_INTERNAL", `extent stream overlaps at ${pos}`);
        buf.fill(0, filled, inWin); // the gap before this extent (only what no extent covers is zeroed)
        const n = Math.min(end - pos, windowBytes - inWin);
        filled = inWin + n;
        const dst = buf.subarray(inWin, inWin + n);
        const src = e.source;
        if (src.kind === "bytes") {
          const from = pos - e.offsetBytes;
          dst.set(src.bytes.subarray(from, from + n));
        } else {
          reader.read(src.path, dst, src.fileOffsetBytes + (pos - e.offsetBytes));
        }
        pos += n;
      }
    }
    if (cur >= 0) {
      buf.fill(0, filled, curLen);
      yield { offsetBytes: cur * windowBytes, data: buf.subarray(0, curLen) };
    }
  } finally {
    reader.close();
  }
}
