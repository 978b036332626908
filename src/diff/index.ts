/**
 * `mkdisk diff A B`: compares two images of any supported format in bounded
 * memory (1 MiB chunks, a capped list of differing ranges) and names each
 * difference at the deepest level it can:
 *   - GPT: protective MBR field, header field (primary/backup), entry field of partition N;
 *   - inside a partition: the filesystem explainer for its type (fs-explain.ts),
 *     which maps byte ranges to structures, paths and fields;
 *   - otherwise: partition N at an offset, or unallocated space.
 */
import { isAllZero } from "../io/zero.js";
import { GptEntry, GptHeader, GPT_ENTRY_SIZE, ProtectiveMbr } from "../gpt/gpt.js";
import { readGpt, type ReadGpt } from "../gpt/read.js";
import { openAnyImage, type RandomReader } from "../inspect/index.js";
import { probeFs } from "../inspect/fs.js";
import { explainFs, registerExplainer } from "./fs-explain.js";
import { explainExt4 } from "./ext4.js";
import { explainFat } from "./fat.js";

registerExplainer("ext4", explainExt4);
registerExplainer("vfat", explainFat);

export interface Difference {
  /** Where, as deep as known: "gpt", "partition 2 (root-x86-64) ext4", … */
  readonly area: string;
  /** What: a field name, a path, "content". */
  readonly what: string;
  /** Disk byte range [start, end). */
  readonly startBytes: number;
  readonly endBytes: number;
  readonly detail?: string;
}

export interface DiffResult {
  readonly identical: boolean;
  readonly sizeA: number;
  readonly sizeB: number;
  readonly differences: readonly Difference[];
  /** True when more differing ranges existed than were examined. */
  readonly truncated: boolean;
}

const CHUNK = 1 << 20;
const MAX_RANGES = 100_000;

/** Differing byte ranges, coalesced (gaps < 64 bytes merged). */
export function diffRanges(a: RandomReader, b: RandomReader): { ranges: [number, number][]; truncated: boolean } {
  const size = Math.max(a.virtualBytes, b.virtualBytes);
  const ranges: [number, number][] = [];
  let truncated = false;
  for (let off = 0; off < size && !truncated; off += CHUNK) {
    const n = Math.min(CHUNK, size - off);
    const x = pad(readWithin(a, off, n), n);
    const y = pad(readWithin(b, off, n), n);
    if (Buffer.compare(x, y) === 0) continue;
    // Narrow down by 4 KiB blocks, then bytes.
    for (let s = 0; s < n; s += 4096) {
      const e = Math.min(s + 4096, n);
      if (Buffer.compare(x.subarray(s, e), y.subarray(s, e)) === 0) continue;
      for (let i = s; i < e; i++) {
        if (x[i] === y[i]) continue;
        const at = off + i;
        const last = ranges[ranges.length - 1];
        if (last && at - last[1] < 64) last[1] = at + 1;
        else {
          if (ranges.length >= MAX_RANGES) {
            truncated = true;
            break;
          }
          ranges.push([at, at + 1]);
        }
      }
      if (truncated) break;
    }
  }
  return { ranges, truncated };
}

/** Up to `n` bytes at `off`, cut at the image's end (qcow2 and VMDK readers refuse reads past it; the shorter image reads as zeros there). */
function readWithin(r: RandomReader, off: number, n: number): Uint8Array {
  const len = Math.min(n, r.virtualBytes - off);
  return len > 0 ? r.readAt(off, len) : new Uint8Array(0);
}

function pad(u: Uint8Array, n: number): Buffer {
  if (u.length === n) return Buffer.from(u.buffer, u.byteOffset, u.length);
  const b = Buffer.alloc(n);
  b.set(u);
  return b;
}

function fieldAt(fields: Record<string, { off: number; type: string; len?: number }>, rel: number): string {
  for (const [k, f] of Object.entries(fields)) {
    const len = f.type === "bytes" ? f.len! : f.type === "u8" ? 1 : f.type.startsWith("u16") ? 2 : f.type.startsWith("u32") ? 4 : 8;
    if (rel >= f.off && rel < f.off + len) return k;
  }
  return `byte 0x${rel.toString(16)}`;
}

function gptArea(g: ReadGpt, diskBytes: number, start: number): { area: string; what: string } | undefined {
  const s = g.sectorBytes;
  const lastLba = Math.floor(diskBytes / s) - 1;
  const arrSectors = (128 * GPT_ENTRY_SIZE) / s;
  if (start < 512) return { area: "protective MBR", what: fieldAt(ProtectiveMbr.fields, start) };
  if (start >= s && start < 2 * s) return { area: "GPT primary header", what: fieldAt(GptHeader.fields, start - s) };
  if (start >= 2 * s && start < (2 + arrSectors) * s) {
    const rel = start - 2 * s;
    return { area: `GPT primary entry ${Math.floor(rel / GPT_ENTRY_SIZE) + 1}`, what: fieldAt(GptEntry.fields, rel % GPT_ENTRY_SIZE) };
  }
  if (start >= lastLba * s) return { area: "GPT backup header", what: fieldAt(GptHeader.fields, start - lastLba * s) };
  const bArr = (lastLba - arrSectors) * s;
  if (start >= bArr && start < lastLba * s) {
    const rel = start - bArr;
    return { area: `GPT backup entry ${Math.floor(rel / GPT_ENTRY_SIZE) + 1}`, what: fieldAt(GptEntry.fields, rel % GPT_ENTRY_SIZE) };
  }
  return undefined;
}

/**
 * Splits coalesced ranges where a GPT structure or a partition starts or
 * ends, so that each piece is attributed to the one area it lies in (a range
 * is classified by its first byte).
 */
function splitAtBoundaries(ranges: [number, number][], g: ReadGpt | undefined, diskBytes: number): [number, number][] {
  if (!g) return ranges;
  const s = g.sectorBytes;
  const lastLba = Math.floor(diskBytes / s) - 1;
  const arrSectors = (128 * GPT_ENTRY_SIZE) / s;
  const cuts = [512, s, 2 * s, (2 + arrSectors) * s, (lastLba - arrSectors) * s, lastLba * s, diskBytes];
  for (const p of g.partitions) cuts.push(p.startLba * s, (p.endLba + 1) * s);
  cuts.sort((x, y) => x - y);
  const out: [number, number][] = [];
  for (const [start, end] of ranges) {
    let from = start;
    for (const c of cuts) {
      if (c <= from || c >= end) continue;
      out.push([from, c]);
      from = c;
    }
    out.push([from, end]);
  }
  return out;
}

export function diffImages(pathA: string, pathB: string): DiffResult {
  const A = openAnyImage(pathA);
  const B = openAnyImage(pathB);
  try {
    const a = A.reader;
    const b = B.reader;
    const { ranges, truncated } = diffRanges(a, b);
    const differences: Difference[] = [];
    if (a.virtualBytes !== b.virtualBytes) differences.push({ area: "disk", what: "size", startBytes: 0, endBytes: 0, detail: `${a.virtualBytes} vs ${b.virtualBytes}` });
    let gA: ReadGpt | undefined;
    try {
      gA = readGpt(a.readAt, a.virtualBytes);
    } catch {
      gA = undefined;
    }
    let gB: ReadGpt | undefined;
    try {
      gB = readGpt(b.readAt, b.virtualBytes);
    } catch {
      gB = undefined;
    }
    // Ranges inside partitions go to the filesystem explainers, grouped by partition.
    const perPartition = new Map<number, [number, number][]>();
    for (const [s, e] of splitAtBoundaries(ranges, gA, a.virtualBytes)) {
      if (s >= a.virtualBytes) {
        differences.push({ area: "past the end of the first image", what: "bytes", startBytes: s, endBytes: e });
        continue;
      }
      const g = gA ? gptArea(gA, a.virtualBytes, s) : undefined;
      if (g) {
        const old = differences.find((d) => d.area === g.area && d.what === g.what);
        if (old) (old as { endBytes: number }).endBytes = e;
        else differences.push({ area: g.area, what: g.what, startBytes: s, endBytes: e });
        continue;
      }
      const p = gA?.partitions.find((q) => s >= q.startLba * gA!.sectorBytes && s < (q.endLba + 1) * gA!.sectorBytes);
      if (!p) {
        differences.push({ area: "unallocated space", what: "bytes", startBytes: s, endBytes: e });
        continue;
      }
      let list = perPartition.get(p.number);
      if (!list) perPartition.set(p.number, (list = []));
      list.push([s, e]);
    }
    for (const [num, list] of perPartition) {
      const pa = gA!.partitions.find((q) => q.number === num)!;
      const pb = gB?.partitions.find((q) => q.number === num);
      const base = pa.startLba * gA!.sectorBytes;
      // As large as the GPT says, but no larger than the disk: a damaged entry must not size the explainers' tables.
      const size = Math.max(0, Math.min((pa.endLba - pa.startLba + 1) * gA!.sectorBytes, a.virtualBytes - base));
      const sub = (r: RandomReader) => (o: number, l: number) => {
        const n = Math.max(0, Math.min(l, size - o));
        return pad(readWithin(r, base + o, n), n);
      };
      const fs = probeFs(sub(a), size);
      const area = `partition ${num} (${pa.label || pa.typeName || pa.typeGuid})${fs.type !== "unknown" ? " " + fs.type : ""}`;
      const same = pb && pb.startLba === pa.startLba;
      const explained = same ? explainFs(fs.type, sub(a), sub(b), size, list.map(([s, e]) => [s - base, e - base])) : undefined;
      if (explained) for (const d of explained) differences.push({ area, what: d.what, detail: d.detail, startBytes: base + d.startBytes, endBytes: base + d.endBytes });
      else for (const [s, e] of list) differences.push({ area, what: `bytes at partition offset ${s - base}`, startBytes: s, endBytes: e });
    }
    return { identical: ranges.length === 0 && a.virtualBytes === b.virtualBytes, sizeA: a.virtualBytes, sizeB: b.virtualBytes, differences, truncated };
  } finally {
    A.reader.close();
    B.reader.close();
  }
}

export { isAllZero };
