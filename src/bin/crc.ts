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
// Int32Array and int32 arithmetic: table entries above 2^31 read from a
// Uint32Array are doubles, which made every step slower.
const T = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ C_POLY : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let s = 1; s < 8; s++) T[s * 256 + n] = (T[(s - 1) * 256 + n] >>> 8) ^ T[T[(s - 1) * 256 + n] & 0xff];
}

/** Little-endian host: then long inputs are read as 32-bit words. */
const LE = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Below this many bytes a word view costs more than it saves (inodes are checksummed in ~128-byte pieces). */
const WORDS_FROM_BYTES = 512;

/** One slicing-by-8 step: `a` is the running CRC xor the next four bytes as a little-endian word, `b` the four after. */
function step8(a: number, b: number): number {
  return (
    T[7 * 256 + (a & 0xff)] ^
    T[6 * 256 + ((a >>> 8) & 0xff)] ^
    T[5 * 256 + ((a >>> 16) & 0xff)] ^
    T[4 * 256 + (a >>> 24)] ^
    T[3 * 256 + (b & 0xff)] ^
    T[2 * 256 + ((b >>> 8) & 0xff)] ^
    T[1 * 256 + ((b >>> 16) & 0xff)] ^
    T[b >>> 24]
  );
}

const le32 = (d: Uint8Array, i: number) => d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24);

/**
 * Raw CRC32C update without the final inversion, as ext4's `ext4_chksum`
 * (Linux `crc32c_le`) uses it: start value is passed in, result is not inverted.
 */
export function crc32cRaw(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = crc | 0;
  let i = start;
  if (LE && end - start >= WORDS_FROM_BYTES) {
    // Long inputs: 32-bit words straight from the buffer, after an aligning head.
    while (((data.byteOffset + i) & 3) !== 0) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
    const pairs = (end - i) >> 3;
    const w = new Int32Array(data.buffer, data.byteOffset + i, pairs * 2);
    for (let k = 0; k < w.length; k += 2) c = step8(c ^ w[k], w[k + 1]);
    i += pairs * 8;
  } else {
    for (; i + 8 <= end; i += 8) c = step8(c ^ le32(data, i), le32(data, i + 4));
  }
  while (i < end) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Standard CRC32C (init ~0, final inversion): crc32c("123456789") = 0xE3069283. */
export function crc32c(data: Uint8Array): number {
  return (crc32cRaw(0xffffffff, data) ^ 0xffffffff) >>> 0;
}
