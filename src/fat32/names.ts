/**
 * FAT names: validating long names, 8.3 short names with numeric tails, the
 * NT lower-case bits, case-insensitive comparison and the volume label.
 * fatgen103 §6 (short names), §7 (long names, basis-name generation).
 */
import { fail } from "../bin/errors.js";
import { NTRES_LOWER_BASE, NTRES_LOWER_EXT } from "./dirent.js";

export const MAX_LFN_UNITS = 255;
/** Characters a long name may not contain besides controls (< 0x20); the Linux vfat driver's list. */
const LFN_FORBIDDEN = new Set(['"', "*", "/", ":", "<", ">", "?", "\\", "|"]);
/** Characters allowed in a short name besides A-Z and 0-9 (fatgen103 §6.1). */
const SFN_SPECIAL = new Set(["$", "%", "'", "-", "_", "@", "~", "`", "!", "(", ")", "{", "}", "^", "#", "&"]);

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The name as text; FAT stores UTF-16, so the bytes must be valid UTF-8. */
export function decodeName(bytes: Uint8Array, path: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    fail("E_TREE", `the name is not valid UTF-8; FAT stores names as UTF-16, rename it`, path);
  }
}

/** Throws E_TREE when FAT cannot hold `name` as a long name. */
export function validateLongName(name: string, path: string): void {
  if (name === "" || name === "." || name === "..") fail("E_TREE", `"${name}" cannot be a FAT file name`, path);
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20) fail("E_TREE", `the name holds control character U+${c.toString(16).padStart(4, "0")}, which FAT forbids; rename it`, path);
    if (LFN_FORBIDDEN.has(ch)) fail("E_TREE", `the name holds "${ch}", which FAT forbids (forbidden: " * / : < > ? \\ |); rename it`, path);
  }
  const last = name[name.length - 1];
  if (last === "." || last === " ") fail("E_TREE", `the name ends with ${last === "." ? "a dot" : "a space"}, which FAT drivers strip; rename it`, path);
  if (name.length > MAX_LFN_UNITS) fail("E_TREE", `the name is ${name.length} UTF-16 units long, FAT holds at most ${MAX_LFN_UNITS}`, path);
}

/**
 * Case folding for the "two names differ only in case" check: ASCII a-z and
 * the Latin-1 letters U+00E0..U+00FE (except U+00F7) fold to upper case,
 * U+00FF to U+0178. It is a fixed table (no locale, no ICU version), a superset
 * of what the Linux vfat driver folds with iocharset=utf8 (ASCII), and a
 * subset of the Windows and UEFI up-case tables.
 */
export function foldName(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) out += String.fromCharCode(c - 0x20);
    else if (c >= 0xe0 && c <= 0xfe && c !== 0xf7) out += String.fromCharCode(c - 0x20);
    else if (c === 0xff) out += "\u0178";
    else out += name[i];
  }
  return out;
}

export function utf16Units(name: string): Uint16Array {
  const u = new Uint16Array(name.length);
  for (let i = 0; i < name.length; i++) u[i] = name.charCodeAt(i);
  return u;
}

const isUpper = (c: string) => c >= "A" && c <= "Z";
const isLower = (c: string) => c >= "a" && c <= "z";
const isDigit = (c: string) => c >= "0" && c <= "9";
const isSfnChar = (c: string) => isUpper(c) || isLower(c) || isDigit(c) || SFN_SPECIAL.has(c);

function pad11(base: string, ext: string): Uint8Array {
  const out = new Uint8Array(11).fill(0x20);
  for (let i = 0; i < base.length; i++) out[i] = base.charCodeAt(i);
  for (let i = 0; i < ext.length; i++) out[8 + i] = ext.charCodeAt(i);
  return out;
}

/** Splits "base.ext" when the name has the 8.3 shape (ignoring case), else undefined. */
function split83(name: string): { base: string; ext: string } | undefined {
  const dot = name.indexOf(".");
  const base = dot < 0 ? name : name.slice(0, dot);
  const ext = dot < 0 ? "" : name.slice(dot + 1);
  if (base.length < 1 || base.length > 8 || ext.length > 3 || (dot >= 0 && ext.length === 0)) return undefined;
  if (![...base].every(isSfnChar) || ![...ext].every(isSfnChar)) return undefined;
  return { base, ext };
}

/** Letters all one case: "upper", "lower", or "mixed" (no letters counts as upper). */
function caseOf(s: string): "upper" | "lower" | "mixed" {
  let up = false;
  let lo = false;
  for (const c of s) {
    if (isUpper(c)) up = true;
    else if (isLower(c)) lo = true;
  }
  return up && lo ? "mixed" : lo ? "lower" : "upper";
}

export interface ShortName {
  /** DIR_Name: 11 bytes, upper case, space padded. */
  name11: Uint8Array;
  /** DIR_NTRes case bits. */
  ntRes: number;
}

/**
 * The short entry alone holds the name: an 8.3-shaped ASCII name whose base
 * and extension are each all upper or all lower case. Lower-case parts are
 * stored upper case with the NT case bits, the way Windows NT and Linux
 * (`shortname=mixed`, the default) write and read them; no long-name entries.
 */
export function exactShortName(name: string): ShortName | undefined {
  const p = split83(name);
  if (!p) return undefined;
  const cb = caseOf(p.base);
  const ce = caseOf(p.ext);
  if (cb === "mixed" || ce === "mixed") return undefined;
  return {
    name11: pad11(p.base.toUpperCase(), p.ext.toUpperCase()),
    ntRes: (cb === "lower" ? NTRES_LOWER_BASE : 0) | (ce === "lower" ? NTRES_LOWER_EXT : 0),
  };
}

/** 8.3-shaped ASCII name in mixed case ("Readme.txt"): its upper-cased form, used without a tail. */
export function caseOnlyShortName(name: string): Uint8Array | undefined {
  const p = split83(name);
  return p ? pad11(p.base.toUpperCase(), p.ext.toUpperCase()) : undefined;
}

/**
 * Basis name, fatgen103 §7 "Basis-Name Generation Algorithm": upper-case
 * ASCII; every other character (each non-ASCII code point, and + , ; = [ ] ...)
 * becomes "_"; spaces are dropped, then leading periods; the base is the text
 * before the last period with any other periods dropped, cut to 8 characters,
 * the extension the first 3 characters after it.
 */
export function basisName(name: string): { base: string; ext: string } {
  let s = "";
  for (const ch of name) {
    if (ch === " ") continue;
    if (ch === ".") s += ".";
    else if (ch.length === 1 && isSfnChar(ch)) s += ch.toUpperCase();
    else s += "_";
  }
  s = s.replace(/^\.+/, "");
  const dot = s.lastIndexOf(".");
  let base = (dot < 0 ? s : s.slice(0, dot)).replaceAll(".", "");
  const ext = dot < 0 ? "" : s.slice(dot + 1, dot + 4);
  base = base.slice(0, 8);
  if (base === "") base = "_";
  return { base, ext };
}

/** "BASE~n.EXT" as DIR_Name: the base cut so that base + "~n" fits 8 characters. */
export function tailedShortName(basis: { base: string; ext: string }, n: number): Uint8Array {
  const tail = "~" + n;
  return pad11(basis.base.slice(0, 8 - tail.length) + tail, basis.ext);
}

/** Highest numeric tail tried before giving up (fatgen103 allows ~1 .. ~999999). */
export const MAX_TAIL = 999999;

export const NO_NAME_LABEL = "NO NAME    ";

/**
 * The volume label as systemd-repart hands it to mkfs.vfat (repart's
 * mangle_fat_label): each non-ASCII code point becomes "_", the result is cut
 * to 11 characters and upper-cased (ASCII), and * ? . , ; : / \ | + = < > [ ] "
 * and control characters become "_". Space padded to 11 bytes. No label, or an
 * empty one, or one that mangles to "NO NAME", gives "NO NAME    " (mkfs.fat's
 * default) and, as mkfs.fat does, no label entry.
 */
export function mangleLabel(label: string | undefined): { bytes: Uint8Array; present: boolean } {
  const out = new Uint8Array(11).fill(0x20);
  if (label === undefined || label === "") return { bytes: Uint8Array.from(NO_NAME_LABEL, (c) => c.charCodeAt(0)), present: false };
  let s = "";
  for (const ch of label) s += ch.codePointAt(0)! < 0x80 ? ch : "_";
  s = s.slice(0, 11).toUpperCase();
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const code = c.charCodeAt(0);
    out[i] = '*?.,;:/\\|+=<>[]"'.includes(c) || code < 0x20 || code === 0x7f ? 0x5f : code;
  }
  // mkfs.fat writes no label entry for an empty label or for its default name.
  if (out.every((b) => b === 0x20) || String.fromCharCode(...out) === NO_NAME_LABEL) return mangleLabel(undefined);
  return { bytes: out, present: true };
}

/**
 * Why a label cannot be a FAT volume label after mangling, or undefined: one
 * that starts with a space is refused by mkfs.fat and read differently by
 * fsck.fat and blkid.
 */
export function fatLabelProblem(label: string | undefined): string | undefined {
  const m = mangleLabel(label);
  if (m.present && m.bytes[0] === 0x20) return `FAT volume label ${JSON.stringify(label)} starts with a space, which mkfs.fat refuses and fsck.fat removes`;
  return undefined;
}
