/**
 * Node adapter for content-based hole detection in ext4: a positional read
 * with the last file kept open (files are scanned one after another).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { openFailure } from "./filekind.js";
import { zeroBlockRuns } from "../ext4/holes.js";
import type { ReadDataRuns } from "../ext4/index.js";

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
        throw openFailure(e as NodeJS.ErrnoException, path);
      }
      openPath = path;
    }
    return readSync(fd, into, 0, into.length, off);
  });
  // No memo here: the ext4 analysis is cached per tree, so sizing a partition
  // and planning it ask for each file once (a per-node memo cost ~40 bytes a file).
  return { readDataRuns: scan, close };
}
