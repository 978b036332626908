/**
 * Selecting what goes into one partition: repart's CopyFiles= / ExcludeFiles=.
 *
 * `copyFiles` is a list of "SRC:DST" pairs (absolute paths inside the tree;
 * ":DST" omitted means the same path). Every SRC subtree is placed at DST in a
 * new virtual tree; several sources may merge into one directory ("/boot:/"
 * and "/efi:/" both fill the ESP's root). Two sources placing different
 * non-directories at one path is an error.
 *
 * `excludeFiles` names source paths to leave out: "/boot" drops the entry,
 * "/boot/" keeps the directory but drops its contents.
 */
import { fail } from "../bin/errors.js";
import { compareBytes, utf8 } from "../bin/text.js";
import { copyNode } from "./scan.js";
import type { MutableTreeNode as Mutable, Tree, TreeNode } from "./types.js";

export interface CopySpec {
  readonly src: string;
  readonly dst: string;
}

export function parseCopyFiles(entries: readonly string[], where: string): CopySpec[] {
  return entries.map((e, i) => {
    const w = `${where}[${i}]`;
    if (typeof e !== "string") fail("E_LAYOUT", `expected "SRC:DST", got ${JSON.stringify(e)}`, w);
    const idx = e.indexOf(":");
    if (idx >= 0 && e.indexOf(":", idx + 1) >= 0) fail("E_LAYOUT", `expected "SRC:DST" with one ":", got ${JSON.stringify(e)} (a path cannot contain ":" here)`, w);
    const src = idx < 0 ? e : e.slice(0, idx);
    const dst = idx < 0 ? e : e.slice(idx + 1);
    for (const p of [src, dst]) {
      if (!p.startsWith("/")) fail("E_LAYOUT", `paths must be absolute ("/boot:/"), got ${JSON.stringify(e)}`, w);
      if (p.split("/").some((c) => c === ".." || c === ".")) fail("E_LAYOUT", `"." and ".." are not allowed in ${JSON.stringify(e)}`, w);
    }
    return { src: normalize(src), dst: normalize(dst) };
  });
}

function normalize(p: string): string {
  const parts = p.split("/").filter((c) => c.length > 0);
  return "/" + parts.join("/");
}

function lookup(root: TreeNode, path: string): TreeNode | undefined {
  let n: TreeNode | undefined = root;
  for (const c of path.split("/").filter((x) => x)) {
    const name = utf8(c);
    n = n?.children?.find((ch) => compareBytes(ch.name, name) === 0);
    if (!n) return undefined;
  }
  return n;
}

/** Copies `n` minus excluded paths; `srcPath` is n's path in the source tree. */
/**
 * `n` minus excluded paths. Subtrees nothing is excluded from are shared with
 * the source tree, not copied (trees are never modified once built), so a
 * partition holding the whole tree costs no memory of its own.
 */
function prune(n: TreeNode, excludes: Set<string>, contentsOnly: Set<string>): TreeNode | undefined {
  if (excludes.size === 0 && contentsOnly.size === 0) return n;
  if (excludes.has(n.path)) return undefined;
  if (!n.children) return n;
  if (contentsOnly.has(n.path)) return n.children.length === 0 ? n : copyNode(n, { children: [] });
  let changed = false;
  const kids: TreeNode[] = [];
  for (const c of n.children) {
    const k = prune(c, excludes, contentsOnly);
    if (k !== c) changed = true;
    if (k) kids.push(k);
  }
  return changed ? copyNode(n, { children: kids }) : n;
}

const decoder = new TextDecoder();

/** Re-roots `n` so that its display paths start at `dstPath` (shared as it is when they already do). */
function rebase(n: TreeNode, dstPath: string): TreeNode {
  if (n.path === dstPath) return n;
  const out = copyNode(n, { path: dstPath, treePath: n.treePath ?? n.path });
  if (n.children) out.children = n.children.map((c) => rebase(c, (dstPath === "/" ? "" : dstPath) + "/" + decoder.decode(c.name)));
  return out;
}

const byName = (a: TreeNode, b: TreeNode) => compareBytes(a.name, b.name);

/**
 * Merges `src`'s children into `dst`'s (directories present in both are
 * merged recursively; anything else present in both is an error): one pass
 * over the two sorted lists, so a directory of many entries costs its size,
 * not its size squared.
 */
function mergeInto(dst: Mutable, src: TreeNode, where: string): void {
  // Children are sorted byte-wise (a Tree invariant); sorting a sorted list is one pass.
  const a = [...(dst.children ?? [])].sort(byName);
  const b = [...(src.children ?? [])].sort(byName);
  const out: TreeNode[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const order = i >= a.length ? 1 : j >= b.length ? -1 : byName(a[i], b[j]);
    if (order < 0) out.push(a[i++]);
    else if (order > 0) out.push(b[j++]);
    else {
      const mine = a[i++];
      const theirs = b[j++];
      if (mine.type !== "dir" || theirs.type !== "dir") fail("E_LAYOUT", `two copyFiles sources both provide ${theirs.path}; exclude one of them`, where);
      const m = copyNode(mine);
      mergeInto(m, theirs, where);
      out.push(m);
    }
  }
  dst.children = out;
}

/**
 * Builds the tree a partition holds. The result's root takes its metadata from
 * the first source copied to "/" (or the tree root when none is).
 */
export function selectTree(tree: Tree, copy: readonly CopySpec[], excludeFiles: readonly string[], where: string, onWarning?: (message: string) => void): Tree {
  const excludes = new Set<string>();
  const contentsOnly = new Set<string>();
  for (const e of excludeFiles) {
    if (e.endsWith("/") && e.length > 1) contentsOnly.add(normalize(e));
    else excludes.add(normalize(e));
  }
  const rootSource = copy.find((c) => c.dst === "/");
  const rootSourceNode = rootSource && lookup(tree.root, rootSource.src);
  const root = copyNode(rootSourceNode || tree.root, { name: new Uint8Array(0), path: "/", treePath: rootSourceNode ? normalize(rootSource!.src) : "", children: [] });
  copy.forEach((c, i) => {
    const src = lookup(tree.root, c.src);
    if (!src) {
      // systemd-repart skips a CopyFiles= source that does not exist, with a notice; so does mkdisk.
      onWarning?.(`${where}[${i}]: ${c.src} is not in the rootfs; nothing is copied for it`);
      return;
    }
    const pruned = prune(src, excludes, contentsOnly);
    if (!pruned) return;
    // Walk/create the destination directory chain.
    let parent = root;
    const comps = c.dst.split("/").filter((x) => x);
    const last = comps.length === 0 ? undefined : comps[comps.length - 1];
    let curPath = "";
    for (const comp of comps.slice(0, -1)) {
      curPath += "/" + comp;
      const name = utf8(comp);
      const at = parent.children!.findIndex((k) => compareBytes(k.name, name) === 0);
      let next: Mutable;
      if (at < 0) {
        next = copyNode(root, { name, path: curPath, treePath: "", children: [] });
        parent.children!.push(next);
        parent.children!.sort((a, b) => compareBytes(a.name, b.name));
      } else {
        // A copy: the node may be shared with the source tree, which must not change.
        next = copyNode(parent.children![at], { children: [...(parent.children![at].children ?? [])] });
        parent.children![at] = next;
      }
      if (next.type !== "dir") fail("E_LAYOUT", `${curPath} is not a directory`, `${where}[${i}]`);
      parent = next;
    }
    if (last === undefined) {
      if (pruned.type !== "dir") fail("E_LAYOUT", `only a directory can be copied to "/", ${c.src} is a ${pruned.type}`, `${where}[${i}]`);
      mergeInto(root, rebase(pruned, "/"), `${where}[${i}]`);
    } else {
      // Renamed ("/a/file:/b/OTHER"): the copy keeps reading the original file.
      const placed = rebase(copyNode(pruned, { name: utf8(last) }), c.dst);
      const holder = copyNode(parent, { children: [] });
      holder.children = [placed];
      mergeInto(parent, holder, `${where}[${i}]`);
    }
  });
  let count = 0;
  const walk = (n: TreeNode) => {
    count++;
    n.children?.forEach(walk);
  };
  walk(root);
  return { root, nodeCount: count };
}

/** Depth-first, children in byte order: the one traversal order mkdisk uses. */
export function* walkTree(n: TreeNode): Generator<TreeNode> {
  yield n;
  if (n.children) for (const c of n.children) yield* walkTree(c);
}
