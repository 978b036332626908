/**
 * UUIDs. In memory a UUID is 16 bytes in the order of its string form
 * (RFC 9562, "big-endian"). GPT stores GUIDs mixed-endian: the first three
 * fields little-endian, the last two as they are (UEFI 2.10 Appendix A);
 * `guidToGptBytes`/`guidFromGptBytes` are the only places that convert.
 */
import { parse as uuidParse, stringify as uuidStringify, validate as uuidValidate } from "uuid";
import { fail } from "./errors.js";

export type Uuid = Uint8Array; // length 16, RFC order

export function parseUuid(s: string, where = "uuid"): Uuid {
  if (typeof s !== "string" || !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) {
    fail("E_LAYOUT", `expected a UUID like 0e9a6fe0-68f6-408c-bbeb-136054d20445, got ${JSON.stringify(s)}`, where);
  }
  // uuid's validate() rejects non-RFC variants; GPT type GUIDs need not be RFC ones.
  if (uuidValidate(s)) return Uint8Array.from(uuidParse(s));
  const hex = s.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function formatUuid(u: Uuid): string {
  if (u.length !== 16) fail("E_FORMAT", `UUID must be 16 bytes, got ${u.length}`);
  try {
    return uuidStringify(u);
  } catch {
    const h = Array.from(u, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

/** RFC-order UUID → GPT on-disk mixed-endian bytes. */
export function guidToGptBytes(u: Uuid): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = u[3]; b[1] = u[2]; b[2] = u[1]; b[3] = u[0];
  b[4] = u[5]; b[5] = u[4];
  b[6] = u[7]; b[7] = u[6];
  b.set(u.subarray(8, 16), 8);
  return b;
}

/** GPT on-disk mixed-endian bytes → RFC-order UUID (the same swap, it is an involution). */
export const guidFromGptBytes = guidToGptBytes;

export function uuidEquals(a: Uuid, b: Uuid): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
