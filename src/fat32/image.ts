/**
 * Produces a FAT32 volume as an extent stream, lazily and in offset order:
 * boot sector + FSInfo (sectors 0-1), their copies (6-7), FAT 1, FAT 2, then
 * the data region in cluster order. Clusters are handed out depth-first in
 * byte-wise name order (the Tree's order): a directory's clusters, then its
 * children's, each file or directory one contiguous run; empty files get none
 * (first cluster 0). Directory entries are encoded when their extent is
 * reached; file contents are file extents (never read here).
 */
import type { Extent } from "../io/extent.js";
import { bytesExtent, fileExtent } from "../io/extent.js";
import { divCeil } from "../bin/int.js";
import {
  BOOT_SIGNATURE,
  BootSector,
  DRIVE_NUMBER,
  EXT_BOOT_SIG,
  FS_TYPE,
  JMP_BOOT,
  MEDIA_FIXED,
  NUM_HEADS,
  OEM_NAME,
  SECTORS_PER_TRACK,
  bootCode,
} from "./bootsector.js";
import { FSI_LEAD_SIG, FSI_STRUC_SIG, FSI_TRAIL_SIG, FSI_UNKNOWN, FsInfo } from "./fsinfo.js";
import {
  ATTR_ARCHIVE,
  ATTR_DIRECTORY,
  ATTR_VOLUME_ID,
  DIRENT_BYTES,
  DirEntry,
  encodeLfnEntries,
  shortNameChecksum,
} from "./dirent.js";
import { type FatTime, toFatTime } from "./fattime.js";
import { encodeFatWindow, type Run } from "./fat.js";
import { BACKUP_BOOT_SECTOR, FAT_ENTRY_BYTES, FSINFO_SECTOR, NUM_FATS, ROOT_CLUSTER, type Geometry } from "./geometry.js";
import { type FatNode, dirBytes } from "./prepare.js";
import { utf16Units } from "./names.js";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** FAT entries per generated window (128 KiB of table). */
const FAT_WINDOW_ENTRIES = 32768;

export interface Allocation {
  readonly node: FatNode;
  readonly firstCluster: number; // 0 for empty files
  readonly clusterCount: number;
  /** Directories: first cluster of the parent (0 for the root and its children's ".."). */
  readonly parentCluster: number;
}

/** Clusters `n` takes at `clusterBytes` per cluster. */
export function clustersOf(n: FatNode, clusterBytes: number): number {
  return n.kind === "dir" ? Math.max(1, divCeil(dirBytes(n), clusterBytes)) : divCeil(n.sizeBytes, clusterBytes);
}

/** Total clusters the tree needs at `clusterBytes`. */
export function clustersNeeded(root: FatNode, clusterBytes: number): number {
  let sum = 0;
  const walk = (n: FatNode) => {
    sum += clustersOf(n, clusterBytes);
    n.children?.forEach(walk);
  };
  walk(root);
  return sum;
}

/** Depth-first allocation from cluster 2 (the root directory gets cluster 2). */
export function allocate(root: FatNode, clusterBytes: number): Allocation[] {
  const out: Allocation[] = [];
  let next = ROOT_CLUSTER;
  const walk = (n: FatNode, parentCluster: number) => {
    const count = clustersOf(n, clusterBytes);
    const first = count === 0 ? 0 : next;
    next += count;
    out.push({ node: n, firstCluster: first, clusterCount: count, parentCluster });
    if (n.children) for (const c of n.children) walk(c, n === root ? 0 : first);
  };
  walk(root, 0);
  return out;
}

export interface VolumeParams {
  geometry: Geometry;
  volumeId: number;
  label11: Uint8Array;
  labelEntry: boolean;
  hiddenSectors: number;
  /** Volume-level time (label entry), seconds. */
  fsTimeSec: number;
}

export function encodeBootSector(g: Geometry, p: VolumeParams): Uint8Array {
  const sector = new Uint8Array(g.sectorBytes);
  BootSector.encodeInto(
    {
      BS_jmpBoot: JMP_BOOT,
      BS_OEMName: ascii(OEM_NAME),
      BPB_BytsPerSec: g.sectorBytes,
      BPB_SecPerClus: g.sectorsPerCluster,
      BPB_RsvdSecCnt: g.reservedSectors,
      BPB_NumFATs: NUM_FATS,
      BPB_RootEntCnt: 0,
      BPB_TotSec16: 0,
      BPB_Media: MEDIA_FIXED,
      BPB_FATSz16: 0,
      BPB_SecPerTrk: SECTORS_PER_TRACK,
      BPB_NumHeads: NUM_HEADS,
      BPB_HiddSec: p.hiddenSectors,
      BPB_TotSec32: g.totalSectors,
      BPB_FATSz32: g.fatSectors,
      BPB_ExtFlags: 0,
      BPB_FSVer: 0,
      BPB_RootClus: ROOT_CLUSTER,
      BPB_FSInfo: FSINFO_SECTOR,
      BPB_BkBootSec: BACKUP_BOOT_SECTOR,
      BPB_Reserved: new Uint8Array(12),
      BS_DrvNum: DRIVE_NUMBER,
      BS_Reserved1: 0,
      BS_BootSig: EXT_BOOT_SIG,
      BS_VolID: p.volumeId,
      BS_VolLab: p.label11,
      BS_FilSysType: ascii(FS_TYPE),
      BootCode: bootCode(),
      Signature_word: BOOT_SIGNATURE,
    },
    sector,
    0,
  );
  return sector;
}

export function encodeFsInfo(g: Geometry, freeCount: number, nextFree: number): Uint8Array {
  const sector = new Uint8Array(g.sectorBytes);
  FsInfo.encodeInto(
    {
      FSI_LeadSig: FSI_LEAD_SIG,
      FSI_Reserved1: new Uint8Array(480),
      FSI_StrucSig: FSI_STRUC_SIG,
      FSI_Free_Count: freeCount,
      FSI_Nxt_Free: nextFree,
      FSI_Reserved2: new Uint8Array(12),
      FSI_TrailSig: FSI_TRAIL_SIG,
    },
    sector,
    0,
  );
  return sector;
}

function shortEntry(out: Uint8Array, at: number, name11: Uint8Array, attr: number, ntRes: number, t: FatTime, cluster: number, sizeBytes: number): void {
  DirEntry.encodeInto(
    {
      DIR_Name: name11,
      DIR_Attr: attr,
      DIR_NTRes: ntRes,
      DIR_CrtTimeTenth: t.tenth,
      DIR_CrtTime: t.time,
      DIR_CrtDate: t.date,
      DIR_LstAccDate: t.date,
      DIR_FstClusHI: cluster >>> 16,
      DIR_WrtTime: t.time,
      DIR_WrtDate: t.date,
      DIR_FstClusLO: cluster & 0xffff,
      DIR_FileSize: sizeBytes,
    },
    out,
    at,
  );
}

const DOT = ascii(".          ");
const DOTDOT = ascii("..         ");

/** Encodes one directory's entries (not padded to its clusters: the rest is zero). */
export function encodeDirectory(a: Allocation, isRoot: boolean, firstClusterOf: Map<FatNode, number>, p: VolumeParams): Uint8Array {
  const d = a.node;
  const out = new Uint8Array(dirBytes(d));
  let at = 0;
  const own = toFatTime(d.mtime);
  if (isRoot) {
    if (p.labelEntry) {
      const t = toFatTime({ sec: p.fsTimeSec, nsec: 0 });
      shortEntry(out, at, p.label11, ATTR_VOLUME_ID, 0, { ...t, tenth: 0 }, 0, 0);
      at += DIRENT_BYTES;
    }
  } else {
    shortEntry(out, at, DOT, ATTR_DIRECTORY, 0, own, a.firstCluster, 0);
    at += DIRENT_BYTES;
    shortEntry(out, at, DOTDOT, ATTR_DIRECTORY, 0, own, a.parentCluster, 0);
    at += DIRENT_BYTES;
  }
  for (const k of d.children!) {
    if (k.lfnEntries > 0) {
      const n = encodeLfnEntries(utf16Units(k.name), shortNameChecksum(k.short), out, at);
      at += n * DIRENT_BYTES;
    }
    const cluster = firstClusterOf.get(k)!;
    shortEntry(out, at, k.short, k.kind === "dir" ? ATTR_DIRECTORY : ATTR_ARCHIVE, k.ntRes, toFatTime(k.mtime), cluster, k.kind === "dir" ? 0 : k.sizeBytes);
    at += DIRENT_BYTES;
  }
  if (at !== out.length) throw new Error(`internal: directory ${d.path} encoded ${at} bytes, planned ${out.length}`);
  return out;
}

/** The whole volume as an ordered extent stream (generated lazily each call). */
export function* volumeExtents(root: FatNode, allocs: readonly Allocation[], p: VolumeParams): Generator<Extent> {
  const g = p.geometry;
  const ss = g.sectorBytes;
  const usedClusters = allocs.reduce((s, a) => s + a.clusterCount, 0);
  const freeCount = g.clusterCount - usedClusters;
  const firstFree = ROOT_CLUSTER + usedClusters;
  const nextFree = freeCount > 0 ? firstFree : FSI_UNKNOWN;

  const boot = encodeBootSector(g, p);
  const info = encodeFsInfo(g, freeCount, nextFree);
  const head = new Uint8Array(2 * ss);
  head.set(boot, 0);
  head.set(info, FSINFO_SECTOR * ss);
  yield bytesExtent(0, head);
  yield bytesExtent(BACKUP_BOOT_SECTOR * ss, head.slice());

  const runs: Run[] = allocs.filter((a) => a.clusterCount > 0).map((a) => ({ firstCluster: a.firstCluster, clusterCount: a.clusterCount }));
  for (let f = 0; f < 2; f++) {
    const fatStart = (g.reservedSectors + f * g.fatSectors) * ss;
    let hint = 0;
    for (let e = 0; e < firstFree; e += FAT_WINDOW_ENTRIES) {
      const n = Math.min(FAT_WINDOW_ENTRIES, firstFree - e);
      const buf = new Uint8Array(n * FAT_ENTRY_BYTES);
      hint = encodeFatWindow(runs, MEDIA_FIXED, e, buf, hint);
      yield bytesExtent(fatStart + e * FAT_ENTRY_BYTES, buf);
    }
  }

  const firstClusterOf = new Map<FatNode, number>();
  for (const a of allocs) firstClusterOf.set(a.node, a.firstCluster);
  const clusterOffset = (c: number) => (g.dataStartSector + (c - ROOT_CLUSTER) * g.sectorsPerCluster) * ss;
  for (const a of allocs) {
    if (a.clusterCount === 0) continue;
    const off = clusterOffset(a.firstCluster);
    if (a.node.kind === "dir") yield bytesExtent(off, encodeDirectory(a, a.node === root, firstClusterOf, p));
    else yield fileExtent(off, a.node.sizeBytes, a.node.sourcePath, a.node.contentOffsetBytes);
  }
}
