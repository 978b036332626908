/** mkdisk as a library. See README.md ("Library API"). */
export { buildDisk, makeContext, type BuildOptions, type BuildResult, type OutputRequest } from "./build.js";
export { parseLayout, type Layout, type PartitionSpec, type OutputSpec } from "./layout/schema.js";
export { planDisk, type DiskPlan, type PlannedPartition } from "./layout/plan.js";
export { BuildContext, deriveUuid } from "./context/index.js";
export { copyNode, scanTree } from "./tree/scan.js";
export type { Tree, TreeNode } from "./tree/types.js";
export type { Extent, PlannedRegion } from "./io/extent.js";
export type { ImageSink } from "./io/sink.js";
export { pump } from "./io/pump.js";
export { RawSink } from "./io/raw.js";
export { MkdiskError, type ErrorCode } from "./bin/errors.js";
export { formatUuid, parseUuid } from "./bin/guid.js";
