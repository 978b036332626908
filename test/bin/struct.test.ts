/**
 * Struct tables: decode(encode(x)) = x, and encodeInto writes every byte of the
 * structure (a buffer pre-filled with 0xD1 shows any byte left unwritten), for
 * every struct table in src/ and for generated tables.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { defineStruct, type FieldSpec, type Struct } from "../../src/bin/struct.js";

type AnyStruct = Struct<Record<string, FieldSpec>>;
const SRC = join(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : []));
}

/** Every exported struct table of the modules that call defineStruct. */
async function projectStructs(): Promise<{ where: string; s: AnyStruct }[]> {
  const out: { where: string; s: AnyStruct }[] = [];
  for (const f of sourceFiles(SRC)) {
    if (f.endsWith("bin/struct.ts") || !readFileSync(f, "utf8").includes("defineStruct(")) continue;
    const mod = (await import(f)) as Record<string, unknown>;
    for (const [name, v] of Object.entries(mod)) {
      if (v && typeof v === "object" && "fields" in v && "encodeInto" in v && "decode" in v) out.push({ where: `${relative(SRC, f)} ${name}`, s: v as AnyStruct });
    }
  }
  return out;
}

const WIDTH: Record<string, number> = { u8: 1, u16le: 2, u16be: 2, u32le: 4, u32be: 4, u64le: 8, u64be: 8 };

/** Arbitrary values for every field of a struct (full-length bytes, in-range integers). */
function valuesArb(s: AnyStruct): fc.Arbitrary<Record<string, number | Uint8Array>> {
  const rec: Record<string, fc.Arbitrary<number | Uint8Array>> = {};
  for (const [k, f] of Object.entries(s.fields)) {
    if (f.type === "bytes") rec[k] = fc.uint8Array({ minLength: f.len!, maxLength: f.len! });
    else if (WIDTH[f.type] === 8) rec[k] = fc.maxSafeNat();
    else rec[k] = fc.integer({ min: 0, max: 2 ** (8 * WIDTH[f.type]) - 1 });
  }
  return fc.record(rec);
}

function checkStruct(s: AnyStruct, runs: number): void {
  fc.assert(
    fc.property(valuesArb(s), fc.integer({ min: 0, max: 7 }), (values, at) => {
      // Round trip.
      expect(s.decode(s.encode(values))).toEqual(values);
      // Every byte written: same result over 0x00 and over 0xD1, nothing outside touched.
      const a = new Uint8Array(at + s.sizeBytes + 5).fill(0xd1);
      const b = new Uint8Array(at + s.sizeBytes + 5);
      s.encodeInto(values, a, at);
      s.encodeInto(values, b, at);
      expect(Buffer.from(a.subarray(at, at + s.sizeBytes)).equals(Buffer.from(b.subarray(at, at + s.sizeBytes)))).toBe(true);
      expect(a.subarray(0, at).every((x) => x === 0xd1)).toBe(true);
      expect(a.subarray(at + s.sizeBytes).every((x) => x === 0xd1)).toBe(true);
      expect(s.decode(a, at)).toEqual(values);
    }),
    { numRuns: runs },
  );
  // Fields not given are written as zeros.
  const z = new Uint8Array(s.sizeBytes).fill(0xd1);
  s.encodeInto({}, z, 0);
  expect(z.every((x) => x === 0)).toBe(true);
}

describe("struct tables of the project", () => {
  it("every table round-trips and writes every byte", async () => {
    const all = await projectStructs();
    expect(all.map((x) => x.where)).toEqual(expect.arrayContaining(["gpt/gpt.ts GptHeader", "gpt/gpt.ts GptEntry", "gpt/gpt.ts ProtectiveMbr", "gpt/gpt.ts MbrPartitionRecord", "swap/index.ts SwapHeader"]));
    for (const { where, s } of all) {
      try {
        checkStruct(s, 40);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    }
  });
});

/** Generated tables: random field widths laid end to end. */
const tableArb = fc.array(fc.oneof(fc.constantFrom("u8", "u16le", "u16be", "u32le", "u32be", "u64le", "u64be"), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 12 }).map((kinds) => {
  const fields: Record<string, FieldSpec> = {};
  let off = 0;
  kinds.forEach((k, i) => {
    const f: FieldSpec = typeof k === "number" ? { off, type: "bytes", len: k } : { off, type: k as FieldSpec["type"] };
    fields[`f${i}`] = f;
    off += typeof k === "number" ? k : WIDTH[k];
  });
  return defineStruct("Generated", off, fields);
});

describe("defineStruct", () => {
  it("property: generated tables round-trip and write every byte", () => {
    fc.assert(fc.property(tableArb, (s) => checkStruct(s as AnyStruct, 5)), { numRuns: 200 });
  });

  it("refuses gaps, overlaps and a wrong total size when defined", () => {
    expect(() => defineStruct("Gap", 4, { a: { off: 0, type: "u8" }, b: { off: 2, type: "u16le" } })).toThrow(/gap/);
    expect(() => defineStruct("Overlap", 4, { a: { off: 0, type: "u32le" }, b: { off: 2, type: "u16le" } })).toThrow(/overlaps/);
    expect(() => defineStruct("Short", 8, { a: { off: 0, type: "u32le" } })).toThrow(/structure size/);
  });

  it("bad values give MkdiskError E_FORMAT naming Struct.field and offset, never RangeError", () => {
    const S = defineStruct("Demo", 16, { Magic: { off: 0, type: "bytes", len: 4 }, Count: { off: 4, type: "u32le" }, Big: { off: 8, type: "u64le" } });
    const cases: Record<string, unknown>[] = [
      { Count: 2 ** 32 }, { Count: -1 }, { Count: 1.5 }, { Count: NaN }, { Big: 2 ** 53 }, { Big: -1 }, { Magic: new Uint8Array(5) },
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        S.encode(c as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(c)).toBeInstanceOf(MkdiskError);
      expect((err as MkdiskError).code).toBe("E_FORMAT");
      expect((err as MkdiskError).message).toMatch(/Demo\.(Count at 0x4|Big at 0x8|Magic at 0x0)/);
    }
    expect(() => S.encodeInto({}, new Uint8Array(15))).toThrow(MkdiskError);
    const trunc = (() => {
      try {
        S.decode(new Uint8Array(10));
      } catch (e) {
        return e;
      }
    })();
    expect(trunc).toBeInstanceOf(MkdiskError);
    expect((trunc as MkdiskError).code).toBe("E_IMAGE");
  });
});
