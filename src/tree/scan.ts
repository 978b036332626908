/**
 * Scans a directory into a Tree: lstat every entry (never following symlinks),
 * sort children byte-wise, group hard links. Unreadable directories or entries
 * are an E_TREE error naming the path.
 */
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from "node:fs";
import { MkdiskError, fail } from "../bin/errors.js";
import { utf8Decode } from "../bin/text.js";
import type { NodeType, Tree, TreeNode } from "./types.js";
import { xattrReader } from "./xattr.js";

const SLASH = Buffer.from("/");

function typeOf(st: BigIntStats): NodeType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "chardev";
  if (st.isBlockDevice()) return "blockdev";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

function lstat(p: Buffer, display: string): BigIntStats {
  try {
    return lstatSync(p, { bigint: true });
  } catch (e) {
    throw new MkdiskError("E_TREE", `cannot stat: ${(e as Error).message}`, display);
  }
}

/** Linux dev_t split (glibc's gnu_dev_major/minor). */
function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

export interface ScanOptions {
  /**
   * "preserve" keeps uid/gid as found; "root" makes every entry 0:0 (what an
   * unprivileged build wants). Modes are kept either way.
   */
  readonly ownership?: "preserve" | "root";
  /** Non-fatal problems (xattrs that cannot be read); default: ignored. */
  readonly onWarning?: (message: string) => void;
  /** Read extended attributes (default true). */
  readonly xattrs?: boolean;
}

export function scanTree(rootDir: string, opts: ScanOptions = {}): Tree {
  const asRoot = opts.ownership === "root";
  const xr = opts.xattrs === false ? undefined : xattrReader(opts.onWarning ?? (() => {}));
  const rootBuf = Buffer.from(rootDir);
  const st = lstat(rootBuf, rootDir);
  if (!st.isDirectory()) fail("E_TREE", `not a directory`, rootDir);
  const links = new Map<string, TreeNode[]>();
  let count = 0;

  const make = (name: Uint8Array, path: string, src: Buffer, s: BigIntStats): TreeNode => {
    count++;
    const type = typeOf(s);
    const node: {
      -readonly [K in keyof TreeNode]: TreeNode[K];
    } = {
      name,
      path,
      sourcePath: src,
      type,
      mode: Number(s.mode & 0o7777n),
      uid: asRoot ? 0 : Number(s.uid),
      gid: asRoot ? 0 : Number(s.gid),
      sizeBytes: type === "file" ? Number(s.size) : 0,
      mtime: { sec: Number(s.mtimeNs / 1_000_000_000n), nsec: Number(s.mtimeNs % 1_000_000_000n) },
    };
    if (node.mtime.nsec < 0) {
      // Pre-1970 times: keep nsec non-negative.
      node.mtime = { sec: node.mtime.sec - 1, nsec: node.mtime.nsec + 1_000_000_000 };
    }
    if (xr) {
      try {
        const xa = xr.read(src, path);
        if (xa) node.xattrs = xa;
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot read extended attributes: ${(e as Error).message}`, path);
      }
    }
    if (type === "symlink") {
      try {
        node.linkTarget = new Uint8Array(readlinkSync(src, { encoding: "buffer" }));
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot read symlink: ${(e as Error).message}`, path);
      }
    }
    if (type === "chardev" || type === "blockdev") {
      node.rdevMajor = devMajor(s.rdev);
      node.rdevMinor = devMinor(s.rdev);
    }
    if (type !== "dir" && s.nlink > 1n) {
      const key = `${s.dev}:${s.ino}`;
      let g = links.get(key);
      if (!g) links.set(key, (g = []));
      g.push(node as TreeNode);
    }
    if (type === "dir") {
      let names: Buffer[];
      try {
        names = readdirSync(src, { encoding: "buffer" });
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot read directory: ${(e as Error).message}; check its permissions`, path);
      }
      names.sort(Buffer.compare);
      // One buffer for all the names of a directory instead of one allocation each.
      const packed = Buffer.concat(names);
      let at = 0;
      names = names.map((n) => packed.subarray(at, (at += n.length)));
      node.children = names.map((n) => {
        const childSrc = Buffer.concat([src, SLASH, n]);
        const childPath = (path === "/" ? "" : path) + "/" + utf8Decode(n);
        return make(n, childPath, childSrc, lstat(childSrc, childPath));
      });
    }
    return node as TreeNode;
  };

  const root = make(new Uint8Array(0), "/", rootBuf, st);
  // Number hard-link groups in sorted-path order of their first member (a
  // depth-first walk in sorted order visits paths in that order).
  let group = 0;
  const firstSeen = new Map<TreeNode, number>();
  const walk = (n: TreeNode) => {
    if (n.children) for (const c of n.children) walk(c);
    else firstSeen.set(n, firstSeen.size);
  };
  walk(root);
  const groups = [...links.values()].filter((g) => g.length > 1);
  groups.sort((a, b) => firstSeen.get(a[0])! - firstSeen.get(b[0])!);
  for (const g of groups) {
    for (const n of g) n.hardlinkGroup = group;
    group++;
  }
  return { root, nodeCount: count };
}
