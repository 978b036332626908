/**
 * A small XML element tree and its serializer (XML 1.0 Fifth Edition,
 * Namespaces in XML 1.0 Third Edition). Used for OVF descriptors, so every
 * value that reaches the output passes through one escaping function, never a
 * string template.
 *
 * Output rules (fixed, so the bytes are a function of the tree only):
 *   - declaration `<?xml version="1.0" encoding="UTF-8"?>` and '\n' line ends;
 *   - attributes in the order the tree gives them (callers build them in a
 *     fixed order); duplicate names, and duplicate expanded names after
 *     namespace resolution, are refused;
 *   - an element with element children is written one child per line,
 *     indented by two spaces per level; an element with text is written on
 *     one line; an element with neither is self-closing; mixed content
 *     (text and elements in one element) is refused;
 *   - text escapes & < > and CR; attribute values escape & < > " and TAB, LF,
 *     CR (as character references, so attribute-value normalization keeps them);
 *   - characters XML 1.0 does not allow (C0 controls other than TAB/LF/CR,
 *     U+FFFE, U+FFFF, lone surrogates) are refused, never dropped;
 *   - names are checked against an ASCII subset of QName
 *     (`prefix:local`, each `[A-Za-z_][A-Za-z0-9._-]*`), and every prefix must be
 *     declared by an `xmlns:prefix` attribute on the element or an ancestor
 *     (`xml` is predeclared, `xmlns` may not be used as an element prefix).
 */
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";

export type XmlNode = XmlElement | string;

export interface XmlElement {
  readonly name: string;
  readonly attrs: readonly (readonly [string, string])[];
  readonly children: readonly XmlNode[];
}

export type AttrValue = string | number | boolean;

export const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace";
export const XMLNS_NAMESPACE = "http://www.w3.org/2000/xmlns/";

/**
 * Builds an element. `attrs` keeps the insertion order of its keys (XML names
 * cannot look like array indices, so JavaScript's key ordering is the written
 * order); `undefined` values are left out. Children that are `undefined` or
 * `false` are skipped, so optional parts read naturally.
 */
export function el(name: string, attrs: Record<string, AttrValue | undefined> = {}, ...children: (XmlNode | undefined | false)[]): XmlElement {
  const a: [string, string][] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (typeof v === "number" && !Number.isFinite(v)) fail("E_FORMAT", `attribute value ${v} is not a finite number`, `${name}@${k}`);
    a.push([k, String(v)]);
  }
  const c: XmlNode[] = [];
  for (const ch of children) if (ch !== undefined && ch !== false) c.push(ch);
  return { name, attrs: a, children: c };
}

/** An element holding one text value. */
export function textEl(name: string, text: AttrValue, attrs: Record<string, AttrValue | undefined> = {}): XmlElement {
  return el(name, attrs, String(text));
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

function splitQName(q: string, where: string): [string | undefined, string] {
  const parts = q.split(":");
  if (parts.length > 2 || !parts.every((p) => NCNAME.test(p))) fail("E_FORMAT", `"${q}" is not a valid XML name`, where);
  return parts.length === 2 ? [parts[0], parts[1]] : [undefined, parts[0]];
}

/** Refuses characters outside the XML 1.0 Char production. */
function checkChars(s: string, where: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) fail("E_FORMAT", `control character U+${c.toString(16).padStart(4, "0")} cannot appear in XML`, where);
    if (c === 0xfffe || c === 0xffff) fail("E_FORMAT", `U+${c.toString(16)} cannot appear in XML`, where);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) fail("E_FORMAT", `lone surrogate at index ${i}`, where);
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) fail("E_FORMAT", `lone surrogate at index ${i}`, where);
  }
}

export function escapeText(s: string, where = "text"): string {
  checkChars(s, where);
  return s.replace(/[&<>\r]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&#13;"));
}

export function escapeAttr(s: string, where = "attribute"): string {
  checkChars(s, where);
  return s.replace(/[&<>"\t\n\r]/g, (c) => {
    switch (c) {
      case "&": return "&amp;";
      case "<": return "&lt;";
      case ">": return "&gt;";
      case '"': return "&quot;";
      case "\t": return "&#9;";
      case "\n": return "&#10;";
      default: return "&#13;";
    }
  });
}

type Scope = ReadonlyMap<string, string>;

function resolve(prefix: string | undefined, scope: Scope, forAttr: boolean, where: string): string {
  if (prefix === undefined) return forAttr ? "" : scope.get("") ?? "";
  if (prefix === "xml") return XML_NAMESPACE;
  const ns = scope.get(prefix);
  if (ns === undefined) fail("E_FORMAT", `namespace prefix "${prefix}" is not declared`, where);
  return ns;
}

function writeElement(e: XmlElement, parentScope: Scope, depth: number, out: string[], path: string): void {
  const where = `${path}/${e.name}`;
  const [ePrefix] = splitQName(e.name, where);
  if (ePrefix === "xmlns") fail("E_FORMAT", `element names may not use the xmlns prefix`, where);

  // Namespace declarations on this element first.
  let scope: Map<string, string> | undefined;
  for (const [k, v] of e.attrs) {
    if (k === "xmlns" || k.startsWith("xmlns:")) {
      const p = k === "xmlns" ? "" : k.slice(6);
      if (p !== "" && !NCNAME.test(p)) fail("E_FORMAT", `"${k}" is not a valid namespace declaration`, where);
      if (p === "xml" || p === "xmlns") fail("E_FORMAT", `the "${p}" prefix cannot be redeclared`, where);
      if (p !== "" && v === "") fail("E_FORMAT", `prefix "${p}" cannot be undeclared in XML 1.0`, where);
      scope ??= new Map(parentScope);
      scope.set(p, v);
    }
  }
  const s: Scope = scope ?? parentScope;
  resolve(ePrefix, s, false, where);

  const seen = new Set<string>();
  const expanded = new Set<string>();
  let tag = `<${e.name}`;
  for (const [k, v] of e.attrs) {
    const aw = `${where}@${k}`;
    if (seen.has(k)) fail("E_FORMAT", `duplicate attribute`, aw);
    seen.add(k);
    const [p, local] = splitQName(k, aw);
    if (k !== "xmlns" && p !== "xmlns") {
      const key = `{${resolve(p, s, true, aw)}}${local}`;
      if (expanded.has(key)) fail("E_FORMAT", `duplicate attribute after namespace resolution (${key})`, aw);
      expanded.add(key);
    }
    tag += ` ${k}="${escapeAttr(v, aw)}"`;
  }

  const indent = "  ".repeat(depth);
  if (e.children.length === 0) {
    out.push(`${indent}${tag}/>\n`);
    return;
  }
  const texts = e.children.filter((c): c is string => typeof c === "string");
  if (texts.length > 0) {
    if (texts.length !== e.children.length) fail("E_FORMAT", `mixed content (text and elements) is not supported`, where);
    out.push(`${indent}${tag}>${escapeText(texts.join(""), where)}</${e.name}>\n`);
    return;
  }
  out.push(`${indent}${tag}>\n`);
  for (const c of e.children) writeElement(c as XmlElement, s, depth + 1, out, where);
  out.push(`${indent}</${e.name}>\n`);
}

/** The document as a string: declaration, then the root element. */
export function serializeXml(root: XmlElement): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  writeElement(root, new Map(), 0, out, "");
  return out.join("");
}

/** The document as UTF-8 bytes (no byte order mark). */
export function encodeXml(root: XmlElement): Uint8Array {
  return utf8(serializeXml(root));
}
