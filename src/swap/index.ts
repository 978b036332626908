/**
 * Linux swap area, version 1 (the format mkswap writes; Linux
 * include/linux/swap.h `union swap_header`). Only the first page is written:
 * the kernel ignores the rest of the area until it swaps.
 *
 * Page 0, page size 4096 (x86-64 and most arm64 kernels):
 *  off   len field
 *  0x000 1024 bootbits (zero)
 *  0x400    4 version = 1
 *  0x404    4 last_page = pages - 1
 *  0x408    4 nr_badpages = 0
 *  0x40C   16 sws_uuid (RFC order, as mkswap stores it)
 *  0x41C   16 sws_volume (label, NUL padded)
 *  0x42C  468 padding[117] (zero)
 *  ...        zero
 *  0xFF6   10 magic "SWAPSPACE2"
 */
import { defineStruct } from "../bin/struct.js";
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";
import type { Uuid } from "../bin/guid.js";
import { bytesExtent, type PlannedRegion } from "../io/extent.js";

export const SWAP_PAGE_BYTES = 4096;
export const SWAP_MAGIC = utf8("SWAPSPACE2");
/** mkswap refuses fewer than 10 pages. */
export const SWAP_MIN_PAGES = 10;

export const SwapHeader = defineStruct("SwapHeader", SWAP_PAGE_BYTES, {
  bootbits: { off: 0x000, type: "bytes", len: 1024 },
  version: { off: 0x400, type: "u32le" },
  last_page: { off: 0x404, type: "u32le" },
  nr_badpages: { off: 0x408, type: "u32le" },
  sws_uuid: { off: 0x40c, type: "bytes", len: 16 },
  sws_volume: { off: 0x41c, type: "bytes", len: 16 },
  padding: { off: 0x42c, type: "bytes", len: 0xff6 - 0x42c },
  magic: { off: 0xff6, type: "bytes", len: 10 },
});

export interface SwapOptions {
  sizeBytes: number;
  uuid: Uuid;
  label?: string;
}

export function planSwap(opts: SwapOptions, where = "swap"): PlannedRegion {
  const pages = Math.floor(opts.sizeBytes / SWAP_PAGE_BYTES);
  if (pages < SWAP_MIN_PAGES) fail("E_FIT", `swap needs at least ${SWAP_MIN_PAGES * SWAP_PAGE_BYTES} bytes, partition has ${opts.sizeBytes}`, where);
  const label = utf8(opts.label ?? "");
  if (label.length > 16) fail("E_LAYOUT", `swap label "${opts.label}" is ${label.length} bytes; at most 16`, where);
  const page = SwapHeader.encode({
    version: 1,
    last_page: Math.min(pages - 1, 0xffffffff),
    nr_badpages: 0,
    sws_uuid: opts.uuid,
    sws_volume: label,
    magic: SWAP_MAGIC,
  });
  return { sizeBytes: opts.sizeBytes, extents: () => [bytesExtent(0, page)] };
}
