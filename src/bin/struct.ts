/**
 * Struct tables: one `const` table per on-disk structure, with explicit
 * offsets, explicit endianness and the spec's field name. The same table drives
 * encode, decode and size, and is checked for gaps, overlaps and total size when
 * the module that defines it loads (`defineStruct` throws otherwise).
 *
 * Fields not named in the values passed to `encode` are written as zeros
 * explicitly; `bytes` fields are zero-padded and refuse values that are too long.
 */
import { fail } from "./errors.js";
import { r16be, r16le, r32be, r32le, r64be, r64le, r8, u16be, u16le, u32be, u32le, u64be, u64le, u8w, view } from "./int.js";

export type FieldType = "u8" | "u16le" | "u16be" | "u32le" | "u32be" | "u64le" | "u64be" | "bytes";

export interface FieldSpec {
  /** Byte offset inside the structure. */
  readonly off: number;
  readonly type: FieldType;
  /** Length in bytes; required for `bytes`, implied otherwise. */
  readonly len?: number;
}

const WIDTH: Record<Exclude<FieldType, "bytes">, number> = {
  u8: 1, u16le: 2, u16be: 2, u32le: 4, u32be: 4, u64le: 8, u64be: 8,
};

export type StructValues<F extends Record<string, FieldSpec>> = {
  [K in keyof F]?: F[K]["type"] extends "bytes" ? Uint8Array : number;
};

export interface Struct<F extends Record<string, FieldSpec>> {
  readonly name: string;
  readonly sizeBytes: number;
  readonly fields: F;
  /** Encodes into `out` at `at` (whole structure written, unnamed fields zero). */
  encodeInto(values: StructValues<F>, out: Uint8Array, at?: number): void;
  encode(values: StructValues<F>): Uint8Array;
  decode(bytes: Uint8Array, at?: number): { [K in keyof F]: F[K]["type"] extends "bytes" ? Uint8Array : number };
}

function fieldLen(f: FieldSpec): number {
  return f.type === "bytes" ? (f.len ?? 0) : WIDTH[f.type];
}

/**
 * Defines a structure. `allowGaps` lists byte ranges that are deliberately not
 * described by a field (they are written as zeros); any other gap is an error.
 */
export function defineStruct<F extends Record<string, FieldSpec>>(name: string, sizeBytes: number, fields: F): Struct<F> {
  const entries = Object.entries(fields).map(([k, f]) => ({ k, f, len: fieldLen(f) }));
  entries.sort((a, b) => a.f.off - b.f.off);
  let cursor = 0;
  for (const { k, f, len } of entries) {
    if (f.type === "bytes" && !(len > 0)) throw new Error(`${name}.${k}: bytes field needs len`);
    if (f.off < cursor) throw new Error(`${name}.${k} at 0x${f.off.toString(16)} overlaps the previous field (ends 0x${cursor.toString(16)})`);
    if (f.off > cursor) throw new Error(`${name}: gap 0x${cursor.toString(16)}..0x${f.off.toString(16)} before ${k}; name it as a reserved field`);
    cursor = f.off + len;
  }
  if (cursor !== sizeBytes) throw new Error(`${name}: fields end at 0x${cursor.toString(16)}, structure size is 0x${sizeBytes.toString(16)}`);

  const s: Struct<F> = {
    name,
    sizeBytes,
    fields,
    encodeInto(values, out, at = 0) {
      if (at + sizeBytes > out.length) fail("E_FORMAT", `buffer too small for ${name}`, name);
      out.fill(0, at, at + sizeBytes);
      const d = view(out);
      for (const { k, f, len } of entries) {
        const v = (values as Record<string, unknown>)[k];
        if (v === undefined) continue;
        const o = at + f.off;
        const where = `${name}.${k} at 0x${f.off.toString(16)}`;
        switch (f.type) {
          case "bytes": {
            const b = v as Uint8Array;
            if (b.length > len) fail("E_FORMAT", `${b.length} bytes do not fit ${len}`, where);
            out.set(b, o);
            break;
          }
          case "u8": u8w(d, o, v as number, where); break;
          case "u16le": u16le(d, o, v as number, where); break;
          case "u16be": u16be(d, o, v as number, where); break;
          case "u32le": u32le(d, o, v as number, where); break;
          case "u32be": u32be(d, o, v as number, where); break;
          case "u64le": u64le(d, o, v as number, where); break;
          case "u64be": u64be(d, o, v as number, where); break;
        }
      }
    },
    encode(values) {
      const out = new Uint8Array(sizeBytes);
      s.encodeInto(values, out, 0);
      return out;
    },
    decode(bytes, at = 0) {
      if (at + sizeBytes > bytes.length) fail("E_IMAGE", `truncated: need ${sizeBytes} bytes at ${at}, have ${bytes.length - at}`, name);
      const d = view(bytes);
      const r: Record<string, unknown> = {};
      for (const { k, f, len } of entries) {
        const o = at + f.off;
        const where = `${name}.${k}`;
        switch (f.type) {
          case "bytes": r[k] = bytes.slice(o, o + len); break;
          case "u8": r[k] = r8(d, o); break;
          case "u16le": r[k] = r16le(d, o); break;
          case "u16be": r[k] = r16be(d, o); break;
          case "u32le": r[k] = r32le(d, o); break;
          case "u32be": r[k] = r32be(d, o); break;
          case "u64le": r[k] = r64le(d, o, where); break;
          case "u64be": r[k] = r64be(d, o, where); break;
        }
      }
      return r as ReturnType<Struct<F>["decode"]>;
    },
  };
  return s;
}
