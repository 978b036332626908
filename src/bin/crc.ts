/**
 * CRC32 (IEEE 802.3, as GPT and gzip use it) via the `crc-32` package, and
 * CRC32C (Castagnoli, as ext4 metadata_csum and jbd2 use it), table-driven with
 * slicing-by-8; tables are built once at module load.
 */
import CRC32 from "crc-32";

/** IEEE CRC32 of `data`, as an unsigned 32-bit number; `seed` continues a running CRC. */
export function crc32(data: Uint8Array, seed = 0): number {
  return CRC32.buf(data, seed) >>> 0;
}

const C_POLY = 0x82f63b78; // reflected Castagnoli polynomial
const T = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ C_POLY : c >>> 1;
  T[n] = c >>> 0;
}
for (let n = 0; n < 256; n++) {
  for (let s = 1; s < 8; s++) T[s * 256 + n] = (T[(s - 1) * 256 + n] >>> 8) ^ T[T[(s - 1) * 256 + n] & 0xff];
}

/**
 * Raw CRC32C update without the final inversion, as ext4's `ext4_chksum`
 * (Linux `crc32c_le`) uses it: start value is passed in, result is not inverted.
 */
export function crc32cRaw(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = crc >>> 0;
  let i = start;
  while (i < end && (i & 7) !== 0) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  for (; i + 8 <= end; i += 8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      T[7 * 256 + (a & 0xff)] ^
      T[6 * 256 + ((a >>> 8) & 0xff)] ^
      T[5 * 256 + ((a >>> 16) & 0xff)] ^
      T[4 * 256 + (a >>> 24)] ^
      T[3 * 256 + data[i + 4]] ^
      T[2 * 256 + data[i + 5]] ^
      T[1 * 256 + data[i + 6]] ^
      T[data[i + 7]];
  }
  while (i < end) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Standard CRC32C (init ~0, final inversion): crc32c("123456789") = 0xE3069283. */
export function crc32c(data: Uint8Array): number {
  return (crc32cRaw(0xffffffff, data) ^ 0xffffffff) >>> 0;
}
