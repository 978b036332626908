/** Image readers for qcow2 and VMDK input (convert, inspect, diff). */
import { fail } from "./bin/errors.js";
import type { Extent } from "./io/extent.js";

export interface ImageReader {
  readonly virtualBytes: number;
  /** Guest data as ordered extents (unallocated ranges omitted). */
  extents(): Iterable<Extent>;
  close(): void;
}

export function openImageReader(path: string, format: "qcow2" | "vmdk"): ImageReader {
  return fail("E_UNSUPPORTED", `reading ${format} images is not supported yet`, path);
}

export interface RandomImageReader {
  readonly virtualBytes: number;
  readAt(offsetBytes: number, lengthBytes: number): Uint8Array;
  close(): void;
}

/** Random access to the guest bytes of a qcow2 or VMDK image. */
export function openRandomReader(path: string, format: "qcow2" | "vmdk"): RandomImageReader {
  return fail("E_UNSUPPORTED", `reading ${format} images is not supported yet`, path);
}
