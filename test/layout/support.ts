/**
 * Helpers for the layout and GPT oracle tests: build a disk from a layout
 * (library path, no rootfs), run systemd-repart on the equivalent partition
 * definitions, and read partition tables back with sfdisk.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { buildDisk, type BuildResult } from "../../src/build.js";
import { parseLayout, type Layout } from "../../src/layout/schema.js";
import { planDisk, type DiskPlan } from "../../src/layout/plan.js";
import { makeContext } from "../../src/build.js";
import { run, runOk } from "../helpers/tools.js";

export const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";

/** A layout.json value as tests write them. */
export interface LayoutJson {
  seed?: string;
  size?: string | number;
  sectorSize?: 512 | 4096;
  alignment?: string | number;
  partitions: PartJson[];
  [k: string]: unknown;
}
export interface PartJson {
  type: string;
  label?: string;
  uuid?: string;
  size?: string | number;
  minSize?: string | number;
  maxSize?: string | number;
  grow?: boolean;
  format?: "swap" | "vfat" | "ext4";
  readOnly?: boolean;
  noAuto?: boolean;
  growFileSystem?: boolean;
  attributes?: number[];
  [k: string]: unknown;
}

export async function buildRaw(layout: LayoutJson, path: string): Promise<BuildResult> {
  return buildDisk({ layout, outputs: [{ format: "raw", path }], force: true });
}

/**
 * Plans a layout without a rootfs and writes it as a sparse raw file, writing
 * only the `bytes` extents (no file extents exist without a rootfs). A fast
 * stand-in for buildDisk in generated-layout tests: pump visits every window
 * of the disk, which costs seconds per GiB of zeros.
 */
export function planAndWriteSparse(layoutJson: LayoutJson, path: string): DiskPlan {
  const layout = parseLayout(layoutJson);
  const plan = planDisk(layout, undefined, makeContext(layout, layoutJson));
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, plan.totalBytes);
    for (const e of plan.extents()) {
      if (e.source.kind === "bytes") writeSync(fd, e.source.bytes, 0, e.lengthBytes, e.offsetBytes);
      else if (e.source.kind === "file") throw new Error("file extents need the real writer");
    }
  } finally {
    closeSync(fd);
  }
  return plan;
}

/** sfdisk --json, as an object (the "partitiontable" member). */
export interface SfdiskTable {
  label: string;
  id: string;
  device: string;
  unit: string;
  firstlba: number;
  lastlba: number;
  sectorsize?: number;
  partitions?: { node: string; start: number; size: number; type: string; uuid: string; name?: string; attrs?: string }[];
}

export function sfdiskJson(device: string): SfdiskTable {
  return JSON.parse(runOk("sfdisk", ["--json", device])).partitiontable as SfdiskTable;
}

/** sfdisk --dump with the device name replaced, so two images can be compared as text. */
export function sfdiskDump(device: string): string {
  return runOk("sfdisk", ["--dump", device]).split(device).join("IMG");
}

/** sfdisk's attrs string for an attribute value: "GUID:59,63" (bits 48-63), "RequiredPartition" (0) … */
export function sfdiskAttrs(bits: bigint): string | undefined {
  const words: string[] = [];
  if (bits & 1n) words.push("RequiredPartition");
  if (bits & 2n) words.push("NoBlockIOProtocol");
  if (bits & 4n) words.push("LegacyBIOSBootable");
  const guid: number[] = [];
  for (let b = 48; b < 64; b++) if (bits & (1n << BigInt(b))) guid.push(b);
  if (guid.length) words.push(`GUID:${guid.join(",")}`);
  return words.length ? words.join(" ") : undefined;
}

/** Names systemd-repart 252 accepts in Type= for mkdisk's type names; anything else is passed as a GUID. */
const REPART_TYPE_NAMES = new Set([
  "esp", "xbootldr", "swap", "home", "srv", "var", "tmp", "linux-generic",
  "root-x86-64", "root-arm64", "root-x86", "root-riscv64", "usr-x86-64", "usr-arm64", "usr-x86", "usr-riscv64",
]);

const roundUp4096 = (n: number) => Math.ceil(n / 4096) * 4096;

/**
 * The systemd-repart definitions equivalent to a mkdisk layout. Differences that
 * are deliberate mkdisk choices are mapped here, each with its reason:
 * - mkdisk rounds a minimum (and "size") UP to 4096 bytes, a partition is never
 *   smaller than asked; repart rounds SizeMinBytes= DOWN. So repart gets the
 *   rounded-up value.
 * - A partition without "grow" has exactly its size: SizeMinBytes = SizeMaxBytes.
 */
export function repartDefinitions(layout: Layout): string[] {
  return layout.partitions.map((p) => {
    const lines = ["[Partition]", `Type=${REPART_TYPE_NAMES.has(p.type.name) ? p.type.name : p.type.guid}`];
    if (p.label !== undefined) lines.push(`Label=${p.label}`);
    if (p.uuid !== undefined) lines.push(`UUID=${formatUuidLocal(p.uuid)}`);
    if (p.minBytes !== undefined) lines.push(`SizeMinBytes=${roundUp4096(p.minBytes)}`);
    if (!p.grow) lines.push(`SizeMaxBytes=${roundUp4096(p.minBytes!)}`);
    else if (p.maxBytes !== undefined) lines.push(`SizeMaxBytes=${p.maxBytes}`);
    if (p.format === "swap") lines.push("Format=swap");
    if (p.readOnly !== undefined) lines.push(`ReadOnly=${p.readOnly ? "yes" : "no"}`);
    if (p.noAuto !== undefined) lines.push(`NoAuto=${p.noAuto ? "yes" : "no"}`);
    return lines.join("\n") + "\n";
  });
}

function formatUuidLocal(u: Uint8Array): string {
  const h = Buffer.from(u).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Runs systemd-repart on a new image file with the layout's definitions, seed
 * and size ("auto" or bytes). Returns the exit status and stderr.
 */
export function runRepart(layoutJson: LayoutJson, workDir: string, image: string): { status: number; stderr: string } {
  const layout = parseLayout(layoutJson);
  const defs = join(workDir, "repart.d");
  rmSync(defs, { recursive: true, force: true });
  rmSync(image, { force: true });
  mkdirSync(defs, { recursive: true });
  repartDefinitions(layout).forEach((text, i) => writeFileSync(join(defs, `${String(i).padStart(3, "0")}.conf`), text));
  const size = layout.size === "auto" ? "auto" : String(layout.size);
  const r = run("systemd-repart", [
    "--no-pager", "--empty=create", `--size=${size}`, `--seed=${layoutJson.seed ?? SEED}`,
    `--definitions=${defs}`, "--dry-run=no", "--json=off", image,
  ]);
  return { status: r.status, stderr: r.stderr };
}

/** Runs `fn` with `image` attached to a loop device of the given logical sector size; always detaches. */
export function withLoop<T>(image: string, sectorBytes: number, fn: (dev: string) => T): T {
  const dev = runOk("losetup", ["--find", "--show", "--sector-size", String(sectorBytes), image]).trim();
  try {
    return fn(dev);
  } finally {
    run("losetup", ["--detach", dev]);
  }
}
