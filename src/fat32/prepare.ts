/**
 * Tree -> FAT directory plan (independent of the cluster size): validates
 * every name and node, picks each entry's short name and case bits, counts
 * directory entries. Everything that can be wrong with the input is found
 * here, before any byte is written.
 */
import { fail } from "../bin/errors.js";
import type { Timestamp } from "../context/index.js";
import type { Tree, TreeNode } from "../tree/types.js";
import { DIRENT_BYTES, LFN_UNITS_PER_ENTRY } from "./dirent.js";
import {
  MAX_TAIL,
  basisName,
  caseOnlyShortName,
  decodeName,
  exactShortName,
  foldName,
  tailedShortName,
  validateLongName,
} from "./names.js";

/** Largest FAT file: DIR_FileSize is 32 bits. */
export const MAX_FILE_BYTES = 0xffffffff;
/** The Linux vfat driver refuses directories with more entries (FAT_MAX_DIR_ENTRIES). */
export const MAX_DIR_ENTRIES = 65536;
/** Symlink hops followed before giving up (Linux's MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

export interface FatNode {
  /** Display path in the tree (the link's path when a symlink was followed). */
  readonly path: string;
  readonly kind: "file" | "dir";
  /** Long name as text. */
  readonly name: string;
  /** DIR_Name, 11 bytes. */
  short: Uint8Array;
  /** DIR_NTRes case bits. */
  ntRes: number;
  /** Long-name entries needed (0 when the short entry holds the name exactly). */
  lfnEntries: number;
  /** Clamped modification time. */
  readonly mtime: Timestamp;
  readonly sizeBytes: number;
  readonly sourcePath: Buffer;
  /** Where the file's bytes start in sourcePath (non-zero for tar members). */
  readonly contentOffsetBytes: number;
  /** Directories: children in byte-wise order of their source names. */
  readonly children?: FatNode[];
  /** Directories: 32-byte slots used (".", "..", label, long-name and short entries). */
  slots: number;
}

export interface PrepareOptions {
  /** BuildContext.clamp */
  clamp: (t: Timestamp) => Timestamp;
  followSymlinks: boolean;
  /**
   * The scanned tree's root, where followed links resolve: an absolute target
   * from its root, a relative one from the link's directory there, so a link
   * may lead anywhere in the rootfs, also outside what the partition copies
   * (never outside the rootfs). Default: the partition's own tree.
   */
  rootfs?: TreeNode;
  /** A volume-label entry goes in the root directory. */
  labelEntry: boolean;
}

const bytesEq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const key11 = (n: Uint8Array) => String.fromCharCode(...n);

/**
 * Resolves a symlink, returning the target node and its ancestor chain.
 * `chain` is the link's directory and its ancestors, from the root the link
 * resolves in; `within` names that root in errors.
 */
function resolveLink(link: TreeNode, chain: readonly TreeNode[], hops: number, within: string): { node: TreeNode; chain: TreeNode[] } {
  if (hops > MAX_SYMLINK_HOPS) fail("E_TREE", `too many levels of symbolic links`, link.path);
  const target = link.linkTarget ?? new Uint8Array(0);
  const text = decodeName(target, link.path);
  let cur: TreeNode[] = text.startsWith("/") ? [chain[0]] : [...chain];
  const comps = text.split("/");
  for (let i = 0; i < comps.length; i++) {
    const c = comps[i];
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (cur.length === 1) fail("E_TREE", `symlink target "${text}" points outside ${within}; FAT cannot hold symlinks, so only links inside it can be followed`, link.path);
      cur.pop();
      continue;
    }
    const dir = cur[cur.length - 1];
    const enc = new TextEncoder().encode(c);
    let child = dir.children?.find((k) => bytesEq(k.name, enc));
    if (!child) fail("E_TREE", `symlink target "${text}" does not exist in ${within}`, link.path);
    let childChain = [...cur, child];
    if (child.type === "symlink") {
      const r = resolveLink(child, cur, hops + 1, within);
      child = r.node;
      childChain = r.chain;
    }
    // Anything after a non-directory, even a trailing slash, is ENOTDIR.
    if (i < comps.length - 1 && child.type !== "dir") {
      fail("E_TREE", `symlink target "${text}": ${child.path} is not a directory`, link.path);
    }
    cur = childChain;
  }
  return { node: cur[cur.length - 1], chain: cur };
}

/** The chain of directories from `root` down to the one holding the node at `path` in that tree. */
function parentChain(root: TreeNode, path: string): TreeNode[] | undefined {
  const chain = [root];
  const comps = path.split("/").filter((c) => c);
  for (const c of comps.slice(0, -1)) {
    const enc = new TextEncoder().encode(c);
    const next = chain[chain.length - 1].children?.find((k) => bytesEq(k.name, enc));
    if (!next || next.type !== "dir") return undefined;
    chain.push(next);
  }
  return chain;
}

/** A directory's identity for loop detection: its path in the scanned tree ("" for one copyFiles made up). */
const treeKey = (n: TreeNode) => n.treePath ?? n.path;

export function prepareTree(tree: Tree, opts: PrepareOptions): FatNode {
  /**
   * `chain`: real ancestors of `n` in the tree (for resolving relative links);
   * `open`: directories being visited (a followed link back into one is a loop).
   */
  const visit = (n: TreeNode, name: string, path: string, chain: readonly TreeNode[], open: Set<string>, isRoot: boolean): FatNode => {
    let src = n;
    let srcChain = [...chain, n];
    if (n.type === "symlink") {
      if (!opts.followSymlinks) fail("E_TREE", `is a symlink; FAT cannot hold symlinks (leave it out with the partition's "excludeFiles", which takes its path in the rootfs rather than this path in the partition, or set "followSymlinks": true to copy what it points to from the rootfs)`, path);
      // Resolve where the link lives in the rootfs; links reached through a followed
      // directory already have their rootfs chain.
      const inRootfs = opts.rootfs && chain[0] !== opts.rootfs ? parentChain(opts.rootfs, treeKey(n)) : undefined;
      const r = inRootfs ? resolveLink(n, inRootfs, 0, "the rootfs") : resolveLink(n, chain, 0, opts.rootfs ? "the rootfs" : "the copied tree");
      src = r.node;
      srcChain = r.chain;
      if (open.has(treeKey(src))) fail("E_TREE", `symlink leads back to ${treeKey(src)}, an enclosing directory: following it would never end`, path);
    }
    if (src.type !== "file" && src.type !== "dir") {
      const inRootfs = treeKey(src);
      fail("E_TREE", `is a ${src.type}; FAT holds only regular files and directories (leave it out with the partition's "excludeFiles", which takes its path in the rootfs${inRootfs ? `: "${inRootfs}"` : ""})`, path);
    }
    if (src.type === "file" && src.sizeBytes > MAX_FILE_BYTES) {
      fail("E_TREE", `is ${src.sizeBytes} bytes; a FAT file holds at most ${MAX_FILE_BYTES} bytes (4 GiB - 1)`, path);
    }
    const base = {
      path,
      name,
      short: new Uint8Array(11),
      ntRes: 0,
      lfnEntries: 0,
      mtime: opts.clamp(src.mtime),
      sourcePath: src.sourcePath,
      contentOffsetBytes: src.contentOffsetBytes ?? 0,
      slots: 0,
    };
    if (src.type === "file") return { ...base, kind: "file", sizeBytes: src.sizeBytes };
    const key = treeKey(src);
    if (key !== "") open.add(key);
    const kids = (src.children ?? []).map((c) => {
      const cname = decodeName(c.name, (path === "/" ? "" : path) + "/" + new TextDecoder().decode(c.name));
      const cpath = (path === "/" ? "" : path) + "/" + cname;
      validateLongName(cname, cpath);
      return visit(c, cname, cpath, srcChain, open, false);
    });
    if (key !== "") open.delete(key);
    const dir: FatNode = { ...base, kind: "dir", sizeBytes: 0, children: kids };
    assignShortNames(dir);
    dir.slots = (isRoot ? (opts.labelEntry ? 1 : 0) : 2) + kids.reduce((s, k) => s + k.lfnEntries + 1, 0);
    if (dir.slots > MAX_DIR_ENTRIES) {
      fail("E_TREE", `directory needs ${dir.slots} 32-byte entries; FAT drivers accept at most ${MAX_DIR_ENTRIES} (long names take 1 + ceil(length/13) each): split it`, path);
    }
    return dir;
  };
  return visit(tree.root, "", "/", [], new Set(), true);
}

/**
 * Picks short names in one directory, deterministically:
 * 1. names differing only in case are an error (FAT lookups ignore case);
 * 2. names with the 8.3 shape (ignoring case) keep it, upper-cased: exact
 *    upper/lower ones with case bits and no long name, mixed-case ones with a
 *    long name; these are reserved first, so a generated name never takes one;
 * 3. every other name, in byte-wise order, gets basis~N with the smallest
 *    N >= 1 not yet used (fatgen103 §7 numeric tails), plus a long name.
 */
function assignShortNames(dir: FatNode): void {
  const kids = dir.children!;
  const folded = new Map<string, FatNode>();
  for (const k of kids) {
    const f = foldName(k.name);
    const other = folded.get(f);
    if (other) fail("E_TREE", `"${other.name}" and "${k.name}" differ only in case; FAT is case-insensitive, rename one`, k.path);
    folded.set(f, k);
  }
  const used = new Set<string>();
  const pending: FatNode[] = [];
  const lfnFor = (k: FatNode) => Math.ceil(k.name.length / LFN_UNITS_PER_ENTRY);
  for (const k of kids) {
    const exact = exactShortName(k.name);
    if (exact) {
      k.short = exact.name11;
      k.ntRes = exact.ntRes;
      k.lfnEntries = 0;
      used.add(key11(k.short));
      continue;
    }
    const caseOnly = caseOnlyShortName(k.name);
    if (caseOnly) {
      k.short = caseOnly;
      k.lfnEntries = lfnFor(k);
      used.add(key11(k.short));
      continue;
    }
    pending.push(k);
  }
  // Per basis, every tail below the last one handed out is taken (`used` only
  // grows), so the search resumes there: same result as starting from ~1.
  const cursor = new Map<string, number>();
  for (const k of pending) {
    const basis = basisName(k.name);
    const bkey = basis.base + "." + basis.ext;
    let n = cursor.get(bkey) ?? 1;
    for (; n <= MAX_TAIL; n++) {
      const cand = tailedShortName(basis, n);
      if (!used.has(key11(cand))) {
        k.short = cand;
        break;
      }
    }
    cursor.set(bkey, n);
    if (n > MAX_TAIL) fail("E_TREE", `no free short name left for this name (all ${MAX_TAIL} numeric tails used)`, k.path);
    k.lfnEntries = lfnFor(k);
    used.add(key11(k.short));
  }
}

/** Bytes a directory's entries take. */
export const dirBytes = (d: FatNode) => d.slots * DIRENT_BYTES;
