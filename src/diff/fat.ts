/**
 * FAT32 explainer for `mkdisk diff`: names each differing byte range of a
 * FAT32 volume at the deepest level, from Microsoft's "FAT: General Overview
 * of On-Disk Format" v1.03 (fatgen103):
 *
 *   boot sector / backup boot sector   BPB field (BS_VolID, BS_VolLab, BPB_TotSec32 …)
 *   FSInfo / backup FSInfo             field (FSI_Free_Count, FSI_Nxt_Free …)
 *   FAT 1 / FAT 2 entries              cluster numbers → the path whose chain they form
 *   directory entry                    directory path + entry name + field (LDIR_Name1,
 *                                      LDIR_Chksum, DIR_Name, DIR_WrtTime, DIR_FileSize …)
 *   file content                       path and byte range within the file
 *   free space                         free clusters (or, when B uses them, B's owner)
 *
 * Files are found by walking directories from BPB_RootClus along FAT 1
 * chains, once per side and only when a range needs it. Memory is O(files)
 * plus one bit per cluster (cycle and cross-link detection); every value read
 * from the image is bounded first and metadata reads are budgeted
 * (explain-util.ts), so a malformed volume gives generic descriptions, never
 * a hang or a throw.
 */
import { BootSector } from "../fat32/bootsector.js";
import { FsInfo } from "../fat32/fsinfo.js";
import { DirEntry, LfnEntry } from "../fat32/dirent.js";
import type { ReadAt } from "../gpt/read.js";
import type { FsDifference } from "./fs-explain.js";
import {
  type Collector, type Field, Side, Unexplainable,
  differingFields, fieldDetail, fieldList, guardExplainer, sameBytes, trimRange,
  twoSides,
} from "./explain-util.js";

const DIRENT_BYTES = 32;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME = 0x0f;
const ATTR_LONG_NAME_MASK = 0x3f;
const LAST_LONG_ENTRY = 0x40;
const DELETED = 0xe5;
const FAT_ENTRY_MASK = 0x0fffffff;
const FAT_EOC_MIN = 0x0ffffff8;
const FAT_BAD = 0x0ffffff7;
/** FAT windows read at a time. */
const FAT_WINDOW_BYTES = 64 << 10;
/** fatgen103 §6: a directory holds at most 65536 entries. */
const MAX_DIR_SLOTS = 65536;
const MAX_OWNERS = 2_000_000;
const MAX_PATH_CHARS = 4096;
const MAX_CLUSTER_BYTES = 1 << 20;

const BS_FIELDS = fieldList(BootSector.fields);
const FSI_FIELDS = fieldList(FsInfo.fields);
const DIR_FIELDS = fieldList(DirEntry.fields);
const LFN_FIELDS = fieldList(LfnEntry.fields);

interface Geo {
  bps: number;
  clusterBytes: number;
  rsvdSectors: number;
  numFats: number;
  fatSectors: number;
  rootCluster: number;
  fsInfoSector: number;
  backupBootSector: number;
  fatStartBytes: number;
  dataStartBytes: number;
  maxCluster: number;
  endBytes: number;
}

const u16 = (b: Uint8Array, o: number) => (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
const u32 = (b: Uint8Array, o: number) => (((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16)) >>> 0) + (b[o + 3] ?? 0) * 0x1000000;

function readGeo(side: Side): Geo {
  const bs = side.read(0, 512);
  const bad = (m: string): never => {
    throw new Unexplainable(`FAT32 boot sector: ${m}`);
  };
  if (bs[510] !== 0x55 || bs[511] !== 0xaa) bad("no signature");
  const bps = u16(bs, 0x0b);
  const spc = bs[0x0d];
  if (![512, 1024, 2048, 4096].includes(bps) || spc === 0 || (spc & (spc - 1)) !== 0) bad("sector / cluster size");
  const clusterBytes = bps * spc;
  if (clusterBytes > MAX_CLUSTER_BYTES) bad("cluster size");
  const rsvd = u16(bs, 0x0e), numFats = bs[0x10], fatSz = u32(bs, 0x24);
  if (rsvd < 1 || numFats < 1 || numFats > 4 || fatSz < 1 || u16(bs, 0x11) !== 0 || u16(bs, 0x16) !== 0) bad("not FAT32");
  const totSec = u16(bs, 0x13) || u32(bs, 0x20);
  const volSectors = Math.min(totSec, Math.floor(side.sizeBytes / bps));
  const dataStartSec = rsvd + numFats * fatSz;
  if (dataStartSec >= volSectors) bad("FATs past the end of the volume");
  const clusters = Math.floor((volSectors - dataStartSec) / spc);
  const maxCluster = Math.min(clusters + 1, Math.floor((fatSz * bps) / 4) - 1, FAT_BAD - 1);
  if (maxCluster < 2) bad("no clusters");
  return {
    bps, clusterBytes, rsvdSectors: rsvd, numFats, fatSectors: fatSz,
    rootCluster: u32(bs, 0x2c) & FAT_ENTRY_MASK,
    fsInfoSector: u16(bs, 0x30),
    backupBootSector: u16(bs, 0x32),
    fatStartBytes: rsvd * bps,
    dataStartBytes: dataStartSec * bps,
    maxCluster,
    endBytes: volSectors * bps,
  };
}

function fatEntry(side: Side, g: Geo, cluster: number, fat = 0): number {
  const off = g.fatStartBytes + fat * g.fatSectors * g.bps + cluster * 4;
  const w = Math.floor(off / FAT_WINDOW_BYTES) * FAT_WINDOW_BYTES;
  const win = side.block(w, FAT_WINDOW_BYTES);
  return u32(win, off - w) & FAT_ENTRY_MASK;
}

const clusterOffset = (g: Geo, c: number) => g.dataStartBytes + (c - 2) * g.clusterBytes;

// ---------------------------------------------------------------- directories

interface Owner {
  path: string;
  isDir: boolean;
  sizeBytes: number;
  /** Cluster runs of its chain, in chain order: [first cluster, count]. */
  chain: [number, number][];
}

interface Run {
  start: number;
  count: number;
  owner: number;
  /** Index of `start` in the owner's chain. */
  index: number;
}

interface FatMap {
  owners: Owner[];
  runs: Run[];
}

/** One directory entry set: its long-name slots and the short entry, as partition offsets. */
interface DirSet {
  name: string;
  slots: number[];
  kind: "entry" | "dot" | "label" | "deleted" | "orphan" | "end";
  attr: number;
  firstCluster: number;
  sizeBytes: number;
}

function shortNameChecksum(b: Uint8Array, at: number): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >>> 1)) + b[at + i]) & 0xff;
  return sum;
}

function shortName(b: Uint8Array, at: number): string {
  const nt = b[at + 0x0c];
  const chars = (from: number, to: number, lower: boolean) => {
    let s = "";
    for (let i = from; i < to; i++) {
      let c = b[at + i];
      if (i === 0 && c === 0x05) c = 0xe5;
      s += String.fromCharCode(c);
    }
    s = s.replace(/ +$/, "");
    return lower ? s.toLowerCase() : s;
  };
  const base = chars(0, 8, (nt & 0x08) !== 0);
  const ext = chars(8, 11, (nt & 0x10) !== 0);
  return ext ? `${base}.${ext}` : base;
}

/** Reads a directory's slots along `chain` and groups them into entry sets. */
function parseDir(side: Side, g: Geo, chain: readonly [number, number][]): DirSet[] {
  const sets: DirSet[] = [];
  let lfn: { units: number[]; n: number; next: number; csum: number; slots: number[] } | undefined;
  let slotsSeen = 0;
  let ended = false;
  for (const [start, count] of chain) {
    for (let c = start; c < start + count && !ended; c++) {
      const base = clusterOffset(g, c);
      const cl = side.block(base, g.clusterBytes);
      for (let o = 0; o + DIRENT_BYTES <= g.clusterBytes; o += DIRENT_BYTES) {
        if (++slotsSeen > MAX_DIR_SLOTS) return sets;
        const pos = base + o;
        const first = cl[o];
        const attr = cl[o + 0x0b];
        if (first === 0) {
          sets.push({ name: "", slots: [pos], kind: "end", attr: 0, firstCluster: 0, sizeBytes: 0 });
          ended = true;
          break;
        }
        if (first === DELETED) {
          if (lfn) sets.push({ name: "", slots: lfn.slots, kind: "orphan", attr: 0, firstCluster: 0, sizeBytes: 0 });
          lfn = undefined;
          sets.push({ name: shortName(cl, o).slice(1), slots: [pos], kind: "deleted", attr, firstCluster: 0, sizeBytes: 0 });
          continue;
        }
        if ((attr & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME) {
          const ord = first & 0x1f;
          if (first & LAST_LONG_ENTRY) {
            if (lfn) sets.push({ name: "", slots: lfn.slots, kind: "orphan", attr: 0, firstCluster: 0, sizeBytes: 0 });
            lfn = ord >= 1 && ord <= 20 ? { units: new Array(ord * 13).fill(0xffff), n: ord, next: ord, csum: cl[o + 0x0d], slots: [] } : undefined;
          }
          if (!lfn || ord !== lfn.next || cl[o + 0x0d] !== lfn.csum) {
            if (lfn) sets.push({ name: "", slots: lfn.slots, kind: "orphan", attr: 0, firstCluster: 0, sizeBytes: 0 });
            lfn = undefined;
            sets.push({ name: "", slots: [pos], kind: "orphan", attr: 0, firstCluster: 0, sizeBytes: 0 });
            continue;
          }
          const offs = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
          for (let j = 0; j < 13; j++) lfn.units[(ord - 1) * 13 + j] = u16(cl, o + offs[j]);
          lfn.slots.push(pos);
          lfn.next--;
          continue;
        }
        let name = shortName(cl, o);
        const slots = lfn ? [...lfn.slots, pos] : [pos];
        if (lfn && lfn.next === 0 && lfn.csum === shortNameChecksum(cl, o)) {
          const end = lfn.units.indexOf(0);
          name = String.fromCharCode(...lfn.units.slice(0, end < 0 ? lfn.units.length : end).filter((u) => u !== 0xffff));
        } else if (lfn) {
          sets.push({ name: "", slots: lfn.slots, kind: "orphan", attr: 0, firstCluster: 0, sizeBytes: 0 });
          slots.splice(0, slots.length - 1);
        }
        lfn = undefined;
        const kind = name === "." || name === ".." ? "dot" : attr & ATTR_VOLUME_ID && !(attr & ATTR_DIRECTORY) ? "label" : "entry";
        sets.push({ name, slots, kind, attr, firstCluster: (u16(cl, o + 0x14) * 0x10000 + u16(cl, o + 0x1a)) & FAT_ENTRY_MASK, sizeBytes: u32(cl, o + 0x1c) });
      }
    }
  }
  return sets;
}

class Claimed {
  private readonly bits: Uint8Array;
  constructor(maxCluster: number) {
    this.bits = new Uint8Array((maxCluster >> 3) + 1);
  }
  take(c: number): boolean {
    const m = 1 << (c & 7);
    if (this.bits[c >> 3] & m) return false;
    this.bits[c >> 3] |= m;
    return true;
  }
}

/** The chain from `first` as runs, stopping at end of chain, a bad value, or a cluster already taken (cycle, cross-link). */
function chainOf(side: Side, g: Geo, first: number, claimed: Claimed, maxClusters: number): [number, number][] {
  const runs: [number, number][] = [];
  let c = first;
  let n = 0;
  while (c >= 2 && c <= g.maxCluster && n < maxClusters && claimed.take(c)) {
    n++;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === c) last[1]++;
    else runs.push([c, 1]);
    const next = fatEntry(side, g, c);
    if (next >= FAT_EOC_MIN || next === FAT_BAD || next === 0) break;
    c = next;
  }
  return runs;
}

function buildFatMap(side: Side, g: Geo): FatMap {
  const owners: Owner[] = [];
  const claimed = new Claimed(g.maxCluster);
  const unlimited = g.maxCluster;
  owners.push({ path: "/", isDir: true, sizeBytes: 0, chain: chainOf(side, g, g.rootCluster, claimed, Math.ceil((MAX_DIR_SLOTS * DIRENT_BYTES) / g.clusterBytes)) });
  for (let i = 0; i < owners.length; i++) {
    const dir = owners[i];
    if (!dir.isDir || dir.path.length > MAX_PATH_CHARS) continue;
    for (const set of parseDir(side, g, dir.chain)) {
      if (set.kind !== "entry") continue;
      if (owners.length >= MAX_OWNERS) throw new Unexplainable("too many files");
      const isDir = (set.attr & ATTR_DIRECTORY) !== 0;
      const maxClusters = isDir ? Math.ceil((MAX_DIR_SLOTS * DIRENT_BYTES) / g.clusterBytes) : Math.min(unlimited, Math.ceil(set.sizeBytes / g.clusterBytes) || 1);
      const chain = set.firstCluster >= 2 ? chainOf(side, g, set.firstCluster, claimed, maxClusters) : [];
      owners.push({ path: (dir.path === "/" ? "/" : dir.path + "/") + set.name, isDir, sizeBytes: set.sizeBytes, chain });
    }
  }
  const runs: Run[] = [];
  owners.forEach((o, owner) => {
    let index = 0;
    for (const [start, count] of o.chain) {
      runs.push({ start, count, owner, index });
      index += count;
    }
  });
  runs.sort((x, y) => x.start - y.start);
  return { owners, runs };
}

function runAt(m: FatMap, cluster: number): Run | undefined {
  const r = m.runs;
  let lo = 0, hi = r.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (r[mid].start <= cluster) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && cluster < r[found].start + r[found].count ? r[found] : undefined;
}

// ---------------------------------------------------------------- explaining

function fatDate(v: number): string {
  return `${1980 + (v >> 9)}-${String((v >> 5) & 15).padStart(2, "0")}-${String(v & 31).padStart(2, "0")}`;
}
function fatTime(v: number): string {
  return `${String(v >> 11).padStart(2, "0")}:${String((v >> 5) & 63).padStart(2, "0")}:${String((v & 31) * 2).padStart(2, "0")}`;
}
function renderDirField(f: Field): ((v: number) => string) | undefined {
  if (/Date$/.test(f.name)) return (v) => `${v} (${fatDate(v)})`;
  if (/Time$/.test(f.name)) return (v) => `${v} (${fatTime(v)})`;
  return undefined;
}
function renderFatValue(v: number): string {
  if (v === 0) return "free";
  if (v >= FAT_EOC_MIN) return "end of chain";
  if (v === FAT_BAD) return "bad";
  return `→ ${v}`;
}

function explainFat(a: ReadAt, b: ReadAt, partitionBytes: number, ranges: [number, number][]): FsDifference[] {
  return guardExplainer(partitionBytes, ranges, () => {
    const { A, B, g, mapA: fatMapA, mapB: fatMapB } = twoSides(a, b, partitionBytes, readGeo, buildFatMap);
    /** Parsed directories of A (and B over A's slots), by owner index; a small cache. */
    const dirCache = new Map<number, { a: Map<number, DirSet>; b: Map<number, DirSet> }>();
    const dirSlots = (m: FatMap, owner: number) => {
      let hit = dirCache.get(owner);
      if (!hit) {
        const index = (sets: DirSet[]) => {
          const map = new Map<number, DirSet>();
          for (const s of sets) for (const p of s.slots) map.set(p, s);
          return map;
        };
        const chain = m.owners[owner].chain;
        hit = { a: index(parseDir(A, g, chain)), b: index(parseDir(B, g, chain)) };
        if (dirCache.size > 16) dirCache.delete(dirCache.keys().next().value as number);
        dirCache.set(owner, hit);
      }
      return hit;
    };

    const sectorFields = (item: string, list: readonly Field[], base: number, s: number, e: number, out: Collector) => {
      const x = A.block(base, g.bps);
      const y = B.block(base, g.bps);
      const diff = differingFields(list, x, y, s - base, e - base);
      const names = diff.map((f) => f.name);
      if (e - base > 512 && !sameBytes(x, y, Math.max(512, s - base), e - base)) names.push("bytes past 512 of the sector");
      if (names.length) out.add({ item, fields: names, details: diff.map((f) => fieldDetail(f, x, y)).filter((d): d is string => !!d), startBytes: s, endBytes: e });
    };

    const fatRegion = (fat: number, s: number, e: number, out: Collector) => {
      const fatBase = g.fatStartBytes + fat * g.fatSectors * g.bps;
      const c0 = Math.floor((s - fatBase) / 4);
      const c1 = Math.ceil((e - fatBase) / 4);
      for (let c = c0; c < c1; c++) {
        const off = fatBase + c * 4;
        const va = fatEntry(A, g, c, fat), vb = fatEntry(B, g, c, fat);
        const ra = u32(A.read(off, 4), 0), rb = u32(B.read(off, 4), 0);
        if (ra === rb) continue;
        const at = { startBytes: Math.max(s, off), endBytes: Math.min(e, off + 4) };
        if (c < 2) {
          out.add({ item: `FAT ${fat + 1} reserved entry ${c}`, details: [`FAT[${c}]: 0x${ra.toString(16)} vs 0x${rb.toString(16)}`], ...at });
          continue;
        }
        if (c > g.maxCluster) {
          out.add({ item: `FAT ${fat + 1} entries past the last cluster`, span: [c, c, "entries"], ...at });
          continue;
        }
        const ownerA = runAt(fatMapA(), c);
        let owner = ownerA ? fatMapA().owners[ownerA.owner].path : undefined;
        if (!owner) {
          const mb = fatMapB();
          const rB = mb ? runAt(mb, c) : undefined;
          owner = mb && rB ? `${mb.owners[rB.owner].path} (in B)` : "free clusters";
        }
        out.add({
          item: `FAT ${fat + 1} entries of ${owner}`,
          span: [c, c, "clusters"],
          details: va !== vb ? [`cluster ${c}: ${renderFatValue(va)} vs ${renderFatValue(vb)}`] : [`cluster ${c}: reserved high bits 0x${ra.toString(16)} vs 0x${rb.toString(16)}`],
          ...at,
        });
      }
      return e;
    };

    const dirRegion = (m: FatMap, run: Run, s: number, e: number, out: Collector) => {
      const dirPath = m.owners[run.owner].path;
      const { a: setsA, b: setsB } = dirSlots(m, run.owner);
      for (let slot = Math.floor(s / DIRENT_BYTES) * DIRENT_BYTES; slot < e; slot += DIRENT_BYTES) {
        const x = A.read(slot, DIRENT_BYTES), y = B.read(slot, DIRENT_BYTES);
        if (sameBytes(x, y, 0, DIRENT_BYTES)) continue;
        const sa = setsA.get(slot), sb = setsB.get(slot);
        const isLfn = (z: Uint8Array) => z[0] !== 0 && z[0] !== DELETED && (z[0x0b] & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME;
        const diff = differingFields(isLfn(x) || isLfn(y) ? LFN_FIELDS : DIR_FIELDS, x, y, 0, DIRENT_BYTES);
        const live = (d: DirSet | undefined) => d && (d.kind === "entry" || d.kind === "dot" || d.kind === "label");
        let item: string;
        if (live(sa)) item = `directory ${dirPath} ${sa!.kind === "label" ? "volume label entry" : `entry ${JSON.stringify(sa!.name)}`}`;
        else if (live(sb)) item = `directory ${dirPath} entry ${JSON.stringify(sb!.name)} (in B)`;
        else item = `directory ${dirPath} unused slots`;
        const details = diff.filter((f) => !/^LDIR_Name|^DIR_Name$/.test(f.name)).map((f) => fieldDetail(f, x, y, renderDirField(f))).filter((d): d is string => !!d);
        if (live(sa) && live(sb) && sa!.name !== sb!.name) details.unshift(`name: ${JSON.stringify(sa!.name)} vs ${JSON.stringify(sb!.name)}`);
        if (diff.some((f) => f.name === "DIR_Name")) {
          const f = diff.find((d) => d.name === "DIR_Name")!;
          const d = fieldDetail(f, x, y);
          if (d) details.push(d);
        }
        out.add({ item, fields: diff.map((f) => f.name), details, startBytes: Math.max(s, slot), endBytes: Math.min(e, slot + DIRENT_BYTES) });
      }
      return e;
    };

    const dataRegion = (s: number, e: number, out: Collector) => {
      const c = 2 + Math.floor((s - g.dataStartBytes) / g.clusterBytes);
      if (c > g.maxCluster) {
        const t = trimRange(A, B, s, e);
        if (t) out.add({ item: "sectors past the last cluster", startBytes: t[0], endBytes: t[1] });
        return e;
      }
      const mA = fatMapA();
      let m = mA;
      let run = runAt(mA, c);
      let suffix = "";
      if (!run) {
        const mb = fatMapB();
        run = mb ? runAt(mb, c) : undefined;
        if (mb && run) {
          m = mb;
          suffix = " (in B)";
        }
      }
      if (!run) {
        const end = Math.min(e, clusterOffset(g, c + 1));
        const t = trimRange(A, B, s, end);
        if (t) {
          const used = fatEntry(A, g, c) !== 0;
          out.add({ item: used ? "allocated clusters (owner not found)" : "free clusters", span: [c, 2 + Math.floor((t[1] - 1 - g.dataStartBytes) / g.clusterBytes), "clusters"], startBytes: t[0], endBytes: t[1] });
        }
        return end;
      }
      const owner = m.owners[run.owner];
      let end = Math.min(e, clusterOffset(g, run.start + run.count));
      // Whose are these clusters in B? When not the same file's, say so (content that moved).
      if (!suffix) {
        const mb = fatMapB();
        const rb = mb ? runAt(mb, c) : undefined;
        let moved: string | undefined;
        if (mb && rb) {
          end = Math.min(end, clusterOffset(g, rb.start + rb.count));
          const ob = mb.owners[rb.owner];
          if (ob.path !== owner.path || rb.index - rb.start !== run.index - run.start) moved = `in B: ${ob.isDir ? "directory" : "content"} of ${ob.path}`;
        } else if (mb) {
          moved = fatEntry(B, g, c) === 0 ? "free in B" : "owner in B not found";
          end = Math.min(end, clusterOffset(g, c + 1));
        }
        if (moved) {
          const t = trimRange(A, B, s, end);
          if (t) {
            const i0 = run.index + (c - run.start);
            const i1 = run.index + (2 + Math.floor((t[1] - 1 - g.dataStartBytes) / g.clusterBytes) - run.start);
            out.add({ item: `${owner.isDir ? "directory" : "content"} of ${owner.path}`, details: [moved], span: [i0, i1, "chain clusters"], startBytes: t[0], endBytes: t[1] });
          }
          return end;
        }
      }
      if (owner.isDir && !suffix) return dirRegion(m, run, s, end, out);
      const t = trimRange(A, B, s, end);
      if (!t) return end;
      if (owner.isDir) {
        out.add({ item: `directory ${owner.path}${suffix}`, startBytes: t[0], endBytes: t[1] });
        return end;
      }
      const runBase = clusterOffset(g, run.start);
      const f0 = run.index * g.clusterBytes + (t[0] - runBase);
      const f1 = f0 + (t[1] - t[0]);
      // The larger of the two sizes: bytes appended in the other image are content, not slack.
      let sizeBytes = owner.sizeBytes;
      if (f0 >= sizeBytes && !suffix) {
        const mb = fatMapB();
        const rb = mb ? runAt(mb, c) : undefined;
        if (mb && rb && mb.owners[rb.owner].path === owner.path) sizeBytes = Math.max(sizeBytes, mb.owners[rb.owner].sizeBytes);
      }
      if (f0 >= sizeBytes) out.add({ item: `file ${owner.path}${suffix}`, fields: ["slack after the end of the file"], startBytes: t[0], endBytes: t[1] });
      else out.add({ item: `file ${owner.path}${suffix} content`, span: [f0, Math.min(f1, sizeBytes), "bytes"], startBytes: t[0], endBytes: t[1] });
      return end;
    };

    return (s: number, e: number, out: Collector): number => {
      if (s >= g.endBytes) {
        const t = trimRange(A, B, s, e);
        if (t) out.add({ item: "space past the end of the volume (BPB_TotSec32)", startBytes: t[0], endBytes: t[1] });
        return e;
      }
      if (s < g.fatStartBytes) {
        const sector = Math.floor(s / g.bps);
        const base = sector * g.bps;
        const end = Math.min(e, base + g.bps, g.fatStartBytes);
        if (sector === 0) sectorFields("boot sector", BS_FIELDS, base, s, end, out);
        else if (sector === g.backupBootSector) sectorFields("backup boot sector", BS_FIELDS, base, s, end, out);
        else if (sector === g.fsInfoSector) sectorFields("FSInfo", FSI_FIELDS, base, s, end, out);
        else if (sector === g.backupBootSector + 1 && g.backupBootSector > 0) sectorFields("backup FSInfo", FSI_FIELDS, base, s, end, out);
        else {
          const t = trimRange(A, B, s, end);
          if (t) out.add({ item: `reserved sector ${sector}`, startBytes: t[0], endBytes: t[1] });
        }
        return end;
      }
      if (s < g.dataStartBytes) {
        const fat = Math.floor((s - g.fatStartBytes) / (g.fatSectors * g.bps));
        const fatEnd = g.fatStartBytes + (fat + 1) * g.fatSectors * g.bps;
        // At most one FAT window of entries per step.
        const end = Math.min(e, fatEnd, s + FAT_WINDOW_BYTES);
        return fatRegion(fat, s, end, out);
      }
      return dataRegion(s, e, out);
    };
  });
}

export { explainFat };
