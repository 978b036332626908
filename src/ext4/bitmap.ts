/**
 * Block and inode bitmaps (kernel Documentation/filesystems/ext4/
 * blockgroup.rst): bit i of byte i/8 (least significant bit first) is set
 * when block/inode i of the group is in use. A 4 KiB bitmap block covers
 * 32768 blocks; the inode bitmap uses inodesPerGroup/8 bytes and the rest of
 * its block is padded with 1 bits, as is the tail of the last group's block
 * bitmap past the end of the file system (e2fsck checks both paddings).
 *
 * `setBits` is the fast codec (whole bytes filled at once); `setBitsSlow` is
 * the readable one-bit-at-a-time reference the property test compares it to.
 */

/** Sets bits [from, to) of `bm`. */
export function setBits(bm: Uint8Array, from: number, to: number): void {
  if (to <= from) return;
  let i = from;
  // Leading partial byte.
  while (i < to && (i & 7) !== 0) {
    bm[i >>> 3] |= 1 << (i & 7);
    i++;
  }
  // Whole bytes.
  const wholeEnd = to & ~7;
  if (wholeEnd > i) {
    bm.fill(0xff, i >>> 3, wholeEnd >>> 3);
    i = wholeEnd;
  }
  // Trailing partial byte.
  while (i < to) {
    bm[i >>> 3] |= 1 << (i & 7);
    i++;
  }
}

export function setBitsSlow(bm: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) bm[Math.floor(i / 8)] |= 1 << i % 8;
}
