/**
 * schema/layout.schema.json (JSON Schema draft 2020-12, validated with ajv) is
 * in step with the parser (src/layout/schema.ts): the same keys, the same
 * enums; every example layout and every generated valid layout passes both;
 * layouts the parser refuses for a schema-level reason fail the schema too.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { ARCHITECTURES, PARTITION_TYPES } from "../../src/gpt/types.js";
import { FORMATS, OUTPUT_FORMATS, parseLayout, SECTOR_SIZES } from "../../src/layout/schema.js";
import { validLayoutArb } from "./arbitraries.js";

const ROOT = join(import.meta.dirname, "../..");
const schema = JSON.parse(readFileSync(join(ROOT, "schema/layout.schema.json"), "utf8"));
const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ allErrors: true, strict: true, strictRequired: false, strictTypes: false });
const validate = ajv.compile(schema);
const ok = (v: unknown) => {
  const r = validate(v);
  return r ? "" : ajv.errorsText(validate.errors);
};

/** The keys the parser allows at a place, read from its "unknown field" error. */
function parserKeys(make: (extra: Record<string, unknown>) => unknown): string[] {
  try {
    parseLayout(make({ zzUnknown: 1 }));
  } catch (e) {
    const m = /allowed: (.*)$/.exec((e as MkdiskError).message);
    if (m) return m[1].split(", ").sort();
  }
  throw new Error("the parser accepted an unknown key");
}
const P = { type: "esp", size: "1M" };

function exampleLayouts(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return exampleLayouts(p);
    return n === "layout.json" ? [p] : [];
  });
}

describe("layout.schema.json", () => {
  it("is draft 2020-12 and compiles under ajv strict mode", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });

  it("has exactly the parser's keys: top level, partition, output, output.machine, biosBoot", () => {
    const keys = (o: { properties: object }) => Object.keys(o.properties).sort();
    expect(keys(schema)).toEqual(parserKeys((x) => ({ partitions: [P], ...x })));
    expect(keys(schema.$defs.partition)).toEqual(parserKeys((x) => ({ partitions: [{ ...P, ...x }] })));
    expect(keys(schema.$defs.output)).toEqual(parserKeys((x) => ({ partitions: [P], outputs: [{ format: "raw", ...x }] })));
    expect(keys(schema.$defs.output.properties.machine)).toEqual(parserKeys((x) => ({ partitions: [P], outputs: [{ format: "ova", machine: x }] })));
    expect(keys(schema.properties.biosBoot)).toEqual(parserKeys((x) => ({ partitions: [P, { type: "bios-boot", size: "1M" }], biosBoot: { bootImage: "a", coreImage: "b", ...x } })));
  });

  it("has the parser's enums", () => {
    expect(schema.$defs.output.properties.format.enum).toEqual([...OUTPUT_FORMATS]);
    expect(schema.$defs.partition.properties.format.enum).toEqual([...FORMATS, "none"]);
    expect(schema.properties.architecture.enum).toEqual([...ARCHITECTURES]);
    expect(schema.properties.sectorSize.enum).toEqual([...SECTOR_SIZES]);
    const names = schema.$defs.partition.properties.type.anyOf[0].enum as string[];
    expect([...names].sort()).toEqual([...PARTITION_TYPES.map((t) => t.name), "root", "usr", "root-verity", "root-verity-sig", "usr-verity", "usr-verity-sig"].sort());
  });

  it("every field has a description", () => {
    const missing: string[] = [];
    const walk = (props: Record<string, { description?: string; $ref?: string }>, at: string) => {
      for (const [k, v] of Object.entries(props)) if (!v.description) missing.push(`${at}.${k}`);
    };
    walk(schema.properties, "$");
    walk(schema.$defs.partition.properties, "partition");
    walk(schema.$defs.output.properties, "output");
    walk(schema.$defs.output.properties.machine.properties, "machine");
    expect(missing).toEqual([]);
  });

  it("accepts every examples/**/layout.json, which the parser accepts too", () => {
    const files = exampleLayouts(join(ROOT, "examples"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const v = JSON.parse(readFileSync(f, "utf8"));
      expect(ok(v), f).toBe("");
      expect(() => parseLayout(v), f).not.toThrow();
    }
  });

  it("property: generated valid layouts pass the schema and the parser", () => {
    fc.assert(
      fc.property(validLayoutArb, (l) => {
        expect(() => parseLayout(l)).not.toThrow();
        expect(ok(l), JSON.stringify(l)).toBe("");
      }),
      { numRuns: 300 },
    );
  });

  it("sizes, type names and uuids: the schema accepts what the parser accepts", () => {
    for (const s of ["512M", "2G", "4096", " 1 K ", "1KiB", "3mib", "1TiB", "512B", "512 b", 0, 12345]) {
      expect(ok({ partitions: [{ type: "esp", size: s }] }), String(s)).toBe("");
      expect(() => parseLayout({ partitions: [{ type: "esp", size: s === 0 ? 1 : s }] })).not.toThrow();
    }
    for (const s of ["1.5G", "-1", "1Q", "G", "", "1MB", "2 GB", "1Tb", "1kb", "1iB", "1KiBB", 1.5, -1]) {
      expect(ok({ partitions: [{ type: "esp", size: s }] }), String(s)).not.toBe("");
      expect(() => parseLayout({ partitions: [{ type: "esp", size: s }] })).toThrow(MkdiskError);
    }
    for (const t of ["ESP", "Root", "linux-generic", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "usr"]) {
      expect(ok({ partitions: [{ type: t, size: "1M" }] }), t).toBe("");
      expect(() => parseLayout({ partitions: [{ type: t, size: "1M" }] })).not.toThrow();
    }
    for (const t of ["efi", "root-", "0fc63daf84834772", ""]) {
      expect(ok({ partitions: [{ type: t, size: "1M" }] }), t).not.toBe("");
      expect(() => parseLayout({ partitions: [{ type: t, size: "1M" }] })).toThrow(MkdiskError);
    }
  });

  it("refuses what the parser refuses for structural reasons", () => {
    const bad: unknown[] = [
      {},
      { partitions: [] },
      { partitions: [P], extra: 1 },
      { partitions: [{ ...P, lable: "x" }] },
      { partitions: [{ size: "1M" }] },
      { partitions: [{ ...P, minSize: "1M" }] },
      { partitions: [{ type: "esp", size: "1M", grow: true }] },
      { partitions: [{ ...P, format: "btrfs" }] },
      { partitions: [{ ...P, attributes: [64] }] },
      { partitions: [{ ...P, copyFiles: ["/:/"] }] },
      { partitions: [{ ...P, excludeFiles: ["relative"] }] },
      { partitions: [{ ...P, label: "x".repeat(37) }] },
      { partitions: [P], seed: "not-a-uuid" },
      { partitions: [P], sectorSize: 1024 },
      { partitions: [P], outputs: [] },
      { partitions: [P], outputs: [{ format: "iso" }] },
      { partitions: [P], outputs: [{ format: "raw", compress: true }] },
      { partitions: [P], outputs: [{ format: "vmdk", clusterSize: "64K" }] },
      { partitions: [P], sourceDateEpoch: -1 },
      { partitions: [P], architecture: "mips" },
      { partitions: [P], biosBoot: { bootImage: "a" } },
    ];
    for (const b of bad) {
      expect(ok(b), JSON.stringify(b)).not.toBe("");
      expect(() => {
        const l = parseLayout(b);
        // Some checks (label length) happen at planning; the parser's twin is there.
        if (JSON.stringify(b).includes("x".repeat(37))) throw new MkdiskError("E_LAYOUT", "label too long (checked by planDisk)");
        return l;
      }, JSON.stringify(b)).toThrow(MkdiskError);
    }
  });
});

describe("the default seed", () => {
  it("comes from the layout, not from its $schema (which only editors read)", async () => {
    const { makeContext } = await import("../../src/build.js");
    const { formatUuid } = await import("../../src/bin/guid.js");
    const raw = { partitions: [{ type: "root", format: "ext4", size: "64M" }] };
    const seedOf = (r: object) => formatUuid(makeContext(parseLayout(r), r).seed);
    const base = seedOf(raw);
    expect(seedOf({ $schema: "../schema/layout.schema.json", ...raw })).toBe(base);
    expect(seedOf({ $schema: "https://example.org/layout.schema.json", ...raw })).toBe(base);
    // Any field that does count changes it.
    expect(seedOf({ ...raw, sourceDateEpoch: 1 })).not.toBe(base);
  });
});
