/**
 * layout.json: types and parsing. Every error names the JSON path of the bad
 * field and what is allowed. Unknown keys are errors (they are usually typos).
 * The JSON Schema for editors is schema/layout.schema.json; test/layout keeps
 * the two in step.
 */
import { fail } from "../bin/errors.js";
import { parseUuid, type Uuid } from "../bin/guid.js";
import { ARCHITECTURES, resolveType, type Architecture, type PartitionType } from "../gpt/types.js";
import { checkMachine } from "../ovf/machine.js";
import { parseSize } from "./units.js";
import { MAX_EPOCH_SEC } from "../context/index.js";

export const FORMATS = ["vfat", "ext4", "swap"] as const;
export type FsFormat = (typeof FORMATS)[number];
export const OUTPUT_FORMATS = ["raw", "qcow2", "vmdk", "vagrant-libvirt", "vagrant-virtualbox", "ova"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const SECTOR_SIZES = [512, 4096] as const;

export interface PartitionSpec {
  readonly index: number;
  readonly type: PartitionType;
  readonly label?: string;
  readonly uuid?: Uuid;
  /** Exact size, or the minimum when `grow` is set. */
  readonly minBytes?: number;
  readonly maxBytes?: number;
  readonly grow: boolean;
  readonly format?: FsFormat;
  readonly copyFiles: readonly string[];
  readonly excludeFiles: readonly string[];
  readonly noAuto?: boolean;
  readonly readOnly?: boolean;
  readonly growFileSystem?: boolean;
  /** Extra raw attribute bits (0-63). */
  readonly attributeBits: readonly number[];
  /** Filesystem label; defaults to the partition label. */
  readonly fsLabel?: string;
  /** vfat only: follow symlinks that resolve inside the tree (default: a symlink is an error). */
  readonly followSymlinks?: boolean;
}

export interface OutputSpec {
  readonly format: OutputFormat;
  /** Virtual machine settings for ova and vagrant outputs (src/ovf/machine.ts). */
  readonly machine?: { name?: string; osType?: string; cpus?: number; memoryMiB?: number; firmware?: "bios" | "efi"; controller?: "sata" | "ide" };
  readonly path?: string;
  readonly compress?: boolean;
  readonly clusterSize?: number;
}

export interface Layout {
  readonly seed?: Uuid;
  readonly sourceDateEpoch?: number;
  /** Bytes, or "auto" = the sum of the partitions plus the GPT. */
  readonly size: number | "auto";
  readonly sectorSize: 512 | 4096;
  readonly alignmentBytes: number;
  readonly architecture: Architecture;
  /** "preserve" (default): owners as in the rootfs; "root": every file 0:0, modes kept. */
  readonly ownership: "preserve" | "root";
  /** Path of an ownership manifest (src/tree/manifest.ts), relative to the layout file. */
  readonly ownershipManifest?: string;
  readonly partitions: readonly PartitionSpec[];
  readonly outputs: readonly OutputSpec[];
  /** GRUB for BIOS: boot.img → protective MBR, core.img → the bios-boot partition (src/boot). Paths relative to the layout file. */
  readonly biosBoot?: BiosBootSpec;
}

export interface BiosBootSpec {
  readonly bootImage: string;
  readonly coreImage: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = closest(k, allowed.filter((a) => !(a in o)));
    fail("E_LAYOUT", `unknown field "${k}"${near ? ` (did you mean "${near}"?)` : ""}; allowed: ${allowed.join(", ")}`, where ? `${where}.${k}` : k);
  }
}

/** The allowed name (not already given) within edit distance 2 of `k`, case-insensitive, if exactly one is nearest. */
function closest(k: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  let tie = false;
  for (const a of allowed) {
    if (Math.abs(a.length - k.length) >= bestD) continue;
    const d = editDistance(k.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD, tie] = [a, d, false];
    else if (d === bestD) tie = true;
  }
  return tie ? undefined : best;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string") fail("E_LAYOUT", `expected a string, got ${JSON.stringify(v)}`, where);
  return v;
}
function bool(v: unknown, where: string): boolean {
  if (typeof v !== "boolean") fail("E_LAYOUT", `expected true or false, got ${JSON.stringify(v)}`, where);
  return v;
}
function strList(v: unknown, where: string): string[] {
  if (!Array.isArray(v)) fail("E_LAYOUT", `expected a list of strings, got ${JSON.stringify(v)}`, where);
  return v.map((x, i) => str(x, `${where}[${i}]`));
}
function oneOf<T extends string | number>(v: unknown, allowed: readonly T[], where: string): T {
  if (!allowed.includes(v as T)) fail("E_LAYOUT", `expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(v)}`, where);
  return v as T;
}

const PARTITION_KEYS = [
  "type", "label", "uuid", "size", "minSize", "maxSize", "grow", "format", "copyFiles", "excludeFiles",
  "noAuto", "readOnly", "growFileSystem", "attributes", "fsLabel", "followSymlinks",
] as const;
const TOP_KEYS = ["$schema", "seed", "sourceDateEpoch", "size", "sectorSize", "alignment", "architecture", "ownership", "ownershipManifest", "partitions", "outputs", "biosBoot"] as const;
const OUTPUT_KEYS = ["format", "path", "compress", "clusterSize", "machine"] as const;
const MACHINE_KEYS = ["name", "osType", "cpus", "memoryMiB", "firmware", "controller"] as const;

export function parseLayout(json: unknown): Layout {
  if (!isObj(json)) fail("E_LAYOUT", `the layout must be a JSON object`, "$");
  checkKeys(json, TOP_KEYS, "");
  const seed = json.seed === undefined ? undefined : parseUuid(str(json.seed, "seed"), "seed");
  let sourceDateEpoch: number | undefined;
  if (json.sourceDateEpoch !== undefined) {
    const v = json.sourceDateEpoch;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail("E_LAYOUT", `expected a whole number of seconds since 1970 (SOURCE_DATE_EPOCH), got ${JSON.stringify(v)}`, "sourceDateEpoch");
    if (v > MAX_EPOCH_SEC) fail("E_LAYOUT", `${v} is after 2446-05-10 (${MAX_EPOCH_SEC}), the last time ext4 can store`, "sourceDateEpoch");
    sourceDateEpoch = v;
  }
  const size = json.size === undefined || json.size === "auto" ? "auto" : parseSize(json.size, "size");
  const sectorSize = json.sectorSize === undefined ? 512 : oneOf(json.sectorSize, SECTOR_SIZES, "sectorSize");
  const alignmentBytes = json.alignment === undefined ? 1 << 20 : parseSize(json.alignment, "alignment");
  if (alignmentBytes < 4096 || !Number.isInteger(Math.log2(alignmentBytes)) || alignmentBytes % sectorSize !== 0) {
    fail("E_LAYOUT", `alignment must be a power of two of at least 4K and a multiple of the sector size, got ${alignmentBytes} bytes`, "alignment");
  }
  const architecture = json.architecture === undefined ? "x86-64" : oneOf(json.architecture, ARCHITECTURES, "architecture");
  const ownership = json.ownership === undefined ? "preserve" : oneOf(json.ownership, ["preserve", "root"] as const, "ownership");
  if (!Array.isArray(json.partitions)) fail("E_LAYOUT", `expected a list of partitions`, "partitions");
  if (json.partitions.length === 0) fail("E_LAYOUT", `at least one partition is needed`, "partitions");
  if (json.partitions.length > 128) fail("E_LAYOUT", `GPT holds at most 128 partitions, got ${json.partitions.length}`, "partitions");
  const partitions = json.partitions.map((p, i) => parsePartition(p, i, architecture));
  const outputs = json.outputs === undefined ? [{ format: "raw" as const }] : parseOutputs(json.outputs);
  const ownershipManifest = json.ownershipManifest === undefined ? undefined : str(json.ownershipManifest, "ownershipManifest");
  const biosBoot = json.biosBoot === undefined ? undefined : parseBiosBoot(json.biosBoot, partitions);
  return { seed, sourceDateEpoch, size, sectorSize, alignmentBytes, architecture, ownership, ownershipManifest, partitions, outputs, biosBoot };
}

function parsePartition(p: unknown, index: number, arch: Architecture): PartitionSpec {
  const w = `partitions[${index}]`;
  if (!isObj(p)) fail("E_LAYOUT", `expected an object`, w);
  checkKeys(p, PARTITION_KEYS, w);
  if (p.type === undefined) fail("E_LAYOUT", `"type" is required (esp, bios-boot, root, usr, root-verity, root-x86-64, root-arm64, linux-generic, swap, xbootldr, home, var, srv, tmp, any type systemd names, or a type GUID)`, `${w}.type`);
  const typeName = str(p.type, `${w}.type`);
  const type = resolveType(typeName, arch);
  if (!type) fail("E_LAYOUT", `unknown partition type "${typeName}"; use esp, bios-boot, root, usr, root-verity, root-x86-64, root-arm64, linux-generic, swap, xbootldr, home, var, srv, tmp, any type systemd names (systemd-id128 show), or a type GUID`, `${w}.type`);
  if (/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(type.guid)) {
    fail("E_LAYOUT", `the all-zero type GUID marks an unused GPT entry: firmware, the kernel and sgdisk would not see this partition; use "linux-generic" or the type you mean`, `${w}.type`);
  }
  const label = p.label === undefined ? undefined : str(p.label, `${w}.label`);
  if (label?.includes("\u0000")) fail("E_LAYOUT", `the label holds U+0000, which ends a GPT name: what follows would be lost`, `${w}.label`);
  const uuid = p.uuid === undefined ? undefined : parseUuid(str(p.uuid, `${w}.uuid`), `${w}.uuid`);
  if (uuid?.every((b) => b === 0)) fail("E_LAYOUT", `the all-zero UUID is not a valid partition UUID (the GPT uses zero for "no value"); leave "uuid" out to derive one from the seed`, `${w}.uuid`);
  const grow = p.grow === undefined ? false : bool(p.grow, `${w}.grow`);
  let minBytes: number | undefined;
  let maxBytes: number | undefined;
  if (p.size !== undefined) {
    if (p.minSize !== undefined || p.maxSize !== undefined) fail("E_LAYOUT", `give either "size" or "minSize"/"maxSize", not both`, `${w}.size`);
    if (grow) fail("E_LAYOUT", `"size" fixes the size; with "grow": true use "minSize"/"maxSize"`, `${w}.grow`);
    minBytes = maxBytes = parseSize(p.size, `${w}.size`);
    if (minBytes === 0) fail("E_LAYOUT", `size must be greater than zero`, `${w}.size`);
  } else {
    if (p.minSize !== undefined) minBytes = parseSize(p.minSize, `${w}.minSize`);
    if (p.maxSize !== undefined) maxBytes = parseSize(p.maxSize, `${w}.maxSize`);
    if (minBytes !== undefined && maxBytes !== undefined && minBytes > maxBytes) fail("E_LAYOUT", `minSize (${minBytes}) is larger than maxSize (${maxBytes})`, `${w}.minSize`);
    if (!grow && minBytes === undefined && maxBytes === undefined && p.format === undefined) {
      fail("E_LAYOUT", `give the partition a "size" (e.g. "512M"), or "grow": true to take the rest of the disk`, w);
    }
  }
  const format = p.format === undefined || p.format === "none" ? undefined : oneOf(p.format, FORMATS, `${w}.format`);
  const copyFiles = p.copyFiles === undefined ? [] : strList(p.copyFiles, `${w}.copyFiles`);
  const excludeFiles = p.excludeFiles === undefined ? [] : strList(p.excludeFiles, `${w}.excludeFiles`);
  if (copyFiles.length > 0 && (format === undefined || format === "swap")) fail("E_LAYOUT", `copyFiles needs a filesystem: set "format" to "vfat" or "ext4"`, `${w}.copyFiles`);
  excludeFiles.forEach((e, j) => {
    if (!e.startsWith("/")) fail("E_LAYOUT", `paths must be absolute, got ${JSON.stringify(e)}`, `${w}.excludeFiles[${j}]`);
  });
  let attributeBits: number[] = [];
  if (p.attributes !== undefined) {
    if (!Array.isArray(p.attributes)) fail("E_LAYOUT", `expected a list of attribute bit numbers 0-63`, `${w}.attributes`);
    attributeBits = p.attributes.map((b, j) => {
      if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 63) fail("E_LAYOUT", `expected a bit number 0-63, got ${JSON.stringify(b)}`, `${w}.attributes[${j}]`);
      return b;
    });
  }
  const flag = (k: "noAuto" | "readOnly" | "growFileSystem") => (p[k] === undefined ? undefined : bool(p[k], `${w}.${k}`));
  const fsLabel = p.fsLabel === undefined ? undefined : str(p.fsLabel, `${w}.fsLabel`);
  const followSymlinks = p.followSymlinks === undefined ? undefined : bool(p.followSymlinks, `${w}.followSymlinks`);
  if (followSymlinks && format !== "vfat") fail("E_LAYOUT", `followSymlinks applies to vfat partitions (ext4 stores symlinks as they are)`, `${w}.followSymlinks`);
  return {
    index, type, label, uuid, minBytes, maxBytes, grow, format, copyFiles, excludeFiles,
    noAuto: flag("noAuto"), readOnly: flag("readOnly"), growFileSystem: flag("growFileSystem"), attributeBits, fsLabel, followSymlinks,
  };
}

function parseBiosBoot(v: unknown, partitions: readonly PartitionSpec[]): BiosBootSpec {
  if (!isObj(v)) fail("E_LAYOUT", `expected an object like {"bootImage": "boot.img", "coreImage": "core.img"}`, "biosBoot");
  checkKeys(v, ["bootImage", "coreImage"], "biosBoot");
  for (const k of ["bootImage", "coreImage"] as const) if (v[k] === undefined) fail("E_LAYOUT", `"${k}" is required (path of GRUB's i386-pc ${k === "bootImage" ? "boot.img" : "core.img"})`, `biosBoot.${k}`);
  const i = partitions.findIndex((p) => p.type.name === "bios-boot");
  if (i < 0) fail("E_LAYOUT", `biosBoot needs a partition of type "bios-boot" (1M is usual) to hold core.img`, "biosBoot");
  if (partitions[i].format !== undefined) fail("E_LAYOUT", `the bios-boot partition holds core.img and takes no "format"`, `partitions[${i}].format`);
  return { bootImage: str(v.bootImage, "biosBoot.bootImage"), coreImage: str(v.coreImage, "biosBoot.coreImage") };
}

function parseOutputs(v: unknown): OutputSpec[] {
  if (!Array.isArray(v) || v.length === 0) fail("E_LAYOUT", `expected a non-empty list of outputs like [{"format": "qcow2"}]`, "outputs");
  return v.map((o, i) => {
    const w = `outputs[${i}]`;
    if (!isObj(o)) fail("E_LAYOUT", `expected an object like {"format": "qcow2"}`, w);
    checkKeys(o, OUTPUT_KEYS, w);
    const format = oneOf(o.format, OUTPUT_FORMATS, `${w}.format`);
    const out: { -readonly [K in keyof OutputSpec]: OutputSpec[K] } = { format };
    if (o.path !== undefined) out.path = str(o.path, `${w}.path`);
    if (o.compress !== undefined) {
      out.compress = bool(o.compress, `${w}.compress`);
      if (format === "raw" && out.compress) fail("E_LAYOUT", `raw output cannot be compressed; use qcow2 or vmdk`, `${w}.compress`);
    }
    if (o.clusterSize !== undefined) {
      if (format !== "qcow2") fail("E_LAYOUT", `clusterSize applies to qcow2 only`, `${w}.clusterSize`);
      const c = parseSize(o.clusterSize, `${w}.clusterSize`);
      if (c < 512 || c > 2 << 20 || !Number.isInteger(Math.log2(c))) fail("E_LAYOUT", `qcow2 cluster size must be a power of two from 512 to 2M, got ${c}`, `${w}.clusterSize`);
      out.clusterSize = c;
    }
    if (o.machine !== undefined) {
      if (!["ova", "vagrant-libvirt", "vagrant-virtualbox"].includes(format)) fail("E_LAYOUT", `machine applies to ova and vagrant outputs`, `${w}.machine`);
      if (!isObj(o.machine)) fail("E_LAYOUT", `expected an object like {"cpus": 2, "memoryMiB": 2048}`, `${w}.machine`);
      checkKeys(o.machine, MACHINE_KEYS, `${w}.machine`);
      const m = o.machine;
      for (const k of ["name", "osType"] as const) if (m[k] !== undefined) str(m[k], `${w}.machine.${k}`);
      for (const k of ["cpus", "memoryMiB"] as const) {
        if (m[k] !== undefined && (typeof m[k] !== "number" || !Number.isSafeInteger(m[k]) || (m[k] as number) < 1)) fail("E_LAYOUT", `expected a positive whole number`, `${w}.machine.${k}`);
      }
      if (m.firmware !== undefined) oneOf(m.firmware, ["bios", "efi"] as const, `${w}.machine.firmware`);
      if (m.controller !== undefined) oneOf(m.controller, ["sata", "ide"] as const, `${w}.machine.controller`);
      checkMachine(m as OutputSpec["machine"], `${w}.machine`, "E_LAYOUT");
      out.machine = m as OutputSpec["machine"];
    }
    return out;
  });
}

/** Canonical JSON of the layout without its seed: the input of the default seed. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObj(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
