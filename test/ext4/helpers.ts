/** Shared helpers for the ext4 oracle tests: build a bare ext4 image from a directory. */
import { closeSync, openSync, readSync } from "node:fs";
import { BuildContext } from "../../src/context/index.js";
import { parseUuid } from "../../src/bin/guid.js";
import { pump } from "../../src/io/pump.js";
import { RawSink } from "../../src/io/raw.js";
import { scanTree } from "../../src/tree/scan.js";
import type { Tree } from "../../src/tree/types.js";
import { planExt4, type Ext4Options } from "../../src/ext4/index.js";
import { run } from "../helpers/tools.js";

export const UUID = "0e9a6fe0-68f6-408c-bbeb-136054d20445";
export const EPOCH = 1_700_000_000;

export function ctx(epochSec: number | undefined = EPOCH): BuildContext {
  return new BuildContext({ seed: "11111111-2222-4333-8444-555555555555", epochSec });
}

export async function buildImage(tree: Tree, imgPath: string, opts: Partial<Ext4Options> = {}): Promise<void> {
  const region = planExt4(tree, { sizeBytes: 64 << 20, uuid: parseUuid(UUID), label: "root", ctx: ctx(), ...opts });
  const fd = openSync(imgPath, "w");
  try {
    await pump(region.extents(), region.sizeBytes, [new RawSink(fd)]);
  } finally {
    closeSync(fd);
  }
}

export async function buildFromDir(dir: string, imgPath: string, opts: Partial<Ext4Options> = {}): Promise<Tree> {
  const tree = scanTree(dir);
  await buildImage(tree, imgPath, opts);
  return tree;
}

/** e2fsck -fn: exit status and the full output. */
export function fsck(img: string): { status: number; out: string } {
  const r = run("e2fsck", ["-fn", img]);
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Positional read for zeroBlockRuns (hole detection), as the CLI would inject it. */
export function nodeReadAt(path: string | Buffer, into: Uint8Array, off: number): number {
  const fd = openSync(path, "r");
  try {
    return readSync(fd, into, 0, into.length, off);
  } finally {
    closeSync(fd);
  }
}
