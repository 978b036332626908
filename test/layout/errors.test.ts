/**
 * Invalid layouts: hand-written ones and fast-check mutations of valid ones.
 * Each gives a MkdiskError with code E_LAYOUT or E_FIT whose message names the
 * field's JSON path, never another kind of error. Through the CLI
 * (`node dist/mkdisk.js`): a non-zero exit status, no stack trace on stderr,
 * no output file (and an existing output file is left as it was).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { BuildContext } from "../../src/context/index.js";
import { planDisk } from "../../src/layout/plan.js";
import { parseLayout } from "../../src/layout/schema.js";
import { tempDir } from "../helpers/tools.js";
import { validLayoutArb } from "./arbitraries.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");
const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";
let tmp: { path: string; cleanup(): void };

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing (test/global-setup.ts compiles it)`);
  tmp = tempDir("mkdisk-errors-");
}, 300_000);
afterAll(() => tmp?.cleanup());

/** Parse + plan (no rootfs); the error thrown, or undefined. */
function libraryError(layout: unknown): unknown {
  try {
    const l = parseLayout(layout);
    planDisk(l, undefined, new BuildContext({ seed: l.seed ?? SEED }));
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectLayoutError(layout: unknown, path: string, codes: string[] = ["E_LAYOUT", "E_FIT"]): MkdiskError {
  const e = libraryError(layout);
  const ctx = JSON.stringify(layout).slice(0, 400);
  expect(e, `no error for ${ctx}`).toBeInstanceOf(MkdiskError);
  const m = e as MkdiskError;
  expect(codes, `${ctx}: ${m.message}`).toContain(m.code);
  expect(m.message.startsWith(`${path}: `) || m.message.startsWith(`${path}.`) || m.message.startsWith(`${path}[`), `${ctx}: message "${m.message}" should name ${path}`).toBe(true);
  return m;
}

let cliN = 0;
function runCli(layout: unknown, existing?: string): { status: number | null; stderr: string; out: string } {
  const n = cliN++;
  const dir = join(tmp.path, `cli${n}`);
  spawnSync("mkdir", ["-p", dir]);
  const lp = join(dir, "layout.json");
  writeFileSync(lp, JSON.stringify(layout));
  const out = join(dir, "disk.img");
  if (existing !== undefined) writeFileSync(out, existing);
  const r = spawnSync(process.execPath, [CLI, "--layout", lp, "-o", out, ...(existing !== undefined ? ["--force"] : [])], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr, out };
}

function expectCliRefuses(layout: unknown, path: string, existing?: string): void {
  const r = runCli(layout, existing);
  const ctx = JSON.stringify(layout).slice(0, 300);
  expect(r.status, `${ctx}\n${r.stderr}`).not.toBe(0);
  expect([3, 5], `${ctx}: exit ${r.status}\n${r.stderr}`).toContain(r.status); // E_LAYOUT, E_FIT
  expect(r.stderr).not.toContain("    at ");
  expect(r.stderr).toMatch(/^mkdisk: error \[E_(LAYOUT|FIT)\]: /);
  expect(r.stderr).toContain(path);
  if (existing === undefined) expect(existsSync(r.out), `${ctx}: output was created`).toBe(false);
  else expect(readFileSync(r.out, "utf8")).toBe(existing);
  // No temporary files left behind.
  const dir = join(r.out, "..");
  expect(readdirSync(dir).filter((f) => f !== "layout.json" && f !== "disk.img")).toEqual([]);
}

const P = { type: "esp", size: "1M" };
const L = (partitions: unknown[], extra: Record<string, unknown> = {}) => ({ seed: SEED, partitions, ...extra });

/** [description, layout, JSON path the message must name, codes]. */
const HAND: [string, unknown, string, string[]?][] = [
  ["not an object", [], "$"],
  ["no partitions", { seed: SEED }, "partitions"],
  ["empty partitions", L([]), "partitions"],
  ["129 partitions", L(Array.from({ length: 129 }, () => P)), "partitions"],
  ["size and minSize", L([{ type: "esp", size: "1M", minSize: "1M" }]), "partitions[0].size"],
  ["size and grow", L([P, { type: "root", size: "1M", grow: true }]), "partitions[1].grow"],
  ["minSize > maxSize", L([{ type: "root", grow: true, minSize: "2M", maxSize: "1M" }]), "partitions[0].minSize"],
  ["no size at all", L([{ type: "root" }]), "partitions[0]"],
  ["size zero", L([{ type: "root", size: 0 }]), "partitions[0].size"],
  ["unknown type", L([{ type: "efi", size: "1M" }]), "partitions[0].type"],
  ["type missing", L([{ size: "1M" }]), "partitions[0].type"],
  ["type not a string", L([{ type: 7, size: "1M" }]), "partitions[0].type"],
  ["disk too small", L([{ type: "esp", size: "512M" }, { type: "root", size: "600M" }], { size: "1G" }), "size", ["E_FIT"]],
  ["disk too small for a minimum", L([{ type: "root", grow: true, minSize: "2G" }], { size: "1G" }), "size", ["E_FIT"]],
  ["disk size not a sector multiple", L([P], { size: 10000000 + 100 }), "size"],
  ["bad unit", L([{ type: "esp", size: "12Q" }]), "partitions[0].size"],
  ["fraction", L([{ type: "esp", size: "1.5G" }]), "partitions[0].size"],
  ["negative", L([{ type: "esp", size: -4096 }]), "partitions[0].size"],
  ["size as object", L([{ type: "esp", size: { M: 1 } }]), "partitions[0].size"],
  ["size too large", L([{ type: "esp", size: "99999999999T" }]), "partitions[0].size"],
  ["bad disk size", L([P], { size: "big" }), "size"],
  ["bad alignment (not a power of two)", L([P], { alignment: "3K" }), "alignment"],
  ["alignment below 4K", L([P], { alignment: 2048 }), "alignment"],
  ["bad sector size", L([P], { sectorSize: 1024 }), "sectorSize"],
  ["duplicate uuids", L([{ ...P, uuid: "11111111-2222-4333-8444-555555555555" }, { ...P, uuid: "11111111-2222-4333-8444-555555555555" }]), "partitions[1].uuid"],
  ["uuid equal to a derived one", L([P, { ...P, uuid: "cb96a8e9-addc-4be7-b68e-69b6d1ea59cb" }]), "partitions[1].uuid"],
  ["bad uuid", L([{ ...P, uuid: "1234" }]), "partitions[0].uuid"],
  ["a given uuid equal to a later partition's derived one", L([{ type: "swap", size: "1M", uuid: "cb96a8e9-addc-4be7-b68e-69b6d1ea59cb" }, P]), "partitions[0].uuid"],
  ["all-zero uuid", L([{ ...P, uuid: "00000000-0000-0000-0000-000000000000" }]), "partitions[0].uuid"],
  ["a uuid equal to the disk GUID the seed gives", L([P, { ...P, uuid: "31918d1c-a93a-45d1-a195-a84a9db04099" }]), "partitions[1].uuid"],
  ["all-zero type GUID (an unused entry)", L([{ type: "00000000-0000-0000-0000-000000000000", size: "1M" }]), "partitions[0].type"],
  ["label holding U+0000", L([{ ...P, label: "a\u0000b" }]), "partitions[0].label"],
  ["FAT label starting with a space", L([{ type: "esp", size: "64M", format: "vfat", fsLabel: " lead" }]), "partitions[0].fsLabel"],
  ["FAT label from a partition label starting with a space", L([{ type: "esp", size: "64M", format: "vfat", label: " boot" }]), "partitions[0].fsLabel"],
  ["vfat larger than FAT32 can address", L([{ type: "esp", size: "3T", format: "vfat" }]), "partitions[0].size", ["E_FIT"]],
  ["label of 37 units", L([{ ...P, label: "x".repeat(37) }]), "partitions[0].label"],
  ["label of 19 emoji (38 UTF-16 units)", L([{ ...P, label: "😀".repeat(19) }]), "partitions[0].label"],
  ["label not a string", L([{ ...P, label: 5 }]), "partitions[0].label"],
  ["unknown partition key", L([{ ...P, lable: "x" }]), "partitions[0].lable"],
  ["unknown top key", L([P], { sise: "1G" }), "sise"],
  ["unknown output key", L([P], { outputs: [{ format: "raw", level: 9 }] }), "outputs[0].level"],
  ["bad seed", L([P], { seed: "not-a-seed" }), "seed"],
  ["seed not a string", L([P], { seed: 42 }), "seed"],
  ["bad epoch", L([P], { sourceDateEpoch: -5 }), "sourceDateEpoch"],
  ["epoch as string", L([P], { sourceDateEpoch: "1700000000" }), "sourceDateEpoch"],
  ["epoch after 2446 (ext4's last time)", L([P], { sourceDateEpoch: 0x3_8000_0000 }), "sourceDateEpoch"],
  ["outputs empty", L([P], { outputs: [] }), "outputs"],
  ["outputs not a list", L([P], { outputs: "raw" }), "outputs"],
  ["unknown output format", L([P], { outputs: [{ format: "iso" }] }), "outputs[0].format"],
  ["output format missing", L([P], { outputs: [{ path: "x.img" }] }), "outputs[0].format"],
  ["compressed raw", L([P], { outputs: [{ format: "raw", compress: true }] }), "outputs[0].compress"],
  ["clusterSize on vmdk", L([P], { outputs: [{ format: "vmdk", clusterSize: "64K" }] }), "outputs[0].clusterSize"],
  ["bad qcow2 clusterSize", L([P], { outputs: [{ format: "qcow2", clusterSize: "3K" }] }), "outputs[0].clusterSize"],
  ["machine cpus above 64", L([P], { outputs: [{ format: "ova", machine: { cpus: 1000 } }] }), "outputs[0].machine.cpus"],
  ["machine name empty", L([P], { outputs: [{ format: "ova", machine: { name: "" } }] }), "outputs[0].machine.name"],
  ["machine name of 65 characters", L([P], { outputs: [{ format: "vagrant-virtualbox", machine: { name: "m".repeat(65) } }] }), "outputs[0].machine.name"],
  ["machine memory below 4 MiB", L([P], { outputs: [{ format: "vagrant-libvirt", machine: { memoryMiB: 2 } }] }), "outputs[0].machine.memoryMiB"],
  ["unknown VirtualBox OS type", L([P], { outputs: [{ format: "ova", machine: { osType: "Plan9" } }] }), "outputs[0].machine.osType"],
  ["attribute bit 64", L([{ ...P, attributes: [64] }]), "partitions[0].attributes[0]"],
  ["attributes not a list", L([{ ...P, attributes: 59 }]), "partitions[0].attributes"],
  ["flag not a boolean", L([{ ...P, readOnly: "yes" }]), "partitions[0].readOnly"],
  ["unknown format", L([{ ...P, format: "btrfs" }]), "partitions[0].format"],
  ["copyFiles without a file system", L([{ ...P, copyFiles: ["/:/"] }]), "partitions[0].copyFiles"],
  ["copyFiles with two colons", L([{ ...P, format: "vfat", copyFiles: ["/efi:/:/x"] }]), "partitions[0].copyFiles[0]"],
  ["copyFiles with a relative path", L([{ ...P, format: "vfat", copyFiles: ["efi:/"] }]), "partitions[0].copyFiles[0]"],
  ["relative excludeFiles", L([{ ...P, format: "vfat", excludeFiles: ["boot"] }]), "partitions[0].excludeFiles[0]"],
  ["swap too small", L([{ type: "swap", size: "16K", format: "swap" }]), "partitions[0]"],
  ["swap label over 16 bytes", L([{ type: "swap", size: "1M", format: "swap", fsLabel: "a-very-long-swap-label" }]), "partitions[0].fsLabel"],
  ["ext4 label over 16 bytes", L([{ type: "home", size: "64M", format: "ext4", fsLabel: "my-home-filesystem" }]), "partitions[0].fsLabel"],
  ["ext4 label from a partition label over 16 bytes", L([{ type: "home", size: "64M", format: "ext4", label: "my-home-filesystem" }]), "partitions[0].fsLabel"],
  ["unknown architecture", L([P], { architecture: "mips" }), "architecture"],
  ["bad ownership", L([P], { ownership: "nobody" }), "ownership"],
  ["biosBoot without a bios-boot partition", L([P], { biosBoot: { bootImage: "b", coreImage: "c" } }), "biosBoot"],
];

describe("hand-written invalid layouts", () => {
  for (const [what, layout, path, codes] of HAND) {
    it(`${what}: a MkdiskError naming ${path}`, () => {
      expectLayoutError(layout, path, codes);
    });
  }

  it("through the CLI: non-zero exit, no stack trace, no output file, an existing output untouched", () => {
    for (const [what, layout, path] of HAND) {
      if (what === "129 partitions") continue; // the same code path as "empty partitions"; keeps the run short
      expectCliRefuses(layout, path);
    }
    expectCliRefuses(L([{ type: "esp", size: "512M" }, { type: "root", size: "600M" }], { size: "1G" }), "size", "precious contents\n");
    expectCliRefuses(L([{ ...P, lable: "x" }]), "partitions[0].lable", "precious contents\n");
  }, 300_000);

  it("a misspelt field: the error suggests the nearest allowed name, and only a clear one", () => {
    const msg = (part: Record<string, unknown>) => expectLayoutError({ partitions: [{ type: "esp", ...part }] }, "partitions[0]").message;
    expect(msg({ sise: "1G" })).toContain('unknown field "sise" (did you mean "size"?)');
    expect(msg({ Format: "vfat" })).toContain('(did you mean "format"?)');
    expect(msg({ copyfile: ["/:/"] })).toContain('(did you mean "copyFiles"?)');
    expect(msg({ zzUnknown: 1 })).not.toContain("did you mean");
    expect(msg({ size: "64M", Size: "1G" })).not.toContain('did you mean "size"'); // already given
    expect(expectLayoutError({ partitions: [{ type: "esp", size: "64M" }], outptus: [] }, "outptus").message).toContain('(did you mean "outputs"?)');
  });

  it("a size in MB or GB: refused as ambiguous, with the spellings that say 1024", () => {
    const msg = expectLayoutError({ partitions: [{ type: "esp", size: "512MB" }] }, "partitions[0].size").message;
    expect(msg).toContain('write "512M" or "512MiB" for 512 × 1048576 bytes');
    expect(expectLayoutError({ partitions: [{ type: "esp", size: "64M" }], size: "2 gb" }, "size").message).toContain('"2G" or "2GiB"');
  });

  it("a layout file that is not JSON: E_LAYOUT naming the file, no stack trace", () => {
    const lp = join(tmp.path, "broken.json");
    writeFileSync(lp, "{ partitions: ");
    const r = spawnSync(process.execPath, [CLI, "--layout", lp, "-o", join(tmp.path, "broken.img")], { encoding: "utf8" });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(lp);
    expect(r.stderr).not.toContain("    at ");
    expect(existsSync(join(tmp.path, "broken.img"))).toBe(false);
  });
});

type Json = { partitions: Record<string, unknown>[]; [k: string]: unknown };
/** A mutation breaks one field of a valid layout and says which JSON path the error must name. */
type Mutation = (l: Json, i: number) => string;
const MUTATIONS: Record<string, Mutation> = {
  badUnit: (l, i) => ((l.partitions[i] = { ...stripSize(l.partitions[i]), size: "7 parsecs" }), `partitions[${i}].size`),
  fraction: (l, i) => ((l.partitions[i] = { ...stripSize(l.partitions[i]), size: "0.5M" }), `partitions[${i}].size`),
  unknownType: (l, i) => ((l.partitions[i].type = "rootfs"), `partitions[${i}].type`),
  unknownPartKey: (l, i) => ((l.partitions[i].sizee = "1M"), `partitions[${i}].sizee`),
  unknownTopKey: (l) => ((l.partitons = []), "partitons"),
  longLabel: (l, i) => ((l.partitions[i].label = "é".repeat(37)), `partitions[${i}].label`),
  badSeed: (l) => ((l.seed = "0e9a6fe0-68f6-408c-bbeb-136054d2044g"), "seed"),
  badOutput: (l) => ((l.outputs = [{ format: "vdi" }]), "outputs[0].format"),
  rawCompress: (l) => ((l.outputs = [{ format: "raw", compress: true }]), "outputs[0].compress"),
  badBit: (l, i) => ((l.partitions[i].attributes = [1, 99]), `partitions[${i}].attributes[1]`),
  badSector: (l) => ((l.sectorSize = 520), "sectorSize"),
  badAlignment: (l) => ((l.alignment = "1000"), "alignment"),
  sizeAndGrow: (l, i) => ((l.partitions[i] = { ...stripSize(l.partitions[i]), size: "1M", grow: true }), `partitions[${i}].grow`),
  minOverMax: (l, i) => ((l.partitions[i] = { ...stripSize(l.partitions[i]), grow: true, minSize: "3M", maxSize: "2M" }), `partitions[${i}].minSize`),
  dupUuid: (l, i) => {
    if (l.partitions.length < 2) return MUTATIONS.unknownType(l, i);
    const j = i === 0 ? 1 : i;
    const k = i === 0 ? 0 : i - 1;
    const u = "22222222-3333-4444-8555-666666666666";
    for (const p of l.partitions) if (p.uuid === u) delete p.uuid;
    l.partitions[k].uuid = u;
    l.partitions[j].uuid = u;
    return `partitions[${j}].uuid`;
  },
  diskTooSmall: (l) => ((l.partitions[0] = { ...stripSize(l.partitions[0]), size: "64M" }), (l.size = "32M"), "size"),
};

function stripSize(p: Record<string, unknown>): Record<string, unknown> {
  const { size: _s, minSize: _a, maxSize: _b, grow: _g, format: _f, ...rest } = p;
  return rest;
}

const mutatedArb = fc.record({ layout: validLayoutArb, kind: fc.constantFrom(...Object.keys(MUTATIONS)), at: fc.nat() }).map(({ layout, kind, at }) => {
  const l = structuredClone(layout) as Json;
  const path = MUTATIONS[kind](l, at % l.partitions.length);
  return { layout: l, kind, path };
});

describe("mutations of valid layouts", () => {
  it("property: the valid layouts themselves plan without error", () => {
    fc.assert(
      fc.property(validLayoutArb, (l) => {
        const e = libraryError(l);
        // A generated layout may only fail by not fitting (it cannot: size is auto), never otherwise.
        expect(e, e instanceof Error ? e.message : "").toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("property: one broken field gives E_LAYOUT/E_FIT naming its JSON path, never another error", () => {
    fc.assert(
      fc.property(mutatedArb, ({ layout, kind, path }) => {
        const m = expectLayoutError(layout, path);
        if (kind === "diskTooSmall") expect(m.code).toBe("E_FIT");
      }),
      { numRuns: 1000 },
    );
  });

  it("property: arbitrary JSON values never give anything but a MkdiskError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), validLayoutArb.chain((l) => fc.jsonValue().map((v) => ({ ...l, partitions: [...l.partitions.slice(1), v] })))), (v) => {
        const e = libraryError(v);
        if (e !== undefined) expect(e, String(e)).toBeInstanceOf(MkdiskError);
      }),
      { numRuns: 1000 },
    );
  });

  it("property (CLI): mutated layouts exit non-zero without a stack trace or an output file", () => {
    fc.assert(
      fc.property(mutatedArb, ({ layout, path }) => {
        // -o names one output: several outputs would share the path (a usage error, not the layout's).
        if (Array.isArray(layout.outputs) && layout.outputs.length > 1) layout.outputs = layout.outputs.slice(0, 1);
        expectCliRefuses(layout, path);
      }),
      { numRuns: 15 },
    );
  }, 300_000);
});
