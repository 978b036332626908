/**
 * The file allocation table, fatgen103 §4: one little-endian u32 per cluster,
 * the top 4 bits reserved (written 0).
 *   entry 0      0x0FFFFF00 | BPB_Media
 *   entry 1      0x0FFFFFFF (end-of-chain value; "clean" and "no error" bits set)
 *   entry c      next cluster of the chain, or EOC on its last cluster, 0 when free
 *
 * mkdisk allocates every file and directory as one contiguous run, and runs
 * follow each other from cluster 2 without gaps, so the used part of the FAT
 * is described by the list of run lengths. This is the hot codec: it fills a
 * window of the table straight from the runs.
 */
export const FAT_EOC = 0x0fffffff;
export const FAT_FREE = 0;

export interface Run {
  readonly firstCluster: number;
  readonly clusterCount: number;
}

/**
 * Writes FAT entries [firstEntry, firstEntry + out.length/4) into `out`.
 * `runs` are in cluster order, contiguous from cluster 2; `hint` is an index
 * into `runs` at or before the run holding `firstEntry` (returned updated, so
 * consecutive windows cost O(entries + runs) in total).
 */
export function encodeFatWindow(runs: readonly Run[], media: number, firstEntry: number, out: Uint8Array, hint = 0): number {
  const d = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const n = out.length >>> 2;
  let r = hint;
  for (let i = 0; i < n; i++) {
    const c = firstEntry + i;
    let v: number;
    if (c === 0) v = 0x0fffff00 | media;
    else if (c === 1) v = FAT_EOC;
    else {
      while (r < runs.length && runs[r].firstCluster + runs[r].clusterCount <= c) r++;
      if (r >= runs.length || c < runs[r].firstCluster) v = FAT_FREE;
      else v = c === runs[r].firstCluster + runs[r].clusterCount - 1 ? FAT_EOC : c + 1;
    }
    d.setUint32(i * 4, v, true);
  }
  return r;
}
