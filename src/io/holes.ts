/**
 * Node adapter for content-based hole detection in ext4: a positional read
 * with the last file kept open (files are scanned one after another).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { MkdiskError } from "../bin/errors.js";
import { zeroBlockRuns } from "../ext4/holes.js";
import type { DataRuns, ReadDataRuns } from "../ext4/index.js";
import type { TreeNode } from "../tree/types.js";

export function fileDataRuns(): { readDataRuns: ReadDataRuns; close(): void } {
  let openPath: string | Buffer | undefined;
  let fd = -1;
  const close = () => {
    if (fd >= 0) closeSync(fd);
    fd = -1;
    openPath = undefined;
  };
  const scan = zeroBlockRuns((path, into, off) => {
    if (path !== openPath) {
      close();
      try {
        fd = openSync(path, "r");
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot open for reading: ${(e as Error).message}; check its permissions`, String(path));
      }
      openPath = path;
    }
    return readSync(fd, into, 0, into.length, off);
  });
  // Sizing a partition and planning it ask for the same files: read each once.
  const seen = new WeakMap<TreeNode, DataRuns | "all">();
  const readDataRuns: ReadDataRuns = (node) => {
    let runs = seen.get(node);
    if (!runs) seen.set(node, (runs = scan(node)));
    return runs;
  };
  return { readDataRuns, close };
}
