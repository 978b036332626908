/**
 * Directory-index name hash: ext4 "half_md4" (kernel fs/ext4/hash.c semantics,
 * Documentation/filesystems/ext4/directory.rst "Hash Tree Directories").
 *
 * The name is cut into 32-byte pieces; each piece becomes eight 32-bit words
 * (str2hashbuf: bytes folded big-end-first into words, padded with a word made
 * of the length byte repeated) and is mixed into a 4-word state by the three
 * rounds of MD4 with half the steps. The state starts from s_hash_seed (or the
 * MD4 constants when the seed is all zero). Result: major = state[1] with bit 0
 * cleared (bit 0 marks a hash collision continuation in index entries),
 * minor = state[2]. A major of 0xFFFFFFFE (the end-of-directory marker) is
 * replaced by 0xFFFFFFFC.
 *
 * `signedChars` selects the s_flags signed/unsigned variant: with signed chars
 * bytes >= 0x80 are sign-extended before folding (what x86 mke2fs selects).
 */

const K2 = 0x5a827999; // 013240474631
const K3 = 0x6ed9eba1; // 015666365641

// All arithmetic is int32 (`| 0`), the same bits as the kernel's u32: int32
// values stay small integers in V8, so hashing allocates nothing (uint32
// values above 2^31 would be boxed as heap numbers).
const rol = (x: number, s: number) => (x << s) | (x >>> (32 - s));
const F = (x: number, y: number, z: number) => z ^ (x & (y ^ z));
const G = (x: number, y: number, z: number) => ((x & y) + ((x ^ y) & z)) | 0;
const H = (x: number, y: number, z: number) => x ^ y ^ z;

function halfMd4Transform(buf: Int32Array, inw: Int32Array): void {
  let a = buf[0], b = buf[1], c = buf[2], d = buf[3];
  // Round 1
  a = rol((a + F(b, c, d) + inw[0]) | 0, 3);
  d = rol((d + F(a, b, c) + inw[1]) | 0, 7);
  c = rol((c + F(d, a, b) + inw[2]) | 0, 11);
  b = rol((b + F(c, d, a) + inw[3]) | 0, 19);
  a = rol((a + F(b, c, d) + inw[4]) | 0, 3);
  d = rol((d + F(a, b, c) + inw[5]) | 0, 7);
  c = rol((c + F(d, a, b) + inw[6]) | 0, 11);
  b = rol((b + F(c, d, a) + inw[7]) | 0, 19);
  // Round 2
  a = rol((a + G(b, c, d) + inw[1] + K2) | 0, 3);
  d = rol((d + G(a, b, c) + inw[3] + K2) | 0, 5);
  c = rol((c + G(d, a, b) + inw[5] + K2) | 0, 9);
  b = rol((b + G(c, d, a) + inw[7] + K2) | 0, 13);
  a = rol((a + G(b, c, d) + inw[0] + K2) | 0, 3);
  d = rol((d + G(a, b, c) + inw[2] + K2) | 0, 5);
  c = rol((c + G(d, a, b) + inw[4] + K2) | 0, 9);
  b = rol((b + G(c, d, a) + inw[6] + K2) | 0, 13);
  // Round 3
  a = rol((a + H(b, c, d) + inw[3] + K3) | 0, 3);
  d = rol((d + H(a, b, c) + inw[7] + K3) | 0, 9);
  c = rol((c + H(d, a, b) + inw[2] + K3) | 0, 11);
  b = rol((b + H(c, d, a) + inw[6] + K3) | 0, 15);
  a = rol((a + H(b, c, d) + inw[1] + K3) | 0, 3);
  d = rol((d + H(a, b, c) + inw[5] + K3) | 0, 9);
  c = rol((c + H(d, a, b) + inw[0] + K3) | 0, 11);
  b = rol((b + H(c, d, a) + inw[4] + K3) | 0, 15);
  buf[0] = buf[0] + a;
  buf[1] = buf[1] + b;
  buf[2] = buf[2] + c;
  buf[3] = buf[3] + d;
}

/** Folds up to 4*num bytes of msg[off..off+len) into `num` words (str2hashbuf). */
function str2hashbuf(msg: Uint8Array, off: number, len: number, out: Int32Array, num: number, signedChars: boolean): void {
  let pad = len | (len << 8);
  pad = pad | (pad << 16);
  let val = pad;
  if (len > num * 4) len = num * 4;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const byte = msg[off + i];
    const c = signedChars && byte >= 0x80 ? byte - 256 : byte;
    val = (c + (val << 8)) | 0;
    if (i % 4 === 3) {
      out[o++] = val;
      val = pad;
      num--;
    }
  }
  if (--num >= 0) out[o++] = val;
  while (--num >= 0) out[o++] = pad;
}

export interface DxHash {
  /** Major hash, bit 0 clear. */
  major: number;
  minor: number;
}

/** Hash seed words from s_hash_seed (16 bytes, read as four le32). */
export function hashSeedWords(seed: Uint8Array): Uint32Array {
  const d = new DataView(seed.buffer, seed.byteOffset, 16);
  return Uint32Array.of(d.getUint32(0, true), d.getUint32(4, true), d.getUint32(8, true), d.getUint32(12, true));
}

const MD4_INIT = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
const STATE = new Int32Array(4);
const WORDS = new Int32Array(8);

/**
 * Writes the hash of the name name[from, to) (the whole array by default) as
 * out[at] = major, out[at + 1] = minor, with no allocation (directories hash
 * every name they index, from one packed array of names).
 */
export function halfMd4HashInto(name: Uint8Array, seedWords: Uint32Array, signedChars: boolean, out: Uint32Array, at: number, from = 0, to = name.length): void {
  const seeded = seedWords[0] | seedWords[1] | seedWords[2] | seedWords[3];
  if (seeded) for (let i = 0; i < 4; i++) STATE[i] = seedWords[i];
  else STATE.set(MD4_INIT);
  let len = to - from;
  let p = from;
  // The kernel loops while len > 0; an empty name is never hashed (no such entry exists).
  while (len > 0) {
    str2hashbuf(name, p, len, WORDS, 8, signedChars);
    halfMd4Transform(STATE, WORDS);
    len -= 32;
    p += 32;
  }
  let major = (STATE[1] & ~1) >>> 0;
  if (major === 0xfffffffe) major = 0xfffffffc; // (EXT4_HTREE_EOF_32BIT - 1) << 1
  out[at] = major;
  out[at + 1] = STATE[2];
}

export function halfMd4Hash(name: Uint8Array, seedWords: Uint32Array, signedChars: boolean): DxHash {
  const out = new Uint32Array(2);
  halfMd4HashInto(name, seedWords, signedChars, out, 0);
  return { major: out[0], minor: out[1] };
}
