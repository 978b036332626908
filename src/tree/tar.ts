/**
 * A tar archive as a rootfs: POSIX ustar with pax extended headers (path,
 * linkpath, size, uid, gid, mtime, SCHILY.xattr.*, SCHILY.acl.*), GNU
 * format (long names L/K, base-256 numbers, negative times), v7 headers,
 * hard links (chains of them are one inode), device nodes. What it reads,
 * it reads as GNU tar extracts it (test/tree/tar-edge.test.ts compares the
 * two); GNU sparse members are refused (E_UNSUPPORTED). gzip archives are
 * inflated (streaming, fflate, every member's CRC-32 and length checked)
 * into a temporary plain tar first, since file contents are referenced in
 * place: a member's content is the byte range of the archive that holds it,
 * so nothing is unpacked and no root is needed.
 *
 * Member order does not matter: entries are placed by path and the tree is
 * sorted byte-wise. A path that appears twice is an error (tar's "last one
 * wins" would make the result depend on order). Directories missing from the
 * archive are created 0755 root:root with time 0.
 *
 * References: POSIX.1-2017 pax (ustar and extended headers); GNU tar manual,
 * "Basic Tar Format" (L/K types, base-256 numbers).
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isUtf8 } from "node:buffer";
import { createRequire } from "node:module";
import type * as Fflate from "fflate";
import { MkdiskError, fail } from "../bin/errors.js";
import { compareBytes, utf8, utf8Decode } from "../bin/text.js";
import { crc32 } from "../bin/crc.js";
import { scratchDirectory } from "../io/output.js";
import { aclFromText, aclMode } from "./acl.js";
import type { NodeType, Tree, TreeNode, Xattr } from "./types.js";

const BLOCK = 512;

/** ustar header fields (POSIX.1-2017 tar format, ustar interchange). */
const F = {
  name: [0, 100], mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12],
  chksum: [148, 8], typeflag: [156, 1], linkname: [157, 100], magic: [257, 6], version: [263, 2],
  uname: [265, 32], gname: [297, 32], devmajor: [329, 8], devminor: [337, 8], prefix: [345, 155],
} as const;

/**
 * A member's name or link target as text. Names are kept as UTF-8 strings
 * here, so bytes that are not UTF-8 are refused rather than rewritten (to
 * U+FFFD, which would silently change the name and merge distinct ones).
 */
function nameText(bytes: Uint8Array, what: string, where: string): string {
  if (bytes.includes(0)) fail("E_TREE", `${what} contains a NUL byte`, where);
  if (isUtf8(bytes)) return utf8Decode(bytes);
  return fail("E_TREE", `${what} is not valid UTF-8 (${JSON.stringify(utf8Decode(bytes))}); mkdisk reads tar member names as UTF-8: pass the unpacked directory instead (ext4 keeps such names byte for byte, FAT cannot hold them)`, where);
}

function field(h: Uint8Array, f: readonly [number, number]): Uint8Array {
  const b = h.subarray(f[0], f[0] + f[1]);
  const z = b.indexOf(0);
  return z < 0 ? b : b.subarray(0, z);
}

/**
 * A numeric header field: octal text, or GNU base-256 (first byte 0x80 for
 * a positive number, 0xff for a negative one: the field is a big-endian
 * two's complement number once the marker bit is taken as a sign bit).
 * Only mtime may be negative.
 */
function num(h: Uint8Array, f: readonly [number, number], name: keyof typeof F, where: string): number {
  const b = h.subarray(f[0], f[0] + f[1]);
  if (b[0] & 0x80) {
    let v = 0n;
    for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(i === 0 ? b[0] & 0x7f : b[i]);
    if (b[0] & 0x40) v -= 1n << BigInt(8 * b.length - 1); // negative
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) fail("E_TREE", `${name} field: number too large`, where);
    if (v < 0n && name !== "mtime") fail("E_TREE", `${name} field: negative number`, where);
    return Number(v);
  }
  const s = utf8Decode(field(h, f)).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) fail("E_TREE", `${name} field: bad octal number ${JSON.stringify(s)}`, where);
  return parseInt(s, 8);
}

/** A decimal pax number (size, uid, gid): digits only, as POSIX specifies. */
function paxNum(v: Uint8Array, key: string, where: string): number {
  const s = utf8Decode(v);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) fail("E_TREE", `bad pax ${key} ${JSON.stringify(s)}`, where);
  return Number(s);
}

/** A pax time: [-]seconds[.fraction]; a negative time with a fraction borrows a second (nsec stays 0..999999999). */
function paxTime(v: Uint8Array, where: string): { sec: number; nsec: number } {
  const text = utf8Decode(v);
  const m = /^(-?)(\d+)(?:\.(\d{1,9})\d*)?$/.exec(text);
  if (!m || !Number.isSafeInteger(Number(m[2]))) fail("E_TREE", `bad pax mtime ${JSON.stringify(text)}`, where);
  const sec = Number(m[2]);
  const nsec = m[3] ? Number(m[3].padEnd(9, "0")) : 0;
  if (m[1] !== "-") return { sec, nsec };
  return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1_000_000_000 - nsec };
}

/** The header checksum, as unsigned bytes (POSIX) or signed ones (some old writers; GNU tar accepts both). */
function checksumOk(h: Uint8Array): boolean {
  let sum = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    sum += b;
    signed += b > 127 ? b - 256 : b;
  }
  const stored = utf8Decode(field(h, F.chksum)).trim();
  return /^[0-7]+$/.test(stored) && (parseInt(stored, 8) === sum || parseInt(stored, 8) === signed);
}

interface PaxRecords {
  [k: string]: Uint8Array;
}

function parsePax(data: Uint8Array, where: string): PaxRecords {
  const out: PaxRecords = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) fail("E_TREE", `malformed pax record`, where);
    const len = Number(utf8Decode(data.subarray(i, sp)));
    if (!Number.isSafeInteger(len) || len <= 0 || i + len > data.length) fail("E_TREE", `malformed pax record length`, where);
    const rec = data.subarray(sp + 1, i + len - 1); // drop trailing "\n"
    const eq = rec.indexOf(0x3d);
    if (eq < 0) fail("E_TREE", `malformed pax record (no "=")`, where);
    out[utf8Decode(rec.subarray(0, eq))] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * An xattr name from a SCHILY.xattr.NAME keyword. GNU tar writes "=" and "%"
 * in names as %3D and %25 (a keyword cannot hold "="); it decodes those two
 * and nothing else, and so does mkdisk.
 */
function xattrKeyword(k: string): string {
  return k.replace(/%(3D|25)/g, (m) => (m === "%3D" ? "=" : "%"));
}

class Reader {
  private fd: number;
  constructor(private path: string) {
    try {
      this.fd = openSync(path, "r");
    } catch (e) {
      throw new MkdiskError("E_TREE", `cannot open archive: ${(e as Error).message}`, path);
    }
  }
  read(pos: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, b, done, len - done, pos + done);
      if (n === 0) break;
      done += n;
    }
    return b.subarray(0, done);
  }
  close(): void {
    closeSync(this.fd);
  }
}

type Mutable = { -readonly [K in keyof TreeNode]: TreeNode[K] };

const TYPES: Record<string, NodeType> = { "0": "file", "\0": "file", "7": "file", "2": "symlink", "3": "chardev", "4": "blockdev", "5": "dir", "6": "fifo" };

function normPath(p: string, where: string): string {
  const parts = p.split("/").filter((c) => c !== "" && c !== ".");
  if (parts.includes("..")) fail("E_TREE", `member path contains ".."`, where);
  return "/" + parts.join("/");
}

/** True when the file starts with the gzip magic. */
function isGzip(path: string): boolean {
  const r = new Reader(path);
  try {
    const h = r.read(0, 2);
    return h.length === 2 && h[0] === 0x1f && h[1] === 0x8b;
  } finally {
    r.close();
  }
}

/**
 * Inflates a .tar.gz into a temporary plain tar, streaming; returns its path
 * and a cleanup. Every gzip member's trailer (CRC-32 and length of its
 * inflated bytes, RFC 1952) is checked: fflate's streaming Gunzip does not,
 * and a corrupt or cut archive must not become an image.
 */
function gunzipToTemp(path: string): { path: string; cleanup(): void } {
  const scratch = scratchDirectory("mkdisk-tar-");
  const out = join(scratch.path, "rootfs.tar");
  const ofd = openSync(out, "w");
  const ifd = openSync(path, "r");
  let error: Error | undefined;
  try {
    // Loaded on first use (synchronously, the scan is synchronous): most builds read a directory.
    const { Gunzip } = createRequire(import.meta.url)("fflate") as typeof Fflate;
    let crc = 0;
    let length = 0;
    let member = 0;
    /** Checks the trailer that ends at `end` (compressed offset) against the member just inflated. */
    const checkTrailer = (end: number) => {
      const t = new Uint8Array(8);
      if (end < 8 || readSync(ifd, t, 0, 8, end - 8) !== 8) throw new Error(`member ${member + 1} has no trailer (the archive is cut short)`);
      const v = new DataView(t.buffer);
      if (v.getUint32(0, true) !== crc >>> 0) throw new Error(`member ${member + 1} fails its CRC-32 check (the archive is corrupt or cut short)`);
      if (v.getUint32(4, true) !== length >>> 0) throw new Error(`member ${member + 1} has the wrong length in its trailer (the archive is corrupt or cut short)`);
      member++;
      crc = 0;
      length = 0;
    };
    const g = new Gunzip((chunk) => {
      crc = crc32(chunk, crc);
      length = (length + chunk.length) % 2 ** 32;
      let done = 0;
      while (done < chunk.length) done += writeSync(ofd, chunk, done, chunk.length - done);
    });
    // A new member starts at `offset`: the previous one's data has all been delivered.
    g.onmember = (offset) => checkTrailer(offset);
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    for (;;) {
      const n = readSync(ifd, buf, 0, buf.length, total);
      if (n === 0) {
        g.push(new Uint8Array(0), true);
        break;
      }
      total += n;
      g.push(buf.slice(0, n), false);
    }
    checkTrailer(total);
  } catch (e) {
    error = e as Error;
  } finally {
    closeSync(ifd);
    closeSync(ofd);
  }
  if (error) {
    scratch.remove();
    throw new MkdiskError("E_TREE", `not a valid gzip stream: ${error.message}`, path);
  }
  return { path: out, cleanup: () => scratch.remove() };
}

export interface TarTree extends Tree {
  /** Removes the temporary plain tar a gzip archive was inflated into (call after the build). */
  cleanup(): void;
}

export function scanTar(archive: string, opts: { ownership?: "preserve" | "root" } = {}): TarTree {
  let cleanup = () => {};
  let path = archive;
  if (isGzip(archive)) {
    const t = gunzipToTemp(archive);
    path = t.path;
    cleanup = t.cleanup;
  }
  try {
    const tree = parseTar(path, archive, opts.ownership === "root");
    return { ...tree, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

function parseTar(path: string, display: string, asRoot: boolean): Tree {
  const r = new Reader(path);
  const src = Buffer.from(path);
  const nodes = new Map<string, Mutable>();
  const hardlinks: { path: string; target: string; where: string }[] = [];
  let pos = 0;
  let pax: PaxRecords = {};
  let globalPax: PaxRecords = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let index = 0;
  let sawEnd = false;
  try {
    for (;;) {
      const h = r.read(pos, BLOCK);
      if (h.length === 0) break;
      const where = `${display}: member ${index} at byte ${pos}`;
      if (h.length < BLOCK) fail("E_TREE", `truncated archive (a header is cut short)`, where);
      if (h.every((b) => b === 0)) {
        sawEnd = true;
        break;
      }
      if (!checksumOk(h)) fail("E_TREE", `header checksum mismatch: not a tar archive, or corrupt`, where);
      const type = String.fromCharCode(h[F.typeflag[0]]);
      const rec: PaxRecords = { ...globalPax, ...pax };
      // An empty value unsets a record (POSIX), except an xattr's: an empty value is a value there.
      for (const k of Object.keys(rec)) if (rec[k].length === 0 && !k.startsWith("SCHILY.xattr.")) delete rec[k];
      const sparseKey = Object.keys(rec).find((k) => k.startsWith("GNU.sparse."));
      if (sparseKey) {
        fail("E_UNSUPPORTED", `a GNU sparse member (pax record ${sparseKey}, written by tar --sparse): mkdisk does not read sparse members; make the archive without --sparse, or pass the unpacked directory`, where);
      }
      const size = rec.size ? paxNum(rec.size, "size", where) : num(h, F.size, "size", where);
      if (!Number.isSafeInteger(size) || size < 0) fail("E_TREE", `bad member size`, where);
      const dataPos = pos + BLOCK;
      // Links, directories, devices and fifos carry no data whatever their size says (GNU tar skips none).
      const dataless = type >= "1" && type <= "6";
      const next = dataPos + (dataless ? 0 : Math.ceil(size / BLOCK) * BLOCK);
      const data = () => {
        const d = r.read(dataPos, size);
        if (d.length < size) fail("E_TREE", `truncated archive (member data cut short)`, where);
        return d;
      };
      if (type === "x" || type === "g" || type === "L" || type === "K") {
        if (size > 1 << 20) fail("E_TREE", `extended header of ${size} bytes is implausibly large`, where);
        if (type === "x") pax = parsePax(data(), where);
        else if (type === "g") globalPax = { ...globalPax, ...parsePax(data(), where) };
        else {
          const d = data();
          const z = d.indexOf(0);
          const s = nameText(z < 0 ? d : d.subarray(0, z), type === "L" ? "its GNU long name" : "its GNU long link target", where);
          if (type === "L") longName = s;
          else longLink = s;
        }
        pos = next;
        continue;
      }
      index++;
      // POSIX ustar has a name prefix at 345; GNU's format ("ustar  \0") keeps other fields there (atime, ctime).
      const isUstar = utf8Decode(h.subarray(257, 263)) === "ustar\0";
      const prefix = isUstar && !rec.path && longName === undefined ? nameText(field(h, F.prefix), "its name prefix", where) : "";
      let name = rec.path ? nameText(rec.path, "its pax path", where) : longName ?? (prefix ? prefix + "/" : "") + nameText(field(h, F.name), "its name", where);
      const link = rec.linkpath ? nameText(rec.linkpath, "its pax link target", where) : longLink ?? nameText(field(h, F.linkname), "its link target", where);
      pax = {};
      longName = longLink = undefined;
      const p = normPath(name, where);
      if (type === "1") {
        hardlinks.push({ path: p, target: normPath(link, where), where });
        pos = next;
        continue;
      }
      // A regular member whose name ends in "/" is a directory (pre-POSIX archives; GNU tar reads it so).
      const nodeType = (type === "0" || type === "\0" || type === "7") && name.endsWith("/") ? "dir" : TYPES[type] ?? (name.endsWith("/") ? "dir" : undefined);
      if (!nodeType) fail("E_TREE", `unsupported member type ${JSON.stringify(type)}`, where);
      if (nodeType === "file" && dataPos + size > dataPos && r.read(dataPos + size - 1, 1).length < 1) fail("E_TREE", `truncated archive (member data cut short)`, where);
      const mtime = rec.mtime ? paxTime(rec.mtime, where) : { sec: num(h, F.mtime, "mtime", where), nsec: 0 };
      const xattrs: Xattr[] = Object.keys(rec)
        .filter((k) => k.startsWith("SCHILY.xattr."))
        .map((k) => ({ name: xattrKeyword(k.slice("SCHILY.xattr.".length)), value: rec[k] }));
      // ACLs as text (tar --acls): the xattr form, unless the archive also carries that.
      for (const kind of ["access", "default"] as const) {
        const text = rec[`SCHILY.acl.${kind}`];
        const name = `system.posix_acl_${kind}`;
        if (text && !xattrs.some((x) => x.name === name)) xattrs.push({ name, value: aclFromText(utf8Decode(text), where) });
      }
      // An access ACL sets the mode's rwx bits (libarchive writes the owning
      // group's bits in the header, not the mask's); one that says no more
      // than the mode is not stored, as the kernel stores none.
      let aclBits: number | undefined;
      const access = xattrs.findIndex((x) => x.name === "system.posix_acl_access");
      if (access >= 0) {
        const m = aclMode(xattrs[access].value);
        aclBits = m?.bits;
        if (m && !m.extended) xattrs.splice(access, 1);
      }
      xattrs.sort((a, b) => compareBytes(utf8(a.name), utf8(b.name)));
      if (nodes.has(p)) fail("E_TREE", `${p} appears twice in the archive; mkdisk does not let member order decide`, where);
      if (p === "/" && nodeType !== "dir") fail("E_TREE", `the archive's root member ("./") is a ${nodeType}, not a directory`, where);
      const node: Mutable = {
        name: utf8(p === "/" ? "" : p.slice(p.lastIndexOf("/") + 1)),
        path: p,
        sourcePath: src,
        type: nodeType,
        // A symlink's own permission bits mean nothing on Linux: always 0777, as the kernel and GNU tar make them.
        mode: nodeType === "symlink" ? 0o777 : aclBits !== undefined ? (num(h, F.mode, "mode", where) & 0o7000) | aclBits : num(h, F.mode, "mode", where) & 0o7777,
        uid: asRoot ? 0 : rec.uid ? paxNum(rec.uid, "uid", where) : num(h, F.uid, "uid", where),
        gid: asRoot ? 0 : rec.gid ? paxNum(rec.gid, "gid", where) : num(h, F.gid, "gid", where),
        sizeBytes: nodeType === "file" ? size : 0,
        mtime,
      };
      if (nodeType === "file") node.contentOffsetBytes = dataPos;
      if (nodeType === "symlink") node.linkTarget = utf8(link);
      const acls = xattrs.filter((x) => x.name.startsWith("system.posix_acl_")).map((x) => x.name);
      if (acls.length && nodeType === "symlink") fail("E_TREE", `a symlink cannot have an ACL (${acls.join(", ")})`, where);
      if (acls.includes("system.posix_acl_default") && nodeType !== "dir") fail("E_TREE", `only a directory can have a default ACL; this is a ${nodeType}`, where);
      if (nodeType === "chardev" || nodeType === "blockdev") {
        node.rdevMajor = num(h, F.devmajor, "devmajor", where);
        node.rdevMinor = num(h, F.devminor, "devminor", where);
      }
      if (xattrs.length) node.xattrs = xattrs;
      if (nodeType === "dir") node.children = [];
      nodes.set(p, node);
      pos = next;
    }
  } finally {
    r.close();
  }
  if (!sawEnd && pos === 0) fail("E_TREE", `empty or not a tar archive`, display);
  // Every tar writer ends the archive with zero blocks; without them it was cut at a member boundary.
  if (!sawEnd) fail("E_TREE", `truncated archive (ends after member ${index} without the end-of-archive blocks)`, `${display}: member ${index} at byte ${pos}`);

  // Hard links share the target's content and metadata (grouped below). A
  // link to a link joins the first one's group: they are all one inode.
  const groups = new Map<string, string[]>();
  const firstOf = new Map<string, string>(); // hard link path → the member it ultimately links to
  for (const l of hardlinks) {
    const t = nodes.get(l.target);
    if (!t || t.type === "dir") fail("E_TREE", `hard link ${l.path} points at ${l.target}, which is ${t ? "a directory" : "not in the archive"}`, l.where);
    if (nodes.has(l.path)) fail("E_TREE", `${l.path} appears twice in the archive`, l.where);
    nodes.set(l.path, { ...t, name: utf8(l.path.slice(l.path.lastIndexOf("/") + 1)), path: l.path });
    const first = firstOf.get(l.target) ?? l.target;
    firstOf.set(l.path, first);
    let g = groups.get(first);
    if (!g) groups.set(first, (g = [first]));
    g.push(l.path);
  }

  // Build the directory structure, creating missing parents.
  if (!nodes.has("/")) nodes.set("/", { name: new Uint8Array(0), path: "/", sourcePath: src, type: "dir", mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children: [] });
  const paths = [...nodes.keys()].sort((a, b) => compareBytes(utf8(a), utf8(b)));
  for (const p of paths) {
    if (p === "/") continue;
    let child = nodes.get(p)!;
    let parentPath = p.slice(0, p.lastIndexOf("/")) || "/";
    for (;;) {
      let parent = nodes.get(parentPath);
      const created = !parent;
      if (!parent) {
        parent = { name: utf8(parentPath.slice(parentPath.lastIndexOf("/") + 1)), path: parentPath, sourcePath: src, type: "dir", mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children: [] };
        nodes.set(parentPath, parent);
      }
      if (parent.type !== "dir") fail("E_TREE", `${child.path} is inside ${parentPath}, which is not a directory`, display);
      (parent.children as TreeNode[]).push(child);
      if (!created || parentPath === "/") break;
      child = parent;
      parentPath = parentPath.slice(0, parentPath.lastIndexOf("/")) || "/";
    }
  }
  for (const n of nodes.values()) if (n.children) (n.children as TreeNode[]).sort((a, b) => compareBytes(a.name, b.name));

  // Hard-link groups numbered in traversal order of their first member.
  const order = new Map<string, number>();
  let k = 0;
  const walk = (n: TreeNode) => {
    order.set(n.path, k++);
    n.children?.forEach(walk);
  };
  const root = nodes.get("/")!;
  walk(root);
  const gs = [...groups.values()].map((g) => g.sort((a, b) => order.get(a)! - order.get(b)!)).sort((a, b) => order.get(a[0])! - order.get(b[0])!);
  gs.forEach((g, i) => g.forEach((p) => (nodes.get(p)!.hardlinkGroup = i)));
  return { root, nodeCount: order.size };
}
