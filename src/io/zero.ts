/** Zero detection by whole words, never a per-byte loop over the buffer. */
const ZERO = Buffer.alloc(1 << 16);

export function isAllZero(u8: Uint8Array, start = 0, end = u8.length): boolean {
  let i = start;
  while (i < end) {
    const n = Math.min(end - i, ZERO.length);
    if (Buffer.compare(u8.subarray(i, i + n), ZERO.subarray(0, n)) !== 0) return false;
    i += n;
  }
  return true;
}
