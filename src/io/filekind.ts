/** What a path is, for error messages ("the rootfs is a FIFO (a pipe)"). */
import type { Stats } from "node:fs";
import { MkdiskError } from "../bin/errors.js";

export function kindOf(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (a pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a file";
}

/** A rootfs file that could not be opened for its content: why, and what to do. */
export function openFailure(e: NodeJS.ErrnoException, path: string | Buffer): MkdiskError {
  const why =
    e.code === "ENOENT" ? "it was removed or renamed after the rootfs was scanned (is something changing the tree during the build?)"
    : e.code === "EACCES" || e.code === "EPERM" ? `${e.message}; check its permissions`
    : e.message;
  return new MkdiskError("E_TREE", `cannot open for reading: ${why}`, String(path));
}
