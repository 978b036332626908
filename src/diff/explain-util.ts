/**
 * Shared pieces of the filesystem explainers (ext4.ts, fat.ts): a bounded
 * reader over untrusted partition bytes, field lookup in struct tables,
 * trimming a range to its differing bytes, and the collector that groups
 * per-field findings into one FsDifference per item (an inode, a directory
 * entry, a file's content), so that derived metadata (checksums) is reported
 * with the change that caused it.
 *
 * Every explainer is wrapped by `guardExplainer`: a malformed image, an
 * exhausted budget or any unexpected exception falls back to the generic
 * "bytes at partition offset N" description for the ranges not yet explained.
 */
import type { ReadAt } from "../gpt/read.js";
import type { FieldSpec } from "../bin/struct.js";
import type { FsDifference } from "./fs-explain.js";

/** Largest single read an explainer makes (one block, one cluster, one window). */
export const MAX_READ_BYTES = 1 << 20;
/** Metadata bytes one side may read while building its maps (directories, extent trees, FAT). */
export const READ_BUDGET_BYTES = 512 << 20;

/** Thrown when an image is malformed beyond what an explainer can use, or a budget runs out. */
export class Unexplainable extends Error {}

/** Bounded random access to one partition: reads are exact-length (zero padded past the end), cached, budgeted. */
export class Side {
  private readonly cache = new Map<string, Uint8Array>();
  private readBytes = 0;
  constructor(
    private readonly readAt: ReadAt,
    readonly sizeBytes: number,
  ) {}

  read(offBytes: number, lenBytes: number): Uint8Array {
    if (!Number.isSafeInteger(offBytes) || !Number.isSafeInteger(lenBytes) || lenBytes < 0 || lenBytes > MAX_READ_BYTES) {
      throw new Unexplainable(`read of ${lenBytes} bytes at ${offBytes} out of bounds`);
    }
    const out = new Uint8Array(lenBytes);
    if (offBytes >= this.sizeBytes || offBytes + lenBytes <= 0) return out;
    const from = Math.max(0, offBytes);
    const to = Math.min(this.sizeBytes, offBytes + lenBytes);
    const got = this.readAt(from, to - from);
    out.set(got.subarray(0, Math.min(got.length, to - from)), from - offBytes);
    return out;
  }

  /** A cached read for metadata blocks; counts against the read budget. */
  block(offBytes: number, lenBytes: number): Uint8Array {
    const key = `${offBytes}:${lenBytes}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    this.readBytes += lenBytes;
    if (this.readBytes > READ_BUDGET_BYTES) throw new Unexplainable("metadata read budget exhausted");
    const b = this.read(offBytes, lenBytes);
    this.cache.set(key, b);
    if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value as string);
    return b;
  }
}

export interface Field {
  readonly name: string;
  readonly offBytes: number;
  readonly lenBytes: number;
  readonly type: FieldSpec["type"];
}

const WIDTH: Record<string, number> = { u8: 1, u16le: 2, u16be: 2, u32le: 4, u32be: 4, u64le: 8, u64be: 8 };

/** A struct table's fields sorted by offset, optionally cut at `limitBytes`. */
export function fieldList(fields: Record<string, FieldSpec>, limitBytes = Infinity): Field[] {
  return Object.entries(fields)
    .map(([name, f]) => ({ name, offBytes: f.off, lenBytes: f.type === "bytes" ? (f.len ?? 0) : WIDTH[f.type], type: f.type }))
    .filter((f) => f.offBytes < limitBytes)
    .map((f) => (f.offBytes + f.lenBytes > limitBytes ? { ...f, lenBytes: limitBytes - f.offBytes } : f))
    .sort((x, y) => x.offBytes - y.offBytes);
}

/** Fields of `list` overlapping [relStart, relEnd) whose bytes differ between a and b (both structure-relative). */
export function differingFields(list: readonly Field[], a: Uint8Array, b: Uint8Array, relStart: number, relEnd: number): Field[] {
  const out: Field[] = [];
  for (const f of list) {
    if (f.offBytes + f.lenBytes <= relStart || f.offBytes >= relEnd) continue;
    if (!sameBytes(a, b, f.offBytes, f.offBytes + f.lenBytes)) out.push(f);
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return false;
  return true;
}

/** Numeric value of a field (little- or big-endian), or undefined for byte strings. */
export function fieldValue(f: Field, s: Uint8Array): number | undefined {
  if (f.type === "bytes") return undefined;
  const le = !f.type.endsWith("be");
  let v = 0;
  for (let i = 0; i < f.lenBytes; i++) {
    const byte = s[f.offBytes + (le ? i : f.lenBytes - 1 - i)] ?? 0;
    v += byte * 2 ** (8 * i);
  }
  return v;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** "A vs B" for a small field: numbers, printable text, or hex for up to 16 bytes. */
export function fieldDetail(f: Field, a: Uint8Array, b: Uint8Array, render?: (v: number) => string): string | undefined {
  const va = fieldValue(f, a);
  const vb = fieldValue(f, b);
  if (va !== undefined && vb !== undefined) return `${f.name}: ${render ? render(va) : va} vs ${render ? render(vb) : vb}`;
  if (f.lenBytes > 32) return undefined;
  const xa = a.subarray(f.offBytes, f.offBytes + f.lenBytes);
  const xb = b.subarray(f.offBytes, f.offBytes + f.lenBytes);
  const printable = (x: Uint8Array) => x.every((c) => c === 0 || (c >= 0x20 && c < 0x7f));
  if (printable(xa) && printable(xb)) return `${f.name}: ${JSON.stringify(asciiz(xa))} vs ${JSON.stringify(asciiz(xb))}`;
  return f.lenBytes <= 16 ? `${f.name}: ${hex(xa)} vs ${hex(xb)}` : undefined;
}

function asciiz(x: Uint8Array): string {
  const z = x.indexOf(0);
  return String.fromCharCode(...(z < 0 ? x : x.subarray(0, z)));
}

/** Seconds since 1970 as an ISO-8601 UTC string. */
export function isoTime(sec: number): string {
  const d = new Date(sec * 1000);
  return Number.isNaN(d.getTime()) ? String(sec) : d.toISOString().replace(".000Z", "Z");
}

/**
 * First and last differing byte of [start, end), read in windows, or
 * undefined when the two sides agree there (a gap that diffRanges coalesced).
 */
export function trimRange(a: Side, b: Side, start: number, end: number): [number, number] | undefined {
  const W = 64 << 10;
  let first = -1;
  for (let w = start; w < end && first < 0; w += W) {
    const n = Math.min(W, end - w);
    const x = a.read(w, n);
    const y = b.read(w, n);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) { first = w + i; break; }
  }
  if (first < 0) return undefined;
  for (let w = end; w > first; w -= W) {
    const s = Math.max(first, w - W);
    const x = a.read(s, w - s);
    const y = b.read(s, w - s);
    for (let i = w - s - 1; i >= 0; i--) if (x[i] !== y[i]) return [first, s + i + 1];
  }
  return [first, first + 1];
}

/** One finding: part of `item` (an inode, a directory entry, a file's content) differs. */
export interface Piece {
  readonly item: string;
  /** Field names inside the item (grouped, in order of first appearance). */
  readonly fields?: readonly string[];
  /** "A vs B" values of small fields. */
  readonly details?: readonly string[];
  /** A range inside the item, e.g. bytes of a file, merged as min..max: [start, end, label]. */
  readonly span?: readonly [number, number, string];
  readonly startBytes: number;
  readonly endBytes: number;
}

const MAX_LISTED = 12;

interface Agg {
  item: string;
  fields: string[];
  details: string[];
  span?: [number, number, string];
  startBytes: number;
  endBytes: number;
}

/** Groups pieces by item: one FsDifference per item, fields and values listed, byte range min..max. */
export class Collector {
  private readonly byItem = new Map<string, Agg>();

  add(p: Piece): void {
    let a = this.byItem.get(p.item);
    if (!a) this.byItem.set(p.item, (a = { item: p.item, fields: [], details: [], startBytes: p.startBytes, endBytes: p.endBytes }));
    a.startBytes = Math.min(a.startBytes, p.startBytes);
    a.endBytes = Math.max(a.endBytes, p.endBytes);
    for (const f of p.fields ?? []) if (!a.fields.includes(f) && a.fields.length <= MAX_LISTED) a.fields.push(f);
    for (const d of p.details ?? []) if (!a.details.includes(d) && a.details.length <= MAX_LISTED) a.details.push(d);
    if (p.span) a.span = a.span ? [Math.min(a.span[0], p.span[0]), Math.max(a.span[1], p.span[1]), p.span[2]] : [p.span[0], p.span[1], p.span[2]];
  }

  get size(): number {
    return this.byItem.size;
  }

  result(): FsDifference[] {
    const out: FsDifference[] = [];
    for (const a of this.byItem.values()) {
      const parts: string[] = [];
      if (a.fields.length) parts.push(a.fields.slice(0, MAX_LISTED).join(", ") + (a.fields.length > MAX_LISTED ? ", …" : ""));
      if (a.span) parts.push(`${a.span[2]} ${a.span[0]}..${a.span[1]}`);
      const what = parts.length ? `${a.item}: ${parts.join("; ")}` : a.item;
      const detail = a.details.length ? a.details.slice(0, MAX_LISTED).join("; ") + (a.details.length > MAX_LISTED ? "; …" : "") : undefined;
      out.push(detail ? { what, detail, startBytes: a.startBytes, endBytes: a.endBytes } : { what, startBytes: a.startBytes, endBytes: a.endBytes });
    }
    return out;
  }
}

/**
 * The two sides of a filesystem comparison: geometry read from A (from B when
 * A's is damaged, so its fixed fields can still be named), A's path map built
 * on first use, and B's built lazily from B's own geometry (undefined when B
 * is unreadable).
 */
export function twoSides<G, M>(
  a: ReadAt,
  b: ReadAt,
  partitionBytes: number,
  readGeo: (s: Side) => G,
  buildMap: (s: Side, g: G) => M,
): { A: Side; B: Side; g: G; mapA: () => M; mapB: () => M | undefined } {
  const A = new Side(a, partitionBytes);
  const B = new Side(b, partitionBytes);
  let g: G;
  try {
    g = readGeo(A);
  } catch {
    g = readGeo(B);
  }
  let mA: { map: M } | { error: unknown } | undefined;
  let mB: M | null | undefined;
  return {
    A, B, g,
    // A failed build is remembered: it is asked for once per differing range.
    mapA: () => {
      if (!mA) {
        try {
          mA = { map: buildMap(A, g) };
        } catch (error) {
          mA = { error };
        }
      }
      if ("error" in mA) throw mA.error;
      return mA.map;
    },
    mapB: () => {
      if (mB === undefined) {
        try {
          mB = buildMap(B, readGeo(B));
        } catch {
          mB = null;
        }
      }
      return mB ?? undefined;
    },
  };
}

/** Most pieces an explainer produces before describing the rest generically. */
export const MAX_PIECES = 200_000;

/**
 * Runs `walk` over the ranges (clamped to the partition): it explains
 * [start, end) piece by piece, returning the offset it got to. Whatever it
 * cannot explain (an exception, a budget) is described generically.
 */
export function guardExplainer(
  partitionBytes: number,
  ranges: [number, number][],
  prepare: () => (start: number, end: number, out: Collector) => number,
): FsDifference[] {
  const out = new Collector();
  const generic: FsDifference[] = [];
  let step: ((start: number, end: number, out: Collector) => number) | undefined;
  try {
    step = prepare();
  } catch {
    step = undefined;
  }
  let pieces = 0;
  let errors = 0;
  for (const [s0, e0] of ranges) {
    const s = Math.max(0, s0);
    const e = Math.min(e0, partitionBytes);
    let pos = s;
    while (pos < e && step) {
      try {
        const next = step(pos, e, out);
        if (!(next > pos)) throw new Unexplainable("no progress");
        pos = next;
        if (++pieces > MAX_PIECES) step = undefined;
      } catch {
        // A malformed structure or an exhausted budget: describe the rest of
        // this range generically; give up on the explainer after many failures.
        if (++errors > 1000) step = undefined;
        break;
      }
    }
    if (pos < e0) generic.push({ what: `bytes at partition offset ${pos}`, startBytes: pos, endBytes: e0 });
  }
  return [...out.result(), ...generic];
}
