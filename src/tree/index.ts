/** A rootfs is a directory or a tar archive (plain or gzip). */
import { statSync } from "node:fs";
import { MkdiskError } from "../bin/errors.js";
import { scanTree, type ScanOptions } from "./scan.js";
import { scanTar } from "./tar.js";
import type { Tree } from "./types.js";

export interface ScannedRootfs {
  readonly tree: Tree;
  /** Releases temporary files (an inflated tar.gz); call when the build is over. */
  cleanup(): void;
}

export function scanRootfs(path: string, opts: ScanOptions = {}): ScannedRootfs {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new MkdiskError("E_TREE", `cannot read the rootfs: ${(e as Error).message}`, path);
  }
  if (st.isDirectory()) return { tree: scanTree(path, opts), cleanup: () => {} };
  const t = scanTar(path, opts);
  return { tree: t, cleanup: () => t.cleanup() };
}

export { scanTree, scanTar };
export type { Tree, TreeNode } from "./types.js";
