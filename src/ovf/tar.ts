/**
 * Deterministic tar members: POSIX ustar headers (IEEE Std 1003.1-2017,
 * pax "ustar Interchange Format"), 512-byte blocks.
 *
 *   off  len  field      what we write
 *     0  100  name       member name, ASCII, 1..100 bytes (longer names refused:
 *                        no prefix splitting, no PAX or GNU long-name records)
 *   100    8  mode       "0000644\0"
 *   108    8  uid        "0000000\0"
 *   116    8  gid        "0000000\0"
 *   124   12  size       11 octal digits + NUL up to 8 GiB - 1; larger sizes use
 *                        the GNU base-256 form (byte 0 = 0x80, then the size
 *                        big-endian in the 11 remaining bytes), which GNU tar,
 *                        bsdtar/libarchive and Python's tarfile read
 *   136   12  mtime      11 octal digits + NUL: the build's fsTimeSec
 *   148    8  chksum     6 octal digits, NUL, space (sum of the header bytes with
 *                        this field counted as spaces)
 *   156    1  typeflag   "0" regular file
 *   157  100  linkname   zeros
 *   257    6  magic      "ustar\0"
 *   263    2  version    "00"
 *   265   32  uname      "root"
 *   297   32  gname      "root"
 *   329    8  devmajor   "0000000\0"
 *   337    8  devminor   "0000000\0"
 *   345  155  prefix     zeros
 *   500   12  pad        zeros
 *
 * No PAX extended headers are written, so no access/change times can leak in.
 * The archive ends with two zero blocks and is padded with zeros to a whole
 * 10240-byte record (the default blocking factor 20 of tar and bsdtar).
 */
import { fail } from "../bin/errors.js";
import { defineStruct } from "../bin/struct.js";
import { utf8 } from "../bin/text.js";

export const TAR_BLOCK_BYTES = 512;
export const TAR_RECORD_BYTES = 10240;
/** Largest size the 11-digit octal field holds: 8 GiB - 1. */
export const USTAR_MAX_OCTAL_SIZE = 0o77777777777;
/** Largest size we encode at all (base-256 holds more; JavaScript integers stop here). */
export const TAR_MAX_SIZE_BYTES = Number.MAX_SAFE_INTEGER;
export const USTAR_NAME_BYTES = 100;

export const UstarHeader = defineStruct("UstarHeader", TAR_BLOCK_BYTES, {
  name: { off: 0, type: "bytes", len: 100 },
  mode: { off: 100, type: "bytes", len: 8 },
  uid: { off: 108, type: "bytes", len: 8 },
  gid: { off: 116, type: "bytes", len: 8 },
  size: { off: 124, type: "bytes", len: 12 },
  mtime: { off: 136, type: "bytes", len: 12 },
  chksum: { off: 148, type: "bytes", len: 8 },
  typeflag: { off: 156, type: "bytes", len: 1 },
  linkname: { off: 157, type: "bytes", len: 100 },
  magic: { off: 257, type: "bytes", len: 6 },
  version: { off: 263, type: "bytes", len: 2 },
  uname: { off: 265, type: "bytes", len: 32 },
  gname: { off: 297, type: "bytes", len: 32 },
  devmajor: { off: 329, type: "bytes", len: 8 },
  devminor: { off: 337, type: "bytes", len: 8 },
  prefix: { off: 345, type: "bytes", len: 155 },
  pad: { off: 500, type: "bytes", len: 12 },
});

const CHKSUM_OFF = 148;

export interface TarMember {
  /** ASCII, 1..100 bytes, no NUL. */
  readonly name: string;
  readonly sizeBytes: number;
}

export interface TarDefaults {
  readonly mtimeSec: number;
}

export const TAR_MODE = 0o644;
export const TAR_OWNER_NAME = "root";

/** `digits` octal digits followed by NUL; refuses values that do not fit. */
export function octalField(v: number, fieldBytes: number, where: string): Uint8Array {
  const digits = fieldBytes - 1;
  if (!Number.isSafeInteger(v) || v < 0) fail("E_FORMAT", `${v} is not a non-negative integer`, where);
  const s = v.toString(8).padStart(digits, "0");
  if (s.length > digits) fail("E_FORMAT", `${v} does not fit ${digits} octal digits`, where);
  const out = new Uint8Array(fieldBytes);
  out.set(utf8(s));
  out[digits] = 0;
  return out;
}

/** GNU base-256: 0x80 then the value big-endian in the remaining bytes. */
export function base256Field(v: number, fieldBytes: number, where: string): Uint8Array {
  if (!Number.isSafeInteger(v) || v < 0) fail("E_FORMAT", `${v} is not a non-negative integer`, where);
  const out = new Uint8Array(fieldBytes);
  out[0] = 0x80;
  let rest = v;
  for (let i = fieldBytes - 1; i >= 1; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  if (rest !== 0) fail("E_FORMAT", `${v} does not fit ${fieldBytes - 1} base-256 bytes`, where);
  return out;
}

export function sizeField(sizeBytes: number, where: string): Uint8Array {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0 || sizeBytes > TAR_MAX_SIZE_BYTES) fail("E_FORMAT", `member size ${sizeBytes} is out of range`, where);
  return sizeBytes <= USTAR_MAX_OCTAL_SIZE ? octalField(sizeBytes, 12, where) : base256Field(sizeBytes, 12, where);
}

function checkName(name: string): Uint8Array {
  const where = "UstarHeader.name";
  if (!/^[\x21-\x7e]+$/.test(name)) fail("E_FORMAT", `member name ${JSON.stringify(name)} must be printable ASCII without spaces`, where);
  if (name.startsWith("/") || name.split("/").some((p) => p === ".." || p === "")) fail("E_FORMAT", `member name ${JSON.stringify(name)} must be a relative path without empty or ".." parts`, where);
  const b = utf8(name);
  if (b.length > USTAR_NAME_BYTES) fail("E_FORMAT", `member name is ${b.length} bytes; ustar names hold ${USTAR_NAME_BYTES} (longer names are not supported)`, where);
  return b;
}

function ascii(s: string, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(utf8(s));
  return out;
}

/** The 512-byte header of a regular file member. */
export function encodeUstarHeader(m: TarMember, d: TarDefaults): Uint8Array {
  const h = UstarHeader.encode({
    name: checkName(m.name),
    mode: octalField(TAR_MODE, 8, "UstarHeader.mode"),
    uid: octalField(0, 8, "UstarHeader.uid"),
    gid: octalField(0, 8, "UstarHeader.gid"),
    size: sizeField(m.sizeBytes, "UstarHeader.size"),
    mtime: octalField(d.mtimeSec, 12, "UstarHeader.mtime"),
    chksum: ascii("        ", 8),
    typeflag: ascii("0", 1),
    magic: ascii("ustar\0", 6),
    version: ascii("00", 2),
    uname: ascii(TAR_OWNER_NAME, 32),
    gname: ascii(TAR_OWNER_NAME, 32),
    devmajor: octalField(0, 8, "UstarHeader.devmajor"),
    devminor: octalField(0, 8, "UstarHeader.devminor"),
  });
  let sum = 0;
  for (let i = 0; i < h.length; i++) sum += h[i];
  const c = sum.toString(8).padStart(6, "0");
  h.set(utf8(c), CHKSUM_OFF);
  h[CHKSUM_OFF + 6] = 0;
  h[CHKSUM_OFF + 7] = 0x20;
  return h;
}

/** Zero bytes after a member's data up to the next block. */
export function tarPaddingBytes(sizeBytes: number): number {
  return (TAR_BLOCK_BYTES - (sizeBytes % TAR_BLOCK_BYTES)) % TAR_BLOCK_BYTES;
}

/** Total archive bytes for members of these sizes: headers, data, padding, two end blocks, record padding. */
export function tarArchiveBytes(sizes: readonly number[]): number {
  let n = 0;
  for (const s of sizes) n += TAR_BLOCK_BYTES + s + tarPaddingBytes(s);
  n += 2 * TAR_BLOCK_BYTES;
  return n + ((TAR_RECORD_BYTES - (n % TAR_RECORD_BYTES)) % TAR_RECORD_BYTES);
}
