/**
 * FAT32 writer: plans a FAT32 volume holding a tree and returns it as a
 * PlannedRegion (partition-relative extents, metadata generated lazily).
 * See README.md in this folder for the rules (cluster size, names, label,
 * times) and the limitations.
 */
import { fail } from "../bin/errors.js";
import type { BuildContext } from "../context/index.js";
import type { PlannedRegion } from "../io/extent.js";
import type { Tree } from "../tree/types.js";
import {
  MAX_CLUSTERS_FAT32,
  MIN_CLUSTERS_FAT32,
  defaultClusterBytes,
  layout,
  type Geometry,
} from "./geometry.js";
import { allocate, clustersNeeded, volumeExtents } from "./image.js";
import { mangleLabel } from "./names.js";
import { type FatNode, prepareTree } from "./prepare.js";

export interface Fat32Options {
  /** Partition size in bytes; a tail shorter than one sector is left unused. */
  sizeBytes: number;
  /** Logical sector size. */
  sectorBytes: 512 | 4096;
  /** u32 FAT volume serial (BS_VolID). */
  volumeId: number;
  /** Volume label, mangled as systemd-repart does ("esp" -> "ESP"); none: "NO NAME" and no label entry. */
  label?: string;
  /** Clamps file times (ctx.clamp) and stamps the label entry (ctx.fsTimeSec). */
  ctx: BuildContext;
  /** false (default): a symlink is an E_TREE error; true: follow links that resolve inside the rootfs (see `rootfs`). */
  followSymlinks?: boolean;
  /**
   * The whole scanned tree when `tree` is a selection of it (copyFiles):
   * followed symlinks resolve there, as they would on the running system.
   * Default: `tree` itself.
   */
  rootfs?: Tree;
  /** BPB_HiddSec: sectors before the partition (its start LBA); default 0. */
  hiddenSectors?: number;
}

const MAX_TOTAL_SECTORS = 0xffffffff;

function checkOptions(o: Fat32Options): void {
  if (o.sectorBytes !== 512 && o.sectorBytes !== 4096) fail("E_LAYOUT", `FAT32 sector size must be 512 or 4096, got ${o.sectorBytes}`, "fat32.sectorBytes");
  if (!Number.isSafeInteger(o.sizeBytes) || o.sizeBytes <= 0) fail("E_LAYOUT", `partition size must be a positive integer number of bytes, got ${o.sizeBytes}`, "fat32.sizeBytes");
  if (!Number.isSafeInteger(o.volumeId) || o.volumeId < 0 || o.volumeId > 0xffffffff) fail("E_LAYOUT", `volume id must be a u32, got ${o.volumeId}`, "fat32.volumeId");
  const h = o.hiddenSectors ?? 0;
  if (!Number.isSafeInteger(h) || h < 0 || h > 0xffffffff) fail("E_LAYOUT", `hidden sectors must be a u32, got ${h}`, "fat32.hiddenSectors");
}

/** About the largest FAT32 volume: 2^32 - 1 sectors, or the most clusters of the largest cluster size (32 KiB), whichever is less. */
function maxVolumeBytes(sectorBytes: number): number {
  return Math.min(MAX_TOTAL_SECTORS * sectorBytes, MAX_CLUSTERS_FAT32 * 32768);
}

/** Cluster sizes tried for a size: mkfs.fat's choice first, then smaller ones down to one sector. */
function clusterCandidates(sizeBytes: number, sectorBytes: number): number[] {
  const out: number[] = [];
  for (let c = defaultClusterBytes(sizeBytes, sectorBytes); c >= sectorBytes; c /= 2) out.push(c);
  return out;
}

type Choice = { ok: true; geometry: Geometry } | { ok: false; reason: "small" | "full" | "big"; needBytes?: number };

/**
 * The geometry for `sizeBytes`: mkfs.fat's cluster size when it gives a valid
 * FAT32 (>= 65525 clusters) that holds the tree; otherwise the largest
 * smaller cluster size that does.
 */
function choose(root: FatNode, sizeBytes: number, sectorBytes: number): Choice {
  const totalSectors = Math.floor(sizeBytes / sectorBytes);
  if (totalSectors > MAX_TOTAL_SECTORS) return { ok: false, reason: "big" };
  let sawFull = false;
  let sawBig = false;
  for (const c of clusterCandidates(sizeBytes, sectorBytes)) {
    const g = layout(totalSectors, sectorBytes, c);
    if (!g || g.clusterCount < MIN_CLUSTERS_FAT32) continue;
    if (g.clusterCount > MAX_CLUSTERS_FAT32) {
      sawBig = true;
      break; // smaller clusters only make it worse
    }
    if (clustersNeeded(root, c) > g.clusterCount) {
      sawFull = true;
      continue;
    }
    return { ok: true, geometry: g };
  }
  return { ok: false, reason: sawBig ? "big" : sawFull ? "full" : "small" };
}

function minimumFor(root: FatNode, sectorBytes: number): number {
  const fits = (sectors: number) => choose(root, sectors * sectorBytes, sectorBytes).ok;
  // Exponential search for a size that fits, then bisection. Fitting is
  // monotone in the size up to FAT rounding (a sector more can cost a FAT
  // sector), so the answer fits and one cluster less does not, near enough.
  let hi = Math.ceil((32 * 1024 * 1024) / sectorBytes);
  while (!fits(hi)) {
    hi *= 2;
    if (hi > MAX_TOTAL_SECTORS) fail("E_FIT", `the tree does not fit any FAT32 volume (at most ${MAX_TOTAL_SECTORS} sectors)`, "/");
  }
  let lo = Math.floor(hi / 2);
  if (fits(lo)) lo = 0;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi * sectorBytes;
}

/** Smallest partition (bytes, a multiple of the sector size) that holds `tree` as FAT32. */
export function fat32MinimumSizeBytes(tree: Tree, sectorBytes: 512 | 4096, opts: { label?: string; followSymlinks?: boolean; rootfs?: Tree } = {}): number {
  const root = prepareTree(tree, {
    clamp: (t) => t, // times do not change sizes
    followSymlinks: opts.followSymlinks ?? false,
    rootfs: opts.rootfs?.root,
    labelEntry: mangleLabel(opts.label).present,
  });
  return minimumFor(root, sectorBytes);
}

export function planFat32(tree: Tree, opts: Fat32Options): PlannedRegion {
  checkOptions(opts);
  const label = mangleLabel(opts.label);
  const root = prepareTree(tree, { clamp: (t) => opts.ctx.clamp(t), followSymlinks: opts.followSymlinks ?? false, rootfs: opts.rootfs?.root, labelEntry: label.present });
  const choice = choose(root, opts.sizeBytes, opts.sectorBytes);
  if (!choice.ok) {
    if (choice.reason === "big") fail("E_FIT", `${opts.sizeBytes} bytes is more than FAT32 can address with ${opts.sectorBytes}-byte sectors (at most about ${(maxVolumeBytes(opts.sectorBytes) / 2 ** 40).toFixed(1)} TiB); make the partition smaller`, "fat32");
    const min = minimumFor(root, opts.sectorBytes);
    const why = choice.reason === "full" ? "the files and directories do not fit" : `FAT32 needs at least ${MIN_CLUSTERS_FAT32} clusters`;
    fail("E_FIT", `${why} in ${opts.sizeBytes} bytes; the partition needs at least ${min} bytes (${(min / 1048576).toFixed(1)} MiB)`, "fat32");
  }
  const g = choice.geometry;
  const allocs = allocate(root, g.clusterBytes);
  const params = {
    geometry: g,
    volumeId: opts.volumeId,
    label11: label.bytes,
    labelEntry: label.present,
    hiddenSectors: opts.hiddenSectors ?? 0,
    fsTimeSec: opts.ctx.fsTimeSec,
  };
  return {
    sizeBytes: opts.sizeBytes,
    extents: () => volumeExtents(root, allocs, params),
  };
}

export { fatLabelProblem } from "./names.js";
export { defaultClusterBytes, layout } from "./geometry.js";
export type { Geometry } from "./geometry.js";
