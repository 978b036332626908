/**
 * Image readers for qcow2 and VMDK input (convert, inspect, diff): Node file
 * adapters around the format readers in src/qcow2 and src/vmdk, which work on
 * an abstract positional source.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { MkdiskError } from "./bin/errors.js";
import type { Extent } from "./io/extent.js";
import { openQcow2 } from "./qcow2/reader.js";
import { openVmdk } from "./vmdk/reader.js";

export interface ImageReader {
  readonly virtualBytes: number;
  /** Guest data as ordered extents (unallocated ranges omitted). */
  extents(): Iterable<Extent>;
  close(): void;
}

export interface RandomImageReader {
  readonly virtualBytes: number;
  readAt(offsetBytes: number, lengthBytes: number): Uint8Array;
  close(): void;
}

function fileSource(path: string): { sizeBytes: number; readAt(off: number, len: number): Uint8Array; close(): void } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new MkdiskError("E_IMAGE", `cannot open: ${(e as Error).message}`, path);
  }
  const sizeBytes = fstatSync(fd).size;
  return {
    sizeBytes,
    /** Exactly `len` bytes; past the end of the file they read as zeros (the format readers' contract). */
    readAt(off, len) {
      const b = new Uint8Array(len);
      const n = Math.max(0, Math.min(len, sizeBytes - off));
      let done = 0;
      while (done < n) {
        const r = readSync(fd, b, done, n - done, off + done);
        if (r === 0) break;
        done += r;
      }
      return b;
    },
    close: () => closeSync(fd),
  };
}

function open(path: string, format: "qcow2" | "vmdk") {
  const src = fileSource(path);
  try {
    const img = format === "qcow2" ? openQcow2(src) : openVmdk(src);
    return { img, src };
  } catch (e) {
    src.close();
    if (e instanceof MkdiskError) throw new MkdiskError(e.code, e.message, path);
    throw e;
  }
}

export function openImageReader(path: string, format: "qcow2" | "vmdk"): ImageReader {
  const { img, src } = open(path, format);
  return { virtualBytes: img.sizeBytes, extents: () => img.extents(), close: () => src.close() };
}

/**
 * Random access to the guest bytes of a qcow2 or VMDK image. A read past the
 * end of the disk is cut short, as a raw file's is (inspect and diff read
 * where a damaged or shrunk GPT points, and report what is missing).
 */
export function openRandomReader(path: string, format: "qcow2" | "vmdk"): RandomImageReader {
  const { img, src } = open(path, format);
  const readAt = (o: number, l: number) => (o >= img.sizeBytes ? new Uint8Array(0) : img.readAt(o, Math.min(l, img.sizeBytes - o)));
  return { virtualBytes: img.sizeBytes, readAt, close: () => src.close() };
}
