/**
 * The filesystem planners a partition's `format` selects. Each returns a
 * PlannedRegion (size + lazily generated extents) and can say how small a
 * partition may be for a given tree.
 */
import { fail } from "../bin/errors.js";
import type { Uuid } from "../bin/guid.js";
import type { BuildContext } from "../context/index.js";
import type { PlannedRegion } from "../io/extent.js";
import { planSwap, SWAP_MIN_PAGES, SWAP_PAGE_BYTES } from "../swap/index.js";
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
}

export interface FsDriver {
  plan(req: FsRequest): PlannedRegion;
  minimumBytes(tree: Tree | undefined, sectorBytes: number, where: string): number;
}

const swap: FsDriver = {
  plan: (r) => planSwap({ sizeBytes: r.sizeBytes, uuid: r.fsUuid, label: r.label }, r.where),
  minimumBytes: () => SWAP_MIN_PAGES * SWAP_PAGE_BYTES,
};

const notYet = (name: string): FsDriver => ({
  plan: (r) => fail("E_UNSUPPORTED", `format "${name}" is not supported yet`, r.where),
  minimumBytes: (_t, _s, where) => fail("E_UNSUPPORTED", `format "${name}" is not supported yet`, where),
});

export const FS_DRIVERS: Record<FsFormat, FsDriver> = {
  swap,
  vfat: notYet("vfat"),
  ext4: notYet("ext4"),
};
