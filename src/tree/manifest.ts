/**
 * Ownership manifest: sets owners, modes and xattrs, and adds entries an
 * unprivileged build cannot create (device nodes, setuid files owned by
 * root, capabilities, SELinux labels). Format, one entry per line:
 *
 *   # comment
 *   /path  key=value ...
 *
 * keys:
 *   type=dir|file|symlink|char|block|fifo   (required for entries not in the tree)
 *   mode=0755        octal, permission bits incl. setuid/setgid/sticky
 *   uid=N gid=N
 *   device=MAJOR,MINOR                       (char and block)
 *   target=PATH                              (symlink)
 *   mtime=SECONDS                            (created entries; default 0)
 *   cap=cap_net_raw+ep                       security.capability (several clauses: cap="a+ep b+i")
 *   xattr.NAME=VALUE                         any xattr; VALUE is text, or 0x-prefixed hex
 *   override                                 allow replacing a tree entry of another type
 *
 * Values with spaces are double-quoted ("a b"; \" and \\ escape). Lines are
 * applied in path order, not file order; a path listed twice is an error.
 * Entries not in the tree are created (empty, for files); parents must exist
 * in the tree or in the manifest. An entry whose type differs from the tree's
 * is an error unless marked `override`.
 */
import { MkdiskError, fail } from "../bin/errors.js";
import { compareBytes, utf8 } from "../bin/text.js";
import { encodeCapability } from "./capability.js";
import { copyNode } from "./scan.js";
import type { MutableTreeNode as Mutable, NodeType, Tree, TreeNode, Xattr } from "./types.js";

export interface ManifestEntry {
  readonly path: string;
  readonly line: number;
  readonly type?: NodeType;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly device?: [number, number];
  readonly target?: string;
  readonly mtimeSec?: number;
  readonly xattrs: Xattr[];
  readonly override: boolean;
}

const TYPE_NAMES: Record<string, NodeType> = { dir: "dir", file: "file", symlink: "symlink", char: "chardev", block: "blockdev", fifo: "fifo" };

function tokens(line: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) break;
    let tok = "";
    while (i < line.length && line[i] !== " " && line[i] !== "\t") {
      if (line[i] === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === "\\" && i + 1 < line.length) i++;
          tok += line[i++];
        }
        if (line[i] !== '"') fail("E_LAYOUT", `unterminated quote`, where);
        i++;
      } else tok += line[i++];
    }
    out.push(tok);
  }
  return out;
}

function int(v: string, where: string, key: string, radix = 10): number {
  const re = radix === 8 ? /^[0-7]{1,6}$/ : /^\d+$/;
  if (!re.test(v)) fail("E_LAYOUT", `${key}=${v}: expected a ${radix === 8 ? "octal mode like 0755" : "whole number"}`, where);
  const n = parseInt(v, radix);
  if (n > 0xffffffff) fail("E_LAYOUT", `${key}=${v} is too large`, where);
  return n;
}

export function parseManifest(text: string, file: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  text.split("\n").forEach((raw, idx) => {
    const line = idx + 1;
    const where = `${file}:${line}`;
    const t = raw.replace(/\r$/, "");
    if (/^\s*(#|$)/.test(t)) return;
    const [path, ...rest] = tokens(t, where);
    if (!path.startsWith("/")) fail("E_LAYOUT", `expected an absolute path first, got "${path}"`, where);
    const norm = "/" + path.split("/").filter((c) => c && c !== ".").join("/");
    if (norm.split("/").includes("..")) fail("E_LAYOUT", `".." is not allowed in "${path}"`, where);
    if (seen.has(norm)) fail("E_LAYOUT", `${norm} is listed twice`, where);
    seen.add(norm);
    const e: { -readonly [K in keyof ManifestEntry]: ManifestEntry[K] } = { path: norm, line, xattrs: [], override: false };
    const keys = new Set<string>();
    for (const kv of rest) {
      if (kv === "override") {
        e.override = true;
        continue;
      }
      const eq = kv.indexOf("=");
      if (eq < 0) fail("E_LAYOUT", `expected key=value, got "${kv}"`, where);
      const k = kv.slice(0, eq);
      const v = kv.slice(eq + 1);
      if (!k.startsWith("xattr.") && keys.has(k)) fail("E_LAYOUT", `${k}= is given twice`, where);
      keys.add(k);
      if (k === "type") {
        e.type = TYPE_NAMES[v];
        if (!e.type) fail("E_LAYOUT", `type=${v}: expected one of ${Object.keys(TYPE_NAMES).join(", ")}`, where);
      } else if (k === "mode") {
        e.mode = int(v, where, k, 8);
        if (e.mode > 0o7777) fail("E_LAYOUT", `mode=${v}: only permission bits (at most 7777, setuid/setgid/sticky included); the file type comes from the tree or type=`, where);
      } else if (k === "uid" || k === "gid") {
        const n = int(v, where, k);
        if (n === 0xffffffff) fail("E_LAYOUT", `${k}=${v} is (${k}_t)-1, which no file can have`, where);
        if (k === "uid") e.uid = n;
        else e.gid = n;
      } else if (k === "mtime") e.mtimeSec = int(v, where, k);
      else if (k === "target") {
        if (v === "" || v.includes("\0")) fail("E_LAYOUT", `target= must be a non-empty path without NUL bytes`, where);
        e.target = v;
      } else if (k === "device") {
        const m = /^(\d+),(\d+)$/.exec(v);
        if (!m) fail("E_LAYOUT", `device=${v}: expected MAJOR,MINOR`, where);
        e.device = [int(m[1], where, "major"), int(m[2], where, "minor")];
        if (e.device[0] > 4095 || e.device[1] > 0xfffff) fail("E_LAYOUT", `device=${v}: Linux device numbers have a 12-bit major (0..4095) and a 20-bit minor (0..1048575)`, where);
      } else if (k === "cap") e.xattrs.push({ name: "security.capability", value: encodeCapability(v, where) });
      else if (k.startsWith("xattr.")) {
        const name = k.slice(6);
        if (!/^(user|trusted|security|system)\.[^\s]+$/.test(name)) fail("E_LAYOUT", `xattr name "${name}" must start with user., trusted., security. or system.`, where);
        let value: Uint8Array;
        if (/^0x([0-9a-f]{2})*$/i.test(v)) value = Uint8Array.from(Buffer.from(v.slice(2), "hex"));
        else if (/^0x/i.test(v)) fail("E_LAYOUT", `xattr.${name}=${v}: a value starting with 0x is hex and must be whole bytes (an even number of hex digits)`, where);
        else value = utf8(v);
        e.xattrs.push({ name, value });
      } else fail("E_LAYOUT", `unknown key "${k}"; allowed: type, mode, uid, gid, device, target, mtime, cap, xattr.NAME, override`, where);
    }
    if (e.type === "chardev" || e.type === "blockdev") {
      if (!e.device) fail("E_LAYOUT", `a ${e.type === "chardev" ? "char" : "block"} device needs device=MAJOR,MINOR`, where);
    } else if (e.device) fail("E_LAYOUT", `device= only applies to type=char or type=block`, where);
    if (e.type === "symlink" && e.target === undefined) fail("E_LAYOUT", `a symlink needs target=PATH`, where);
    if (e.target !== undefined && e.type !== "symlink") fail("E_LAYOUT", `target= only applies to type=symlink`, where);
    const names = e.xattrs.map((x) => x.name);
    if (new Set(names).size !== names.length) fail("E_LAYOUT", `an xattr is set twice`, where);
    entries.push(e);
  });
  return entries.sort((a, b) => compareBytes(utf8(a.path), utf8(b.path)));
}

/** `old` with `set` merged in by name (set wins), sorted by name bytes; undefined when empty. */
function mergeXattrs(old: readonly Xattr[] | undefined, set: readonly Xattr[]): Xattr[] | undefined {
  const m = new Map((old ?? []).map((x) => [x.name, x.value]));
  for (const x of set) m.set(x.name, x.value);
  const list = [...m].map(([name, value]) => ({ name, value }));
  list.sort((a, b) => compareBytes(utf8(a.name), utf8(b.name)));
  return list.length ? list : undefined;
}

/** The first inode field two entries both set to different values, or undefined. */
function differentInode(a: ManifestEntry, b: ManifestEntry): string | undefined {
  const fields: [string, unknown, unknown][] = [
    ["mode", a.mode, b.mode], ["uid", a.uid, b.uid], ["gid", a.gid, b.gid], ["mtime", a.mtimeSec, b.mtimeSec],
    ["device", a.device?.join(","), b.device?.join(",")], ["target", a.target, b.target],
  ];
  for (const [k, x, y] of fields) if (x !== undefined && y !== undefined && x !== y) return k;
  for (const x of a.xattrs) {
    const y = b.xattrs.find((z) => z.name === x.name);
    if (y && compareBytes(x.value, y.value) !== 0) return `values for ${x.name}`;
  }
  return undefined;
}

/**
 * Returns a new tree with the manifest applied. The input tree is not
 * modified: the nodes on the way to an entry are copied (copy on write) and
 * every other subtree is shared with it.
 */
export function applyManifest(tree: Tree, entries: readonly ManifestEntry[], file: string): Tree {
  /** Nodes of the new tree that are its own (copies or created), with children arrays of their own. */
  const own = new Set<TreeNode>();
  const ownCopy = (n: TreeNode): Mutable => {
    const c = copyNode(n, n.children ? { children: [...n.children] } : undefined);
    own.add(c);
    return c;
  };
  const root = ownCopy(tree.root);
  let count = tree.nodeCount;
  /** `parent`'s child named `name`, made an owned node (`parent` must be owned). */
  const child = (parent: Mutable, name: Uint8Array): Mutable | undefined => {
    const kids = parent.children;
    const i = kids ? kids.findIndex((c) => compareBytes(c.name, name) === 0) : -1;
    if (i < 0) return undefined;
    const c = kids![i];
    return own.has(c) ? (c as Mutable) : (kids![i] = ownCopy(c));
  };
  const find = (path: string): { parent: Mutable | undefined; node: Mutable | undefined; name: Uint8Array } => {
    if (path === "/") return { parent: undefined, node: root, name: new Uint8Array(0) };
    const comps = path.split("/").filter((c) => c);
    let cur: Mutable | undefined = root;
    for (let i = 0; i < comps.length - 1 && cur; i++) cur = child(cur, utf8(comps[i]));
    const name = utf8(comps[comps.length - 1]);
    const node = cur && child(cur, name);
    return { parent: cur, node, name };
  };
  /** Sets what entry `e` gives on `node` (an existing entry of the same type). */
  const setInode = (node: Mutable, e: ManifestEntry) => {
    if (e.mode !== undefined) node.mode = e.mode;
    if (e.uid !== undefined) node.uid = e.uid;
    if (e.gid !== undefined) node.gid = e.gid;
    if (e.mtimeSec !== undefined) node.mtime = { sec: e.mtimeSec, nsec: 0 };
    if (e.device) [node.rdevMajor, node.rdevMinor] = e.device;
    if (e.target !== undefined) node.linkTarget = utf8(e.target);
    node.xattrs = mergeXattrs(node.xattrs, e.xattrs);
  };
  /**
   * The entries that named a hard-linked file, by link group: the names of
   * one file are one inode, so every name gets what any of them set (as a
   * chmod through any name would), and two names may not be given
   * different values.
   */
  const groupEntries = new Map<number, ManifestEntry[]>();
  const noteGroup = (node: TreeNode, e: ManifestEntry, where: string) => {
    if (node.hardlinkGroup === undefined) return;
    let list = groupEntries.get(node.hardlinkGroup);
    if (!list) groupEntries.set(node.hardlinkGroup, (list = []));
    for (const other of list) {
      const what = differentInode(e, other);
      if (what) fail("E_LAYOUT", `${e.path} and ${list[0].path} are hard links to one file (one inode), but the manifest gives them different ${what}`, where);
    }
    list.push(e);
  };
  for (const e of entries) {
    const where = `${file}:${e.line}`;
    const { parent, node, name } = find(e.path);
    if (node && (e.type === undefined || e.type === node.type)) {
      setInode(node, e);
      noteGroup(node, e, where);
      continue;
    }
    if (node && !e.override) {
      throw new MkdiskError("E_LAYOUT", `${e.path} is a ${node.type} in the tree but the manifest says ${e.type}; add "override" to replace it`, where);
    }
    if (!e.type) fail("E_LAYOUT", `${e.path} is not in the tree: give type= to create it`, where);
    if (!parent || parent.type !== "dir") fail("E_LAYOUT", `cannot create ${e.path}: its parent directory is not in the tree or the manifest`, where);
    const created: Mutable = {
      name,
      path: e.path,
      sourcePath: Buffer.from("/dev/null"),
      type: e.type,
      mode: e.mode ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      sizeBytes: 0,
      mtime: { sec: e.mtimeSec ?? 0, nsec: 0 },
    };
    if (e.type === "dir") created.children = node?.type === "dir" ? [...(node.children ?? [])] : [];
    if (e.device) [created.rdevMajor, created.rdevMinor] = e.device;
    if (e.target !== undefined) created.linkTarget = utf8(e.target);
    created.xattrs = mergeXattrs(undefined, e.xattrs);
    const kids = parent.children as TreeNode[];
    if (node) kids.splice(kids.indexOf(node), 1);
    else count++;
    kids.push(created);
    own.add(created);
    kids.sort((a, b) => compareBytes(a.name, b.name));
  }
  if (groupEntries.size > 0) {
    // Routes (child indices from the root) to every name of an edited file;
    // by index, not by path, so names that are not UTF-8 are found too.
    const routes: number[][] = [];
    const route: number[] = [];
    const walk = (n: TreeNode) => {
      if (n.hardlinkGroup !== undefined && groupEntries.has(n.hardlinkGroup)) routes.push([...route]);
      n.children?.forEach((c, i) => {
        route.push(i);
        walk(c);
        route.pop();
      });
    };
    walk(root);
    for (const r of routes) {
      let node: Mutable = root;
      for (const i of r) {
        const kids = node.children as TreeNode[];
        const c = kids[i];
        node = own.has(c) ? (c as Mutable) : (kids[i] = ownCopy(c));
      }
      for (const e of groupEntries.get(node.hardlinkGroup!)!) setInode(node, e);
    }
  }
  return { root, nodeCount: count };
}
