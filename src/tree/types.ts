/**
 * The Tree: a root filesystem as mkdisk sees it. Children are sorted by
 * byte-wise name (memcmp order); nothing depends on readdir order, host inode
 * numbers or the source filesystem. Contents are never loaded: a file is its
 * source path and length.
 */
import type { Timestamp } from "../context/index.js";

export type NodeType = "file" | "dir" | "symlink" | "chardev" | "blockdev" | "fifo" | "socket";

export interface TreeNode {
  /**
   * File name as bytes ("" for a root). On a scanned node a prototype getter
   * (a new view on each read; object spread does not copy it, see sourcePath).
   */
  readonly name: Uint8Array;
  /** Display path inside the tree ("/" for the root, "/etc/passwd"), UTF-8 decoded. */
  readonly path: string;
  /**
   * Where copyFiles moved a node (a partition's tree), its path in the
   * scanned tree; "" for a directory copyFiles made up; undefined when `path`
   * already is that path.
   */
  readonly treePath?: string;
  /**
   * Where the content and metadata come from on the host. On a scanned node
   * this is a prototype getter (each read builds a new Buffer), which object
   * spread does not copy: copy nodes with `copyNode` (scan.ts), not `{ ...n }`.
   */
  readonly sourcePath: Buffer;
  /**
   * Where a regular file's bytes start inside `sourcePath` (0 for a file in a
   * directory tree; the member's data offset for a tar archive).
   */
  readonly contentOffsetBytes?: number;
  readonly type: NodeType;
  /** Permission bits including setuid, setgid and sticky (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Length of a regular file; 0 otherwise. */
  readonly sizeBytes: number;
  /** As found in the source, not clamped (the BuildContext clamps). */
  readonly mtime: Timestamp;
  /** Symlink target bytes. */
  readonly linkTarget?: Uint8Array;
  /** Device numbers for chardev/blockdev. */
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
  /**
   * Non-directories that are hard links of each other share a group number
   * (numbered in sorted-path order of their first member); undefined when the
   * node has a single link inside the tree.
   */
  hardlinkGroup?: number;
  /**
   * A scanned non-empty regular file's place among those of its scan (0, 1,
   * …, in scan order; a hard-linked file's first name only). Copies keep it
   * (they read the same bytes), so reads started during the scan are found
   * again from a partition's copy (io/holes.ts).
   */
  readonly scanIndex?: number;
  /** Extended attributes, sorted by name bytes (full names: "user.x", "security.capability"). */
  readonly xattrs?: readonly Xattr[];
  /** Directories: children sorted by byte-wise name. */
  readonly children?: TreeNode[];
}

/** A TreeNode whose fields can be assigned (copies being built or edited). */
export type MutableTreeNode = { -readonly [K in keyof TreeNode]: TreeNode[K] };

export interface Xattr {
  readonly name: string;
  readonly value: Uint8Array;
}

/** The file range holding a regular file's content. */
export function contentOf(n: TreeNode): { path: Buffer; fileOffsetBytes: number } {
  return { path: n.sourcePath, fileOffsetBytes: n.contentOffsetBytes ?? 0 };
}

export interface Tree {
  readonly root: TreeNode;
  /** Number of nodes including the root. */
  readonly nodeCount: number;
}
