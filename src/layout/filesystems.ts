/**
 * The filesystem planners a partition's `format` selects. Each returns a
 * PlannedRegion (size + lazily generated extents) and can say how small a
 * partition may be for a given tree.
 */
import type { Uuid } from "../bin/guid.js";
import type { BuildContext } from "../context/index.js";
import type { PlannedRegion } from "../io/extent.js";
import { planSwap, SWAP_MIN_PAGES, SWAP_PAGE_BYTES } from "../swap/index.js";
import { fat32MinimumSizeBytes, fatLabelProblem, planFat32 } from "../fat32/index.js";
import { fail } from "../bin/errors.js";
import { ext4Fits, ext4MinimumSizeBytes, planExt4, type ReadDataRuns } from "../ext4/index.js";
import type { Tree } from "../tree/types.js";
import type { FsFormat } from "./schema.js";

export interface FsRequest {
  readonly format: FsFormat;
  readonly tree: Tree | undefined;
  readonly sizeBytes: number;
  readonly sectorBytes: number;
  readonly startLba: number;
  readonly fsUuid: Uuid;
  readonly label: string;
  readonly ctx: BuildContext;
  readonly where: string;
  /** Content-based hole detection for ext4 (a Node adapter injected by the caller). */
  readonly readDataRuns?: ReadDataRuns;
  readonly followSymlinks?: boolean;
  /** The whole scanned tree, in which vfat resolves the symlinks it follows. */
  readonly rootfs?: Tree;
  /** The size was computed by the layout, not fixed by the user: the file system may end short of it where it cannot fill it (ext4 just past a journal step). */
  readonly shrinkToFit?: boolean;
}

export interface FsMinRequest {
  readonly tree: Tree | undefined;
  readonly sectorBytes: number;
  readonly fsUuid: Uuid;
  readonly label: string;
  readonly where: string;
  readonly readDataRuns?: ReadDataRuns;
  readonly followSymlinks?: boolean;
  readonly rootfs?: Tree;
}

export interface FsDriver {
  plan(req: FsRequest): PlannedRegion;
  /** Whether the content fits `req.sizeBytes`, where cheaper than a plan that may fail. */
  fits?(req: FsRequest): boolean;
  minimumBytes(req: FsMinRequest): number;
}

/** FAT volume id: the first 4 bytes of the filesystem UUID read as a hex number (repart's rule). */
export function fatVolumeId(fsUuid: Uuid): number {
  return ((fsUuid[0] << 24) | (fsUuid[1] << 16) | (fsUuid[2] << 8) | fsUuid[3]) >>> 0;
}

const EMPTY: Tree = {
  root: { name: new Uint8Array(0), path: "/", sourcePath: Buffer.alloc(0), type: "dir", mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children: [] },
  nodeCount: 1,
};

/** An ext4 or swap label: at most 16 bytes, refused with the layout's location and the fix. */
function shortLabel(kind: string, r: { label?: string; where: string }): string | undefined {
  const n = Buffer.byteLength(r.label ?? "");
  if (n > 16) fail("E_LAYOUT", `${kind} labels hold at most 16 bytes, "${r.label}" is ${n}; set "fsLabel" (it defaults to the partition's label) to a shorter one`, `${r.where}.fsLabel`);
  return r.label;
}

const swap: FsDriver = {
  plan: (r) => planSwap({ sizeBytes: r.sizeBytes, uuid: r.fsUuid, label: shortLabel("swap", r) }, r.where),
  minimumBytes: () => SWAP_MIN_PAGES * SWAP_PAGE_BYTES,
};

/** The label a vfat partition gets, refused here (with the layout's location) when FAT cannot hold it. */
function fatLabel(r: { label?: string; where: string }): string | undefined {
  const problem = fatLabelProblem(r.label);
  if (problem) fail("E_LAYOUT", `${problem}; set "fsLabel" (it defaults to the partition's label) without the leading space`, `${r.where}.fsLabel`);
  return r.label;
}

const vfat: FsDriver = {
  plan: (r) =>
    planFat32(r.tree ?? EMPTY, {
      sizeBytes: r.sizeBytes,
      sectorBytes: r.sectorBytes as 512 | 4096,
      volumeId: fatVolumeId(r.fsUuid),
      label: fatLabel(r),
      ctx: r.ctx,
      hiddenSectors: r.startLba,
      followSymlinks: r.followSymlinks,
      rootfs: r.rootfs,
    }),
  minimumBytes: (r) => fat32MinimumSizeBytes(r.tree ?? EMPTY, r.sectorBytes as 512 | 4096, { label: fatLabel(r), followSymlinks: r.followSymlinks, rootfs: r.rootfs }),
};

const ext4: FsDriver = {
  plan: (r) => planExt4(r.tree ?? EMPTY, { sizeBytes: r.sizeBytes, uuid: r.fsUuid, label: shortLabel("ext4", r), ctx: r.ctx, readDataRuns: r.readDataRuns, shrinkToFit: r.shrinkToFit }),
  fits: (r) => ext4Fits(r.tree ?? EMPTY, r.sizeBytes, { uuid: r.fsUuid, readDataRuns: r.readDataRuns }),
  minimumBytes: (r) => ext4MinimumSizeBytes(r.tree ?? EMPTY, { uuid: r.fsUuid, readDataRuns: r.readDataRuns }),
};

export const FS_DRIVERS: Record<FsFormat, FsDriver> = { swap, vfat, ext4 };
