/**
 * Partition placement: pure arithmetic, no I/O. Matches systemd-repart's
 * placement for the same definitions (test/layout/repart.test.ts):
 *
 * - The first partition starts 1 MiB into the disk (LBA 2048 with 512-byte
 *   sectors, LBA 256 with 4096), or at the alignment when that is larger.
 * - Each later partition starts at the end of the previous one rounded up to
 *   the alignment (default 1 MiB; 4K packs them as repart does).
 * - Sizes are rounded up to a multiple of 4096 bytes (repart's grain).
 * - "auto" disk size: the end of the last partition plus room for the backup
 *   GPT (entry array + header), rounded up to 4096 bytes.
 * - Fixed disk size: the space between the last fixed partition and the last
 *   usable LBA (rounded down to 4096) is shared equally by the partitions that
 *   have "grow": true, each capped at its maxSize; what a cap leaves over goes
 *   to the others. An uneven remainder goes to the last growing partition.
 */
import { fail } from "../bin/errors.js";
import { alignDown, alignUp } from "../bin/int.js";
import { entryArraySectors, lastUsableLba } from "../gpt/gpt.js";
import { formatSize } from "./units.js";

export const GRAIN_BYTES = 4096;
export const FIRST_PARTITION_OFFSET_BYTES = 1 << 20;

export interface PlacementInput {
  readonly minBytes: number;
  readonly maxBytes?: number;
  readonly grow: boolean;
}

export interface Placement {
  readonly startBytes: number;
  readonly sizeBytes: number;
}

export interface PlacementResult {
  readonly totalBytes: number;
  readonly partitions: readonly Placement[];
}

export function gptTailBytes(sectorBytes: number): number {
  return (entryArraySectors(sectorBytes) + 1) * sectorBytes;
}

export function placePartitions(parts: readonly PlacementInput[], diskBytes: number | "auto", sectorBytes: number, alignmentBytes: number): PlacementResult {
  const firstStart = alignUp(FIRST_PARTITION_OFFSET_BYTES, alignmentBytes);
  const sizes = parts.map((p) => alignUp(p.minBytes, GRAIN_BYTES));

  const layoutWith = (sz: readonly number[]): Placement[] => {
    let pos = firstStart;
    return sz.map((s) => {
      const start = alignUp(pos, alignmentBytes);
      pos = start + s;
      return { startBytes: start, sizeBytes: s };
    });
  };

  let placed = layoutWith(sizes);
  const endOf = (pl: readonly Placement[]) => (pl.length ? pl[pl.length - 1].startBytes + pl[pl.length - 1].sizeBytes : firstStart);

  if (diskBytes === "auto") {
    const total = alignUp(endOf(placed) + gptTailBytes(sectorBytes), GRAIN_BYTES);
    return { totalBytes: total, partitions: placed };
  }

  if (diskBytes % sectorBytes !== 0) fail("E_LAYOUT", `disk size ${diskBytes} is not a multiple of the sector size ${sectorBytes}`, "size");
  const usableEnd = alignDown((lastUsableLba(sectorBytes, diskBytes / sectorBytes) + 1) * sectorBytes, GRAIN_BYTES);
  const needed = endOf(placed);
  if (needed > usableEnd) {
    const min = alignUp(needed + gptTailBytes(sectorBytes), GRAIN_BYTES);
    fail("E_FIT", `the partitions need a disk of at least ${formatSize(min)} (${min} bytes); the layout gives ${formatSize(diskBytes)}. Raise "size" or use "auto"`, "size");
  }

  // Share the free space among growing partitions, honouring maxSize. Shares
  // are multiples of the alignment, so growing one partition moves the later
  // ones by exactly its share and opens no new alignment gap; the last growing
  // partition also takes what is left over (to the grain when nothing follows it).
  const capOf = (i: number) => (parts[i].maxBytes === undefined ? Infinity : alignDown(parts[i].maxBytes!, GRAIN_BYTES));
  let free = usableEnd - needed;
  let open = parts.map((_, i) => i).filter((i) => parts[i].grow && sizes[i] < capOf(i));
  for (;;) {
    const share = alignDown(Math.floor(free / Math.max(open.length, 1)), alignmentBytes);
    if (open.length === 0 || share === 0) break;
    for (const i of open) {
      const add = Math.min(share, capOf(i) - sizes[i]);
      sizes[i] += add;
      free -= add;
    }
    open = open.filter((i) => sizes[i] < capOf(i));
  }
  if (open.length > 0) {
    const i = open[open.length - 1];
    const unit = i === parts.length - 1 ? GRAIN_BYTES : alignmentBytes;
    sizes[i] += Math.min(alignDown(free, unit), capOf(i) - sizes[i]);
  }
  placed = layoutWith(sizes);
  // A cap that is not a multiple of the alignment opens a gap after it: give it back.
  const lastGrower = parts.map((p, i) => (p.grow ? i : -1)).filter((i) => i >= 0).pop();
  if (lastGrower !== undefined && endOf(placed) > usableEnd) {
    sizes[lastGrower] = Math.max(alignUp(parts[lastGrower].minBytes, GRAIN_BYTES), sizes[lastGrower] - alignUp(endOf(placed) - usableEnd, alignmentBytes));
    placed = layoutWith(sizes);
  }
  if (endOf(placed) > usableEnd) fail("E_INTERNAL", "placement overflowed the disk");
  return { totalBytes: diskBytes, partitions: placed };
}
