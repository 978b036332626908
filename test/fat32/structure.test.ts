/**
 * On-disk rules that fsck.fat and mtools do not check, read straight from the
 * bytes as fatgen103 lays them out (a decoder written here, independent of the
 * writer): the backup boot sector and FSInfo at sectors 6 and 7, two equal
 * FATs, FSInfo's free count and next-free hint as the FAT says, directory
 * entries in byte-wise name order, every file and directory one contiguous run
 * allocated depth-first in that order with no gap, and creation, write and
 * access stamps all set by the clamp rule.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tempDir } from "../helpers/tools.js";
import { buildImage, EPOCH, makeTree, type Spec } from "./helpers.js";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff);

const SPEC: Spec = {
  EFI: { BOOT: { "BOOTX64.EFI": bytes(70_000, 1), "grubx64.efi": bytes(1_025, 2) }, Linux: {} },
  loader: { "loader.conf": "timeout 3\n", entries: { "b.conf": "b\n", "a.conf": "a\n", "Z.conf": "z\n" } },
  "vmlinuz-6.1": bytes(300_001, 3),
  "README.TXT": "upper\n",
  "readme2.md": "lower\n",
  "Mixed.Txt": "mixed\n",
  "grüße.txt": "unicode\n",
  "a very long name that needs several long-name entries.conf": "long\n",
  "empty-file": "",
  "exactly-one-cluster": bytes(512, 4),
  "one-byte-more": bytes(513, 5),
  "zz-empty-dir": {},
};

/** Source mtime: an odd second with half a second more, so the 2-second floor and the hundredths both show. */
const MTIME = 1_600_000_001.5;
/** Newer than the epoch: clamped to it. */
const NEWER = "newer-than-epoch.txt";

interface Entry {
  name: string;
  dir: boolean;
  cluster: number;
  size: number;
  crtTenth: number;
  crtTime: number;
  crtDate: number;
  accDate: number;
  wrtTime: number;
  wrtDate: number;
}

let tmp: { path: string; cleanup(): void };
let img: Buffer;

beforeAll(async () => {
  tmp = tempDir("mkdisk-fat32-structure-");
  const src = join(tmp.path, "src");
  makeTree(src, SPEC, MTIME);
  makeTree(src, { [NEWER]: "new\n" }, EPOCH + 86_400 * 400);
  makeTree(src, {}, MTIME); // the root's time again
  const out = join(tmp.path, "esp.img");
  await buildImage(src, out, { sizeBytes: 40 * 1048576 });
  img = readFileSync(out);
});
afterAll(() => tmp.cleanup());

// ---- an independent decoder (fatgen103) ----
const bpb = () => {
  const b = img.subarray(0, 512);
  const bytesPerSector = b.readUInt16LE(11);
  const sectorsPerCluster = b[13];
  const reserved = b.readUInt16LE(14);
  const fats = b[16];
  const totalSectors = b.readUInt32LE(32);
  const fatSectors = b.readUInt32LE(36);
  const dataStart = reserved + fats * fatSectors;
  return {
    bytesPerSector, sectorsPerCluster, reserved, fats, totalSectors, fatSectors,
    rootCluster: b.readUInt32LE(44), fsInfoSector: b.readUInt16LE(48), backupSector: b.readUInt16LE(50),
    clusterBytes: bytesPerSector * sectorsPerCluster,
    clusters: Math.floor((totalSectors - dataStart) / sectorsPerCluster),
    dataStartBytes: dataStart * bytesPerSector,
  };
};
const sector = (n: number) => img.subarray(n * 512, (n + 1) * 512);
const fatEntry = (c: number) => img.readUInt32LE(bpb().reserved * 512 + 4 * c) & 0x0fffffff;
const EOC = 0x0ffffff8;

/** The chain from `first`, asserting it is one contiguous run ending in an end-of-chain mark. */
function contiguousChain(first: number, what: string): number[] {
  const chain = [first];
  for (;;) {
    const next = fatEntry(chain[chain.length - 1]);
    if (next >= EOC) return chain;
    expect(next, `${what}: cluster ${chain[chain.length - 1]} continues at ${next}`).toBe(chain[chain.length - 1] + 1);
    chain.push(next);
  }
}

function clusterBytes(chain: number[]): Buffer {
  const g = bpb();
  return Buffer.concat(chain.map((c) => img.subarray(g.dataStartBytes + (c - 2) * g.clusterBytes, g.dataStartBytes + (c - 1) * g.clusterBytes)));
}

function shortName(e: Buffer): string {
  const nt = e[12];
  let base = e.subarray(0, 8).toString("latin1").trimEnd();
  let ext = e.subarray(8, 11).toString("latin1").trimEnd();
  if (nt & 0x08) base = base.toLowerCase();
  if (nt & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

/** A directory's entries other than ".", ".." and the volume label, long names joined. */
function readDir(cluster: number, what: string): { entries: Entry[]; label?: string; dots: Buffer[] } {
  const data = clusterBytes(contiguousChain(cluster, what));
  const entries: Entry[] = [];
  const dots: Buffer[] = [];
  let label: string | undefined;
  let lfn: string[] = [];
  for (let off = 0; off < data.length; off += 32) {
    const e = data.subarray(off, off + 32);
    if (e[0] === 0) break;
    expect(e[0], `${what}: a deleted entry`).not.toBe(0xe5);
    const attr = e[11];
    if (attr === 0x0f) {
      const units = [...[1, 3, 5, 7, 9], ...[14, 16, 18, 20, 22, 24], ...[28, 30]].map((o) => e.readUInt16LE(o));
      const end = units.findIndex((u) => u === 0 || u === 0xffff);
      lfn.unshift(String.fromCharCode(...(end < 0 ? units : units.slice(0, end))));
      continue;
    }
    if (attr & 0x08) {
      label = e.subarray(0, 11).toString("latin1");
      continue;
    }
    if (e[0] === 0x2e) {
      dots.push(e);
      continue;
    }
    const name = lfn.length ? lfn.join("") : shortName(e);
    lfn = [];
    entries.push({
      name,
      dir: (attr & 0x10) !== 0,
      cluster: (e.readUInt16LE(20) << 16) | e.readUInt16LE(26),
      size: e.readUInt32LE(28),
      crtTenth: e[13],
      crtTime: e.readUInt16LE(14),
      crtDate: e.readUInt16LE(16),
      accDate: e.readUInt16LE(18),
      wrtTime: e.readUInt16LE(22),
      wrtDate: e.readUInt16LE(24),
    });
  }
  return { entries, label, dots };
}

/** FAT date and time of a UTC second count. */
function fatStamp(sec: number): { date: number; time: number } {
  const d = new Date(sec * 1000);
  return {
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

describe("boot sectors, FATs and FSInfo", () => {
  test("backup boot sector at sector 6 and backup FSInfo at 7, equal to sectors 0 and 1", () => {
    const g = bpb();
    expect(g.bytesPerSector).toBe(512);
    expect(g.fsInfoSector).toBe(1);
    expect(g.backupSector).toBe(6);
    expect(sector(6).equals(sector(0))).toBe(true);
    expect(sector(7).equals(sector(1))).toBe(true);
    expect(sector(0).readUInt16LE(510)).toBe(0xaa55);
  });

  test("two FATs, byte for byte the same", () => {
    const g = bpb();
    expect(g.fats).toBe(2);
    const fat = (i: number) => img.subarray((g.reserved + i * g.fatSectors) * 512, (g.reserved + (i + 1) * g.fatSectors) * 512);
    expect(fat(0).equals(fat(1))).toBe(true);
    expect(fatEntry(0)).toBe(0x0ffffff8); // media 0xF8 in the low byte
  });

  test("FSInfo: signatures, the free count and the first free cluster as the FAT says", () => {
    const g = bpb();
    const fsi = sector(1);
    expect(fsi.readUInt32LE(0)).toBe(0x41615252);
    expect(fsi.readUInt32LE(484)).toBe(0x61417272);
    expect(fsi.readUInt32LE(508)).toBe(0xaa550000);
    let free = 0;
    let firstFree = -1;
    for (let c = 2; c < g.clusters + 2; c++) {
      if (fatEntry(c) === 0) {
        free++;
        if (firstFree < 0) firstFree = c;
      }
    }
    expect(free).toBeGreaterThan(0);
    expect(fsi.readUInt32LE(488)).toBe(free);
    expect(fsi.readUInt32LE(492)).toBe(firstFree);
  });
});

describe("directories and allocation", () => {
  /** Walks the tree depth-first, asserting each directory's order and each run's place. */
  function walk(): { visited: string[]; nextCluster: number } {
    const g = bpb();
    let next = 2;
    const visited: string[] = [];
    const claim = (first: number, clusters: number, what: string) => {
      expect(first, `${what} starts where the previous run ended`).toBe(next);
      next += clusters;
    };
    const visitDir = (cluster: number, path: string, parentCluster: number) => {
      const { entries, label, dots } = readDir(cluster, path);
      claim(cluster, contiguousChain(cluster, path).length, path);
      if (path === "/") {
        expect(label).toBe("ESP        ");
        expect(dots).toHaveLength(0);
      } else {
        expect(dots.map((d) => d.subarray(0, 11).toString("latin1"))).toEqual([".          ", "..         "]);
        const at = (d: Buffer) => (d.readUInt16LE(20) << 16) | d.readUInt16LE(26);
        expect(at(dots[0])).toBe(cluster);
        expect(at(dots[1])).toBe(parentCluster === g.rootCluster ? 0 : parentCluster);
      }
      const names = entries.map((e) => e.name);
      const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(names, `${path}: entries in byte-wise order`).toEqual(sorted);
      for (const e of entries) {
        const p = (path === "/" ? "" : path) + "/" + e.name;
        visited.push(p);
        if (e.dir) {
          expect(e.size).toBe(0);
          visitDir(e.cluster, p, cluster);
        } else if (e.size === 0) expect(e.cluster, `${p}: an empty file has no cluster`).toBe(0);
        else {
          const chain = contiguousChain(e.cluster, p);
          expect(chain.length).toBe(Math.ceil(e.size / g.clusterBytes));
          claim(e.cluster, chain.length, p);
        }
      }
    };
    expect(g.rootCluster).toBe(2);
    visitDir(g.rootCluster, "/", 0);
    return { visited, nextCluster: next };
  }

  test("entries in byte-wise order, each run where the last ended, depth-first, from cluster 2", () => {
    const { visited } = walk();
    expect(visited).toContain("/EFI/BOOT/BOOTX64.EFI");
    expect(visited).toContain("/loader/entries/Z.conf");
    expect(visited).toContain("/grüße.txt");
    expect(visited).toContain("/a very long name that needs several long-name entries.conf");
  });

  test("no gap: every cluster below the last run is in use, every one after it free", () => {
    const g = bpb();
    const { nextCluster } = walk();
    const wrong: number[] = [];
    for (let c = 2; c < g.clusters + 2; c++) if ((fatEntry(c) !== 0) !== c < nextCluster) wrong.push(c);
    expect(nextCluster).toBeGreaterThan(100);
    expect(wrong, `clusters in use past ${nextCluster - 1} or free below it`).toEqual([]);
  });

  test("file contents are where the entries say", () => {
    const root = readDir(2, "/").entries;
    const v = root.find((e) => e.name === "vmlinuz-6.1")!;
    const data = clusterBytes(contiguousChain(v.cluster, v.name)).subarray(0, v.size);
    expect(data.equals(Buffer.from(bytes(300_001, 3)))).toBe(true);
  });
});

describe("times", () => {
  test("creation, write and access stamps: clamped, UTC, 2-second write time, hundredths in the creation time", () => {
    const kept = fatStamp(Math.floor(MTIME));
    const clamped = fatStamp(EPOCH);
    const check = (e: Entry, path: string) => {
      const want = e.name === NEWER ? clamped : kept;
      const tenth = e.name === NEWER ? (EPOCH % 2) * 100 : (Math.floor(MTIME) % 2) * 100 + 50;
      expect({ wrtDate: e.wrtDate, wrtTime: e.wrtTime }, path).toEqual({ wrtDate: want.date, wrtTime: want.time });
      expect({ crtDate: e.crtDate, crtTime: e.crtTime, crtTenth: e.crtTenth, accDate: e.accDate }, path).toEqual({
        crtDate: want.date, crtTime: want.time, crtTenth: tenth, accDate: want.date,
      });
    };
    let seen = 0;
    const visit = (cluster: number, path: string) => {
      for (const e of readDir(cluster, path).entries) {
        const p = (path === "/" ? "" : path) + "/" + e.name;
        check(e, p);
        seen++;
        if (e.dir) visit(e.cluster, p);
      }
    };
    visit(2, "/");
    expect(seen).toBeGreaterThan(15);
  });
});
