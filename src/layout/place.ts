/**
 * Partition placement: pure arithmetic, no I/O. With "alignment": "4K" it is
 * systemd-repart 252's placement for a new disk, partition for partition
 * (test/layout/repart.test.ts runs repart itself on the same definitions);
 * larger alignments generalise the same rules.
 *
 * Geometry (N = disk sectors, s = sector size, g = 4096 = repart's grain):
 * - First usable LBA: 1 MiB when the disk is larger than 4 MiB, else just past
 *   the entry array (libfdisk's rule; gpt.ts firstUsableLba). The usable area
 *   is [alignUp(firstUsable·s, alignment), alignDown((lastUsable+1)·s, g)).
 * - Sizes are whole grains: minimums round up to 4096 (a partition is never
 *   smaller than asked), and so do maximums.
 * - A partition's footprint is its size rounded up to the alignment (the next
 *   partition starts there); the last partition's footprint is its size.
 *   Partitions are packed back to back by footprint in layout order. With
 *   alignment 4K footprint = size, which is repart's packing.
 * - "auto" disk size = alignUp(1 MiB (aligned) + Σ minimum footprints + backup
 *   GPT, g): 1069056 + Σ for 4K alignment, repart's GPT_METADATA_SIZE rule. On
 *   disks over 4 MiB every partition then gets exactly its minimum; on smaller
 *   ones the usable area starts earlier, and the slack is shared as below.
 * - Sharing the usable area (repart's weights, all partitions weight 1000; a
 *   partition without "grow" has min = max): passes OVERCHARGE, UNDERCHARGE,
 *   DISTRIBUTE, each repeated while it fixes a size. A partition's share is
 *   span·1000/W of what is still unassigned (span) over the weights not yet
 *   fixed (W). OVERCHARGE fixes partitions whose minimum footprint exceeds the
 *   share at the minimum; UNDERCHARGE fixes those whose maximum footprint is
 *   below it at the maximum; DISTRIBUTE gives each the share rounded down to
 *   the alignment, clamped to [min, max]. Each fix subtracts the footprint from
 *   span, so later partitions see the rest. What rounding leaves over goes to
 *   the first partitions (in order) that can still grow; anything else stays
 *   unpartitioned at the end of the disk.
 */
import { fail } from "../bin/errors.js";
import { alignDown, alignUp } from "../bin/int.js";
import { entryArraySectors, firstUsableLba, lastUsableLba } from "../gpt/gpt.js";
import { formatSize } from "./units.js";

export const GRAIN_BYTES = 4096;
export const FIRST_PARTITION_OFFSET_BYTES = 1 << 20;
/** repart's default Weight=: every partition has it, so shares are equal. */
const WEIGHT = 1000n;

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

/** The backup GPT at the end of the disk: entry array + header. */
export function gptTailBytes(sectorBytes: number): number {
  return (entryArraySectors(sectorBytes) + 1) * sectorBytes;
}

/** span·w/W in integers (BigInt: span·1000 can pass 2^53). */
function scaleByWeight(span: number, weight: bigint, weightSum: bigint): number {
  if (weight === 0n) return 0;
  if (weight === weightSum) return span;
  return Number((BigInt(span) * weight) / weightSum);
}

export function placePartitions(parts: readonly PlacementInput[], diskBytes: number | "auto", sectorBytes: number, alignmentBytes: number): PlacementResult {
  const n = parts.length;
  const last = n - 1;
  const grain = Math.max(GRAIN_BYTES, sectorBytes);
  const unitOf = (i: number) => (i === last ? grain : alignmentBytes);
  /** Bytes from this partition's start to the next one's. */
  const foot = (i: number, sizeBytes: number) => (i === last ? sizeBytes : alignUp(sizeBytes, alignmentBytes));

  const mins = parts.map((p) => Math.max(alignUp(p.minBytes, grain), grain));
  const maxs = parts.map((p, i) => (!p.grow ? mins[i] : p.maxBytes === undefined ? Infinity : Math.max(mins[i], alignUp(p.maxBytes, grain))));
  const need = mins.reduce((sum, m, i) => sum + foot(i, m), 0);
  const autoBytes = alignUp(alignUp(FIRST_PARTITION_OFFSET_BYTES, alignmentBytes) + need + gptTailBytes(sectorBytes), grain);

  let totalBytes: number;
  if (diskBytes === "auto") totalBytes = autoBytes;
  else {
    if (diskBytes % sectorBytes !== 0) fail("E_LAYOUT", `disk size ${diskBytes} is not a multiple of the sector size ${sectorBytes}`, "size");
    totalBytes = diskBytes;
  }
  const totalSectors = totalBytes / sectorBytes;
  const tooSmall = () =>
    fail("E_FIT", `the partitions need a disk of at least ${formatSize(autoBytes)} (${autoBytes} bytes); the layout gives ${formatSize(totalBytes)}. Raise "size" or use "auto"`, "size");
  if (totalSectors < 2 * (entryArraySectors(sectorBytes) + 1) + 1) tooSmall();

  const areaStart = alignUp(firstUsableLba(sectorBytes, totalSectors) * sectorBytes, alignmentBytes);
  const areaEnd = alignDown((lastUsableLba(sectorBytes, totalSectors) + 1) * sectorBytes, grain);
  const area = Math.max(0, areaEnd - areaStart);
  if (need > area) tooSmall();

  // Share the area (see the header comment).
  const sizes: (number | undefined)[] = parts.map(() => undefined);
  let span = area;
  let weights = WEIGHT * BigInt(n);
  const fix = (i: number, sizeBytes: number) => {
    sizes[i] = sizeBytes;
    span = Math.max(0, span - foot(i, sizeBytes));
    weights -= WEIGHT;
  };
  for (const phase of ["overcharge", "undercharge", "distribute"] as const) {
    for (let again = true; again; ) {
      again = false;
      for (let i = 0; i < n; i++) {
        if (sizes[i] !== undefined) continue;
        const share = scaleByWeight(span, WEIGHT, weights);
        if (phase === "overcharge" && foot(i, mins[i]) > share) {
          fix(i, mins[i]);
          again = true;
        } else if (phase === "undercharge" && foot(i, maxs[i]) < share) {
          fix(i, maxs[i]);
          again = true;
        } else if (phase === "distribute") {
          fix(i, Math.min(Math.max(alignDown(share, unitOf(i)), mins[i]), maxs[i]));
        }
      }
      if (phase === "distribute") break;
    }
  }
  const final = sizes as number[];
  // Leftover: to the first partitions that can still grow, in layout order.
  for (let i = 0; i < n && span > 0; i++) {
    const had = foot(i, final[i]);
    const grown = Math.min(Math.max(alignDown(had + span, unitOf(i)), final[i]), maxs[i]);
    span = Math.max(0, span - (foot(i, grown) - had));
    final[i] = grown;
  }

  let pos = areaStart;
  const partitions = final.map((sizeBytes, i) => {
    const startBytes = pos;
    pos += foot(i, sizeBytes);
    return { startBytes, sizeBytes };
  });
  if (pos > areaEnd) fail("E_INTERNAL", `placement overflowed the disk (${pos} > ${areaEnd})`);
  return { totalBytes, partitions };
}
