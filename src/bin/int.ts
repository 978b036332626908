/**
 * Explicit-endian integer codecs over a DataView. The endianness is in every
 * name; nothing here depends on the platform's byte order. Every writer checks
 * that the value is an integer in range and throws E_FORMAT otherwise, so a
 * value is never silently wrapped or truncated.
 */
import { fail } from "./errors.js";

/** One DataView per buffer, always built with offset and length. */
export function view(u8: Uint8Array): DataView {
  return new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
}

function check(value: number, bits: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || (bits < 53 && value >= 2 ** bits)) {
    fail("E_FORMAT", `value ${value} does not fit an unsigned ${bits}-bit field`, name);
  }
}

export const u8w = (d: DataView, off: number, v: number, name = "u8") => (check(v, 8, name), d.setUint8(off, v));
export const u16le = (d: DataView, off: number, v: number, name = "u16le") => (check(v, 16, name), d.setUint16(off, v, true));
export const u16be = (d: DataView, off: number, v: number, name = "u16be") => (check(v, 16, name), d.setUint16(off, v, false));
export const u32le = (d: DataView, off: number, v: number, name = "u32le") => (check(v, 32, name), d.setUint32(off, v, true));
export const u32be = (d: DataView, off: number, v: number, name = "u32be") => (check(v, 32, name), d.setUint32(off, v, false));
/** 64-bit fields hold values up to 2^53-1 (bigger values are refused, not rounded). */
export function u64le(d: DataView, off: number, v: number, name = "u64le"): void {
  check(v, 64, name);
  d.setUint32(off, v % 0x1_0000_0000, true);
  d.setUint32(off + 4, Math.floor(v / 0x1_0000_0000), true);
}
export function u64be(d: DataView, off: number, v: number, name = "u64be"): void {
  check(v, 64, name);
  d.setUint32(off, Math.floor(v / 0x1_0000_0000), false);
  d.setUint32(off + 4, v % 0x1_0000_0000, false);
}

export const r8 = (d: DataView, off: number) => d.getUint8(off);
export const r16le = (d: DataView, off: number) => d.getUint16(off, true);
export const r16be = (d: DataView, off: number) => d.getUint16(off, false);
export const r32le = (d: DataView, off: number) => d.getUint32(off, true);
export const r32be = (d: DataView, off: number) => d.getUint32(off, false);
/** Reads a 64-bit field; throws E_IMAGE when it exceeds 2^53-1 rather than losing precision. */
export function r64le(d: DataView, off: number, name = "u64le"): number {
  const v = d.getUint32(off, true) + d.getUint32(off + 4, true) * 0x1_0000_0000;
  if (!Number.isSafeInteger(v)) fail("E_IMAGE", `64-bit value too large`, name);
  return v;
}
export function r64be(d: DataView, off: number, name = "u64be"): number {
  const v = d.getUint32(off, false) * 0x1_0000_0000 + d.getUint32(off + 4, false);
  if (!Number.isSafeInteger(v)) fail("E_IMAGE", `64-bit value too large`, name);
  return v;
}

/** Ceiling division of non-negative integers. */
export const divCeil = (a: number, b: number) => Math.floor((a + b - 1) / b);
export const alignUp = (a: number, b: number) => divCeil(a, b) * b;
export const alignDown = (a: number, b: number) => Math.floor(a / b) * b;
export const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
