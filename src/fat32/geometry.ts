/**
 * FAT32 volume geometry: pure arithmetic from (size, sector size, cluster
 * size) to the position of every region.
 *
 *   sector 0               boot sector         (copy at sector 6)
 *   sector 1               FSInfo              (copy at sector 7)
 *   sectors 0..R-1         reserved region, R = BPB_RsvdSecCnt
 *   R .. R+F-1             FAT 1, F = BPB_FATSz32
 *   R+F .. R+2F-1          FAT 2
 *   R+2F ..                data region: cluster c starts at sector R + 2F + (c-2)*S
 *
 * Cluster size follows mkfs.fat 4.2 (which follows fatgen103's FAT32 table),
 * by the partition size rounded up to MiB:
 *      <= 260 MiB   512 B        <= 16 GiB   8 KiB
 *      <=   8 GiB   4 KiB        <= 32 GiB  16 KiB        larger  32 KiB
 * never smaller than one sector. Like mkfs.fat (without -a), R and F are
 * rounded up to a multiple of the cluster's sectors S, so that the data region
 * is cluster-aligned relative to the partition start: R = max(32, S).
 */
import { alignUp, divCeil } from "../bin/int.js";

export const RESERVED_SECTORS_MIN = 32;
export const NUM_FATS = 2;
export const FSINFO_SECTOR = 1;
export const BACKUP_BOOT_SECTOR = 6;
export const ROOT_CLUSTER = 2;
/** fatgen103 §3.5: a volume with fewer clusters is FAT16 by definition. */
export const MIN_CLUSTERS_FAT32 = 65525;
/** Cluster numbers are 28 bits and 0x0FFFFFF7.. are reserved: at most 0x0FFFFFF5 clusters (2 .. 0x0FFFFFF6). */
export const MAX_CLUSTERS_FAT32 = 0x0ffffff5;
export const FAT_ENTRY_BYTES = 4;
const MiB = 1024 * 1024;

export interface Geometry {
  sectorBytes: number;
  totalSectors: number;
  sectorsPerCluster: number;
  clusterBytes: number;
  reservedSectors: number;
  fatSectors: number;
  /** First sector of cluster 2. */
  dataStartSector: number;
  /** Usable clusters, numbered 2 .. clusterCount+1. */
  clusterCount: number;
}

/** mkfs.fat 4.2's FAT32 cluster size for a partition of `sizeBytes` (see the table above). */
export function defaultClusterBytes(sizeBytes: number, sectorBytes: number): number {
  const sizeMiB = divCeil(sizeBytes, MiB);
  const bytes = sizeMiB > 32 * 1024 ? 32768 : sizeMiB > 16 * 1024 ? 16384 : sizeMiB > 8 * 1024 ? 8192 : sizeMiB > 260 ? 4096 : 512;
  return Math.max(bytes, sectorBytes);
}

/**
 * Lays out a volume of `totalSectors` with the given cluster size, or returns
 * undefined when no FAT fits. F is the smallest multiple of S with
 * F * sectorBytes / 4 >= clusterCount + 2 (entries 0 and 1 are reserved),
 * where clusterCount = floor((totalSectors - R - 2F) / S).
 */
export function layout(totalSectors: number, sectorBytes: number, clusterBytes: number): Geometry | undefined {
  const spc = clusterBytes / sectorBytes;
  const reserved = alignUp(RESERVED_SECTORS_MIN, spc);
  if (totalSectors <= reserved) return undefined;
  const entriesPerSector = sectorBytes / FAT_ENTRY_BYTES;
  const clustersFor = (fat: number) => Math.floor((totalSectors - reserved - NUM_FATS * fat) / spc);
  // Upper bound: a FAT big enough for every sector after the reserved region.
  let fat = alignUp(divCeil(Math.floor((totalSectors - reserved) / spc) + 2, entriesPerSector), spc);
  // Shrink while a smaller FAT still maps all the clusters it leaves room for.
  while (fat > spc && clustersFor(fat - spc) >= 0 && (fat - spc) * entriesPerSector >= clustersFor(fat - spc) + 2) fat -= spc;
  const clusterCount = clustersFor(fat);
  if (clusterCount < 1) return undefined;
  return {
    sectorBytes,
    totalSectors,
    sectorsPerCluster: spc,
    clusterBytes,
    reservedSectors: reserved,
    fatSectors: fat,
    dataStartSector: reserved + NUM_FATS * fat,
    clusterCount,
  };
}
