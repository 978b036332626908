/** Shared helpers for the FAT32 tests: build a bare FAT32 partition image from a directory. */
import { closeSync, mkdirSync, openSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BuildContext } from "../../src/context/index.js";
import { pump } from "../../src/io/pump.js";
import { RawSink } from "../../src/io/raw.js";
import { scanTree } from "../../src/tree/scan.js";
import type { Tree } from "../../src/tree/types.js";
import { planFat32, type Fat32Options } from "../../src/fat32/index.js";

export const SEED = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0";
export const EPOCH = 1_700_000_000; // 2023-11-14T22:13:20Z

export function ctx(epochSec: number | undefined = EPOCH): BuildContext {
  return new BuildContext({ seed: SEED, epochSec });
}

export async function writeImage(tree: Tree, imgPath: string, opts: Partial<Fat32Options> & { sizeBytes: number }): Promise<void> {
  const region = planFat32(tree, { sectorBytes: 512, volumeId: 0x12345678, label: "esp", ctx: ctx(), ...opts });
  const fd = openSync(imgPath, "w");
  try {
    await pump(region.extents(), region.sizeBytes, [new RawSink(fd)]);
  } finally {
    closeSync(fd);
  }
}

export async function buildImage(srcDir: string, imgPath: string, opts: Partial<Fat32Options> & { sizeBytes: number }): Promise<Tree> {
  const tree = scanTree(srcDir);
  await writeImage(tree, imgPath, opts);
  return tree;
}

/** A file spec for makeTree: content bytes or a directory marker. */
export type Spec = { [name: string]: Uint8Array | string | Spec };

/** Creates `spec` under `dir` (files from strings/bytes, objects are directories), all with mtime `mtimeSec`. */
export function makeTree(dir: string, spec: Spec, mtimeSec = 1_600_000_000, order: "asc" | "desc" = "asc"): void {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(spec).sort();
  if (order === "desc") names.reverse();
  for (const n of names) {
    const v = spec[n];
    const p = join(dir, n);
    if (typeof v === "string" || v instanceof Uint8Array) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, v);
      utimesSync(p, mtimeSec, mtimeSec);
    } else makeTree(p, v, mtimeSec, order);
  }
  utimesSync(dir, mtimeSec, mtimeSec);
}

import { readdirSync, readFileSync, lstatSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { run, runOk, requireTool } from "../helpers/tools.js";

/** Environment for mtools: no geometry checks, UTC times, UTF-8 names. */
export const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: "1", TZ: "UTC", LC_ALL: "C.UTF-8" };

export interface Listing {
  [path: string]: { type: "file" | "dir"; sha256?: string; size?: number; mtimeSec: number };
}

/** Walks a host directory into a listing (paths relative, "/"-separated, sorted). */
export function listDir(root: string): Listing {
  const out: Listing = {};
  const walk = (dir: string, rel: string) => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const r = rel + "/" + n;
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[r] = { type: "dir", mtimeSec: Math.floor(st.mtimeMs / 1000) };
        walk(p, r);
      } else {
        const data = readFileSync(p);
        out[r] = { type: "file", sha256: createHash("sha256").update(data).digest("hex"), size: data.length, mtimeSec: Math.floor(st.mtimeMs / 1000) };
      }
    }
  };
  walk(root, "");
  return out;
}

/** Reads an image back with mtools (`mcopy -s -m`) into `outDir` and lists it. */
export function mtoolsReadBack(img: string, outDir: string): Listing {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const top = runOk("mdir", ["-b", "-i", img, "::/"], { env: MTOOLS_ENV }).split("\n").filter((l) => l.trim());
  if (top.length > 0) runOk("mcopy", ["-s", "-m", "-n", "-i", img, "::/*", outDir + "/"], { env: MTOOLS_ENV });
  return listDir(outDir);
}

/** Runs `fsck.fat -n` and returns its complaints: any output line besides the banner and the summary. */
export function fsckComplaints(img: string): { status: number; complaints: string[]; summary: string } {
  requireTool("fsck.fat");
  const r = run("fsck.fat", ["-n", img]);
  const lines = (r.stdout + r.stderr).split("\n").filter((l) => l.trim() !== "");
  const complaints = lines.filter((l) => !/^fsck\.fat \d/.test(l) && !l.startsWith(img + ": "));
  const summary = lines.find((l) => l.startsWith(img + ": ")) ?? "";
  return { status: r.status, complaints, summary };
}
