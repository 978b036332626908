/**
 * Filesystem probes for inspect: recognise ext4, FAT32 and swap by their
 * signatures and report identity fields. Readers of untrusted bytes: only
 * fixed offsets inside the first 8 KiB are read.
 */
import { formatUuid } from "../bin/guid.js";
import { r16le, r32le, view } from "../bin/int.js";
import type { ReadAt } from "../gpt/read.js";

export interface FsInfo {
  readonly type: "ext4" | "vfat" | "swap" | "unknown";
  readonly uuid?: string;
  readonly label?: string;
  readonly sizeBytes?: number;
  readonly blockBytes?: number;
  readonly features?: string[];
  readonly times?: Record<string, number>;
  readonly hashSeed?: string;
  readonly volumeId?: string;
  readonly inodesUsed?: number;
  readonly freeBytes?: number;
}

const text = (b: Uint8Array) => {
  const z = b.indexOf(0);
  return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
};

const COMPAT: Record<number, string> = { 0x1: "dir_prealloc", 0x2: "imagic_inodes", 0x4: "has_journal", 0x8: "ext_attr", 0x10: "resize_inode", 0x20: "dir_index", 0x200: "sparse_super2", 0x400: "fast_commit", 0x1000: "orphan_file" };
const INCOMPAT: Record<number, string> = { 0x2: "filetype", 0x4: "needs_recovery", 0x8: "journal_dev", 0x10: "meta_bg", 0x40: "extent", 0x80: "64bit", 0x100: "mmp", 0x200: "flex_bg", 0x400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed", 0x4000: "large_dir", 0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold" };
const RO_COMPAT: Record<number, string> = { 0x1: "sparse_super", 0x2: "large_file", 0x8: "huge_file", 0x10: "uninit_bg", 0x20: "dir_nlink", 0x40: "extra_isize", 0x100: "quota", 0x200: "bigalloc", 0x400: "metadata_csum", 0x1000: "read-only", 0x2000: "project", 0x8000: "verity", 0x10000: "orphan_present" };

function flags(v: number, names: Record<number, string>): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    const bit = 2 ** b;
    if (Math.floor(v / bit) % 2 === 1) out.push(names[bit] ?? `0x${bit.toString(16)}`);
  }
  return out;
}

export function probeFs(readAt: ReadAt, partitionBytes: number): FsInfo {
  const head = readAt(0, Math.min(8192, partitionBytes));
  if (head.length >= 2048) {
    const sb = head.subarray(1024, 2048);
    const d = view(sb);
    if (r16le(d, 0x38) === 0xef53) {
      const logBlock = r32le(d, 0x18);
      const blockBytes = logBlock <= 6 ? 1024 << logBlock : 0;
      const compat = r32le(d, 0x5c), incompat = r32le(d, 0x60), ro = r32le(d, 0x64);
      const blocks = r32le(d, 0x4) + (incompat & 0x80 ? r32le(d, 0x150) * 2 ** 32 : 0);
      const free = r32le(d, 0xc) + (incompat & 0x80 ? r32le(d, 0x158) * 2 ** 32 : 0);
      return {
        type: "ext4",
        uuid: formatUuid(sb.slice(0x68, 0x78)),
        label: text(sb.subarray(0x78, 0x88)),
        blockBytes,
        sizeBytes: blocks * blockBytes,
        freeBytes: free * blockBytes,
        features: [...flags(compat, COMPAT), ...flags(incompat, INCOMPAT), ...flags(ro, RO_COMPAT)],
        times: { mkfs: r32le(d, 0x108), mount: r32le(d, 0x2c), write: r32le(d, 0x30), check: r32le(d, 0x40) },
        hashSeed: formatUuid(sb.slice(0xec, 0xfc)),
        inodesUsed: r32le(d, 0x0) - r32le(d, 0x10),
      };
    }
  }
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa && text(head.subarray(0x52, 0x5a)).startsWith("FAT32")) {
    const d = view(head);
    const bps = r16le(d, 0x0b);
    const vol = r32le(d, 0x43);
    return {
      type: "vfat",
      volumeId: vol.toString(16).toUpperCase().padStart(8, "0"),
      label: text(head.subarray(0x47, 0x52)).trimEnd(),
      blockBytes: bps * head[0x0d],
      sizeBytes: r32le(d, 0x20) * bps,
      features: ["FAT32"],
    };
  }
  if (head.length >= 4096 && text(head.subarray(4086, 4096)) === "SWAPSPACE2") {
    const d = view(head);
    return { type: "swap", uuid: formatUuid(head.slice(0x40c, 0x41c)), label: text(head.subarray(0x41c, 0x42c)), sizeBytes: (r32le(d, 0x404) + 1) * 4096 };
  }
  return { type: "unknown" };
}
