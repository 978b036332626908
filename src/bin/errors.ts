/**
 * Every error mkdisk raises on purpose is a MkdiskError: a stable `code`, a
 * human message saying what, where and how to fix it, and an optional place
 * (a JSON path in the layout, a path in the tree, a structure field and offset).
 * The CLI prints `message` and exits with the code's exit status; it never
 * prints a stack trace for a MkdiskError.
 */
export type ErrorCode =
  | "E_LAYOUT" // layout.json is malformed or a field is invalid
  | "E_USAGE" // bad command-line usage
  | "E_TREE" // the source tree cannot be read or holds something the target cannot hold
  | "E_FIT" // content does not fit its partition or the disk
  | "E_OUTPUT" // output path problems (exists, cannot write)
  | "E_UNSUPPORTED" // a feature that is not implemented
  | "E_FORMAT" // a structure violates its own rules (encoder guard)
  | "E_IMAGE" // an input image is malformed
  | "E_INTERNAL";

export class MkdiskError extends Error {
  readonly code: ErrorCode;
  /** Where: a JSON path (`partitions[2].size`), a tree path, or `Struct.field at 0x..`. */
  readonly where: string | undefined;
  constructor(code: ErrorCode, message: string, where?: string) {
    super(where ? `${where}: ${message}` : message);
    this.name = "MkdiskError";
    this.code = code;
    this.where = where;
  }
}

export function fail(code: ErrorCode, message: string, where?: string): never {
  throw new MkdiskError(code, message, where);
}
