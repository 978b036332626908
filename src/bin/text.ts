/** Text encoders that measure bytes, never characters. */
import { fail } from "./errors.js";

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);
export const utf8Decode = (b: Uint8Array): string => new TextDecoder("utf-8", { fatal: false }).decode(b);

/** UTF-16LE code units of `s` (surrogate pairs count as two units). */
export function utf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i * 2] = c & 0xff;
    out[i * 2 + 1] = c >>> 8;
  }
  return out;
}

/** Byte-wise comparison (memcmp order), the only order mkdisk sorts names in. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function asciiField(s: string, lenBytes: number, where: string): Uint8Array {
  const b = utf8(s);
  if (b.length > lenBytes) fail("E_FORMAT", `"${s}" is ${b.length} bytes, the field holds ${lenBytes}`, where);
  const out = new Uint8Array(lenBytes);
  out.set(b);
  return out;
}
