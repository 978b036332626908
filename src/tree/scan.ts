/**
 * Scans a directory into a Tree: lstat every entry (never following symlinks),
 * sort children byte-wise, group hard links. Unreadable directories or entries
 * are an E_TREE error naming the path.
 *
 * Memory: a tree can hold millions of nodes, so a scanned node keeps only what
 * it must. It does not store its host path: `sourcePath` is a getter joining
 * the parent directory's path (one Buffer shared by all siblings) with the
 * name. Its name is a view made on demand into the directory's packed names
 * (a view kept per node would cost 96 bytes). Equal mtimes share one (frozen)
 * Timestamp, and display paths are flat strings rather than concatenation
 * trees. About 250 bytes a node in all.
 */
import { constants, lstatSync, readdirSync, readlinkSync, type BigIntStats } from "node:fs";
import { MkdiskError, fail } from "../bin/errors.js";
import { utf8Decode } from "../bin/text.js";
import type { Timestamp } from "../context/index.js";
import type { MutableTreeNode, NodeType, Tree, TreeNode, Xattr } from "./types.js";
import { xattrReader } from "./xattr.js";

/**
 * A system error's message without the path Node appends ("ENOENT: no such
 * file or directory, lstat '/x'" → "ENOENT: no such file or directory"): the
 * error already names the path, and a path near PATH_MAX would appear twice.
 */
function systemMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code && err.syscall ? err.message.replace(/, \w+ '[\s\S]*'$/, "") : err.message;
}

const SLASH = 0x2f;
const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO } = constants;

/** `dir + "/" + name` in a new Buffer. */
function joinPath(dir: Buffer, name: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(dir.length + 1 + name.length);
  b.set(dir, 0);
  b[dir.length] = SLASH;
  b.set(name, dir.length + 1);
  return b;
}

/**
 * A node of a scanned directory tree. Every instance has the same own
 * properties in the same order (plus the optional ones, added after
 * construction as for any node), so V8 keeps them in a few fast shapes.
 *
 * `name` and `sourcePath` live on the prototype and the fields behind them are
 * private: object spread copies none of them. Copy nodes with `copyNode`, never with `{ ...node }`.
 */
export class ScannedNode implements TreeNode {
  /** The parent directory's host path (the root: its own path). Shared by all siblings. */
  readonly #dir: Buffer;
  /** The parent directory's names, packed (shared by all siblings), and where this one is: offset * 256 + length. */
  readonly #names: Uint8Array;
  readonly #nameAt: number;
  declare readonly path: string;
  declare readonly type: NodeType;
  declare mode: number;
  declare uid: number;
  declare gid: number;
  declare readonly sizeBytes: number;
  declare mtime: Timestamp;
  declare linkTarget?: Uint8Array;
  declare rdevMajor?: number;
  declare rdevMinor?: number;
  declare hardlinkGroup?: number;
  declare scanIndex?: number;
  declare xattrs?: readonly Xattr[];
  declare children?: TreeNode[];

  constructor(dir: Buffer, names: Uint8Array, nameAt: number, path: string, type: NodeType, mode: number, uid: number, gid: number, sizeBytes: number, mtime: Timestamp) {
    this.#dir = dir;
    this.#names = names;
    this.#nameAt = nameAt;
    this.path = path;
    this.type = type;
    this.mode = mode;
    this.uid = uid;
    this.gid = gid;
    this.sizeBytes = sizeBytes;
    this.mtime = mtime;
  }

  /** A view of the packed names, made on each read (a view kept per node would cost 96 bytes). */
  get name(): Uint8Array {
    const at = Math.floor(this.#nameAt / 256);
    return this.#names.subarray(at, at + (this.#nameAt % 256));
  }

  /** A new Buffer on each read (the root's is its scan path, shared). */
  get sourcePath(): Buffer {
    return this.#nameAt % 256 === 0 ? this.#dir : joinPath(this.#dir, this.name);
  }

  /** See `copyNode`. */
  static copy(n: TreeNode, overrides?: Partial<MutableTreeNode>): MutableTreeNode {
    if (#dir in n && !(overrides && ("name" in overrides || "sourcePath" in overrides))) {
      // Still a ScannedNode: the copy computes the same source path, stores none.
      const c = new ScannedNode(n.#dir, n.#names, n.#nameAt, n.path, n.type, n.mode, n.uid, n.gid, n.sizeBytes, n.mtime);
      return Object.assign(c, n, overrides) as MutableTreeNode;
    }
    // The leading keys keep the usual property order (name, path, sourcePath, ...).
    const out = { name: n.name, path: n.path, sourcePath: n.sourcePath, ...(n as object) } as MutableTreeNode;
    return overrides ? Object.assign(out, overrides) : out;
  }
}

/**
 * A mutable copy of `n` with `overrides` applied, keeping its `sourcePath`.
 * Use this, not `{ ...n, ... }`: a scanned node's `sourcePath` is a prototype
 * getter, which object spread drops. The source path is taken before the
 * overrides apply, so a copy given another `name` still reads the original
 * file. A scanned node not renamed stays a ScannedNode (no stored path).
 */
export function copyNode(n: TreeNode, overrides?: Partial<MutableTreeNode>): MutableTreeNode {
  return ScannedNode.copy(n, overrides);
}

/**
 * The node type from st_mode, read once as a number (each BigIntStats isX()
 * call does BigInt arithmetic, and a scan asks for every entry).
 */
function typeOf(st: BigIntStats): NodeType {
  switch (Number(st.mode) & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "chardev";
    case S_IFBLK: return "blockdev";
    case S_IFIFO: return "fifo";
    default: return "socket";
  }
}

function lstat(p: Buffer, display: string): BigIntStats {
  try {
    return lstatSync(p, { bigint: true });
  } catch (e) {
    throw new MkdiskError("E_TREE", `cannot stat: ${systemMessage(e)}`, display);
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
  /**
   * Told of each non-empty regular file as the scan finds it (of a hard-linked
   * file, its first name only), in scan order (its `scanIndex` is set: 0, 1,
   * …), with its host path (valid only during the call), so its bytes can be
   * read while the scan goes on (io/holes.ts). Directory trees only.
   */
  readonly onFile?: (node: TreeNode, hostPath: Buffer) => void;
}

/** How many distinct mtimes are remembered for sharing (the cache starts over when full). */
const TIME_CACHE_ENTRIES = 4096;
const ARENA_BYTES = 64 << 10;

/**
 * Space for bytes the tree keeps (names, directory paths), handed out from
 * slabs of its own. In Buffer's shared pool they would sit among the scan's
 * short-lived buffers and keep those slabs alive.
 */
function arena(): (length: number) => Buffer {
  let slab = Buffer.alloc(0);
  let used = 0;
  return (length) => {
    if (used + length > slab.length) {
      slab = Buffer.alloc(Math.max(ARENA_BYTES, length));
      used = 0;
    }
    return slab.subarray(used, (used += length));
  };
}

export function scanTree(rootDir: string, opts: ScanOptions = {}): Tree {
  const asRoot = opts.ownership === "root";
  const xr = opts.xattrs === false ? undefined : xattrReader(opts.onWarning ?? (() => {}));
  const rootBuf = Buffer.from(rootDir);
  const st = lstat(rootBuf, rootDir);
  if (!st.isDirectory()) fail("E_TREE", `not a directory`, rootDir);
  const links = new Map<string, ScannedNode[]>();
  const keep = arena();
  let count = 0;
  let files = 0;

  // Files unpacked together share their mtime: share the object too. Frozen,
  // since it is no longer one node's own.
  const times = new Map<bigint, Timestamp>();
  const timestamp = (ns: bigint): Timestamp => {
    let t = times.get(ns);
    if (t === undefined) {
      let sec = Number(ns / 1_000_000_000n);
      let nsec = Number(ns % 1_000_000_000n);
      if (nsec < 0) {
        // Pre-1970 times: keep nsec non-negative.
        sec -= 1;
        nsec += 1_000_000_000;
      }
      t = Object.freeze({ sec, nsec });
      if (times.size >= TIME_CACHE_ENTRIES) times.clear();
      times.set(ns, t);
    }
    return t;
  };

  /**
   * `dir` is the parent's host path, `src` this entry's (a directory's is
   * kept; any other's is valid only during this call).
   */
  const make = (dir: Buffer, names: Uint8Array, nameAt: number, path: string, src: Buffer, s: BigIntStats): ScannedNode => {
    count++;
    const type = typeOf(s);
    const node = new ScannedNode(
      dir,
      names,
      nameAt,
      path,
      type,
      Number(s.mode) & 0o7777,
      asRoot ? 0 : Number(s.uid),
      asRoot ? 0 : Number(s.gid),
      type === "file" ? Number(s.size) : 0,
      timestamp(s.mtimeNs),
    );
    if (xr) {
      try {
        const xa = xr.read(src, path);
        if (xa) node.xattrs = xa;
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot read extended attributes: ${systemMessage(e)}`, path);
      }
    }
    if (type === "symlink") {
      try {
        node.linkTarget = new Uint8Array(readlinkSync(src, { encoding: "buffer" }));
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot read symlink: ${systemMessage(e)}`, path);
      }
    }
    if (type === "chardev" || type === "blockdev") {
      node.rdevMajor = devMajor(s.rdev);
      node.rdevMinor = devMinor(s.rdev);
    }
    let otherName = false; // a further name of a file already scanned (a hard link)
    if (type !== "dir" && s.nlink > 1n) {
      const key = `${s.dev}:${s.ino}`;
      let g = links.get(key);
      if (!g) links.set(key, (g = []));
      otherName = g.length > 0;
      g.push(node);
    }
    if (type === "file" && node.sizeBytes > 0 && !otherName) {
      node.scanIndex = files++;
      opts.onFile?.(node, src);
    }
    if (type === "dir") {
      let names: Buffer[];
      try {
        names = readdirSync(src, { encoding: "buffer" });
      } catch (e) {
        throw new MkdiskError("E_TREE", `cannot read directory: ${systemMessage(e)}; check its permissions`, path);
      }
      names.sort(Buffer.compare);
      // One buffer for all the names of a directory; a child keeps where its name is.
      const packed = keep(names.reduce((sum, n) => sum + n.length, 0));
      const nameAt: number[] = [];
      let at = 0;
      for (const n of names) {
        if (n.length > 255) fail("E_TREE", `a name of ${n.length} bytes is longer than any Linux file system allows`, path);
        packed.set(n, at);
        nameAt.push(at * 256 + n.length);
        at += n.length;
      }
      // `src` is kept (the shared `dir` of the children). The children's
      // paths are built in one scratch buffer; only a directory's is copied
      // out to be kept.
      const scratch = Buffer.allocUnsafeSlow(src.length + 1 + names.reduce((m, n) => Math.max(m, n.length), 0));
      scratch.set(src, 0);
      scratch[src.length] = SLASH;
      const prefix = path === "/" ? "/" : path + "/";
      node.children = names.map((n, i) => {
        scratch.set(n, src.length + 1);
        let childSrc: Buffer = scratch.subarray(0, src.length + 1 + n.length);
        // join() gives a flat string; `prefix + name` would keep a concatenation tree per node.
        const childPath = [prefix, utf8Decode(n)].join("");
        const s = lstat(childSrc, childPath);
        if (typeOf(s) === "dir") {
          const kept = keep(childSrc.length);
          kept.set(childSrc, 0);
          childSrc = kept;
        }
        return make(src, packed, nameAt[i], childPath, childSrc, s);
      });
    }
    return node;
  };

  const root = make(rootBuf, new Uint8Array(0), 0, "/", rootBuf, st);
  // Number hard-link groups in sorted-path order of their first member. The
  // scan visits entries depth-first in sorted order, so groups were first
  // seen, and inserted into `links`, in exactly that order.
  let group = 0;
  for (const g of links.values()) {
    if (g.length < 2) continue;
    for (const n of g) n.hardlinkGroup = group;
    group++;
  }
  return { root, nodeCount: count };
}
