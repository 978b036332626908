/** A rootfs is a directory or a tar archive (plain or gzip). */
import { statSync } from "node:fs";
import { MkdiskError, fail } from "../bin/errors.js";
import { kindOf } from "../io/filekind.js";
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
  if (!st.isFile()) {
    // A pipe (e.g. --rootfs <(tar c …)) would block or fail at the first seek: a tar is read in place, by offset.
    fail("E_TREE", `the rootfs is ${kindOf(st)}; give a directory or a tar file (a tar is read in place, by offset, so an archive from a pipe must be saved to a file first)`, path);
  }
  const t = scanTar(path, opts);
  return { tree: t, cleanup: () => t.cleanup() };
}

export { scanTree, scanTar };
export type { Tree, TreeNode } from "./types.js";
