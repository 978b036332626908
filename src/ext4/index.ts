/**
 * ext4 writer: public API. See README.md for every feature and geometry choice.
 *
 *   planExt4(tree, opts)           validates, plans every byte position and
 *                                  returns a PlannedRegion (throws E_FIT,
 *                                  saying how many bytes are needed, before
 *                                  anything is written)
 *   ext4MinimumSizeBytes(tree)     the smallest size that holds the tree
 */
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";
import { formatUuid, type Uuid } from "../bin/guid.js";
import type { BuildContext } from "../context/index.js";
import type { PlannedRegion } from "../io/extent.js";
import type { Tree } from "../tree/types.js";
import { BLOCK_BYTES } from "./constants.js";
import { Ext4Emitter } from "./emit.js";
import { OutOfSpace } from "./geometry.js";
import { hashSeedWords } from "./hash.js";
import { analyzeTree, fitBelowJournalStep, fits, layoutExt4, minimumSizeBytes, type ReadDataRuns, type TreeAnalysis } from "./plan.js";

export type { DataRuns, ReadDataRuns } from "./plan.js";

/** Directory hashes use the signed-char variant, as mke2fs on x86 selects (s_flags signed_directory_hash). */
export const SIGNED_DIR_HASH = true;

export interface Ext4Options {
  /** Partition size; the file system uses floor(sizeBytes / 4096) blocks. */
  sizeBytes: number;
  /** File system UUID (16 bytes, RFC order); also the directory hash seed. */
  uuid: Uuid;
  /** Volume label, at most 16 bytes of UTF-8. */
  label?: string;
  /** clamp() for file times; fsTimeSec for superblock times. */
  ctx: BuildContext;
  /**
   * Optional hole detection: the runs of non-zero 4 KiB blocks of a regular
   * file. Blocks outside the runs become holes (not allocated). Without it,
   * files are stored dense. Format modules cannot read files; the caller
   * injects this (see `zeroBlockRuns` in holes.ts).
   */
  readDataRuns?: ReadDataRuns;
  /**
   * When the tree does not fit `sizeBytes` only because that size lies just
   * past a step of the journal (which grows from 4 to 16 MiB at 128 MiB, and
   * so on), make the file system end just below the step instead, leaving
   * the rest of the partition unused (systemd-growfs grows it at boot where
   * the partition has the grow-file-system flag). For sizes the layout
   * computed; a size the user fixed gets an error that names fitting sizes.
   */
  shrinkToFit?: boolean;
}

export interface Ext4SizeOptions {
  /** The UUID the file system will get: it decides hash order, hence htree leaf packing. */
  uuid?: Uuid;
  readDataRuns?: ReadDataRuns;
}

/**
 * The analysis of a tree is pure given (tree, uuid, readDataRuns): sizing a
 * partition and then planning it reuse one analysis (one read of every file
 * for hole detection, one hashing of every directory).
 */
const analyses = new WeakMap<Tree, { key: string; readDataRuns: ReadDataRuns | undefined; analysis: TreeAnalysis }>();

function analyze(tree: Tree, uuid: Uuid, readDataRuns: ReadDataRuns | undefined): TreeAnalysis {
  if (!(uuid instanceof Uint8Array) || uuid.length !== 16) fail("E_LAYOUT", `ext4 UUID must be 16 bytes`, "ext4.uuid");
  const key = formatUuid(uuid);
  const hit = analyses.get(tree);
  if (hit && hit.key === key && hit.readDataRuns === readDataRuns) return hit.analysis;
  const analysis = analyzeTree(tree, hashSeedWords(uuid), SIGNED_DIR_HASH, readDataRuns, "ext4");
  analyses.set(tree, { key, readDataRuns, analysis });
  return analysis;
}

export function planExt4(tree: Tree, opts: Ext4Options): PlannedRegion {
  const label = utf8(opts.label ?? "");
  if (label.length > 16) fail("E_LAYOUT", `ext4 label "${opts.label}" is ${label.length} bytes; at most 16`, "ext4.label");
  if (!Number.isSafeInteger(opts.sizeBytes) || opts.sizeBytes <= 0) fail("E_LAYOUT", `ext4 size must be a positive number of bytes, got ${opts.sizeBytes}`, "ext4.size");
  const analysis = analyze(tree, opts.uuid, opts.readDataRuns);
  let layout;
  let fsBytes = opts.sizeBytes;
  try {
    layout = layoutExt4(analysis, fsBytes, "ext4");
  } catch (e) {
    const doesNotFit = e instanceof OutOfSpace || (e instanceof Error && "code" in e && e.code === "E_FIT");
    if (!doesNotFit) throw e;
    const below = opts.shrinkToFit ? fitBelowJournalStep(analysis, fsBytes) : undefined;
    if (below === undefined) {
      const need = minimumSizeBytes(analysis);
      fail("E_FIT", `the tree needs an ext4 file system of at least ${need} bytes (${(Math.floor((need / 1048576) * 10) / 10).toFixed(1)} MiB); the partition has ${opts.sizeBytes} bytes`, "ext4");
    }
    fsBytes = below;
    layout = layoutExt4(analysis, fsBytes, "ext4");
  }
  const emitter = new Ext4Emitter({ analysis, layout, uuid: Uint8Array.from(opts.uuid), label, ctx: opts.ctx, signedHash: SIGNED_DIR_HASH });
  const sizeBytes = Math.floor(fsBytes / BLOCK_BYTES) * BLOCK_BYTES;
  return {
    sizeBytes,
    extents: () => emitter.extents(),
  };
}

/** Whether `tree` fits an ext4 file system of `sizeBytes` (the UUID decides how htree leaves fill). */
export function ext4Fits(tree: Tree, sizeBytes: number, opts: { uuid: Uuid; readDataRuns?: ReadDataRuns }): boolean {
  return fits(analyze(tree, opts.uuid, opts.readDataRuns), sizeBytes);
}

/** Smallest size (multiple of 4 KiB) that holds `tree`, for the layout's "minimize" option. */
export function ext4MinimumSizeBytes(tree: Tree, opts: Ext4SizeOptions = {}): number {
  if (opts.uuid) return minimumSizeBytes(analyze(tree, opts.uuid, opts.readDataRuns));
  // Without the UUID, hash order (and so how full each htree leaf gets) is
  // unknown: plan with a zero seed and add a 1/8 + 1 block margin per indexed directory.
  const a = analyze(tree, new Uint8Array(16), opts.readDataRuns);
  let slackBlocks = 0;
  for (const inf of a.inodes) if (inf?.dir?.indexed) slackBlocks += Math.ceil(inf.dir.blockCount / 8) + 1;
  return minimumSizeBytes(a, slackBlocks);
}
