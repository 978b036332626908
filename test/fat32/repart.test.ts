/**
 * Oracle: systemd-repart (252) formatting ESP and XBOOTLDR partitions with
 * `Format=vfat`, which runs mkfs.vfat with the volume id and label it derives
 * from the seed. mkdisk, given the same seed and partitions, must write the
 * same volume id, the same mangled label (in the BPB and as the root
 * directory's label entry, as blkid reads them) and the same BPB geometry
 * mkfs.fat chose (cluster size, reserved sectors, FAT size, total sectors).
 * Not compared: the OEM name and boot code, and three fields that describe
 * where a volume sits rather than what it is: sectors per track and heads
 * (mkfs.fat guesses them from the loop device) and hidden sectors (repart
 * formats the partition through a loop device of its own, so mkfs.fat writes
 * 0; mkdisk writes the partition's start). Total sectors differ by rule:
 * mkfs.fat cuts the volume to whole tracks of its guessed geometry (a DOS-era
 * habit), mkdisk uses the whole partition.
 */
import { openSync, readSync, closeSync, writeFileSync, mkdirSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool, runOk, tempDir } from "../helpers/tools.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");
const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";

/** [type, label (undefined: repart's default, the type's name), size in MiB]. */
const PARTS: [string, string | undefined, number][] = [
  ["esp", undefined, 64],
  ["xbootldr", undefined, 300], // above 260 MiB: mkfs.fat's 4 KiB clusters
  ["esp", "my boot", 40],
  ["esp", "a+b,c;d=e[f]", 40], // characters FAT labels cannot hold
  ["esp", "café crème", 40], // non-ASCII
  ["esp", "a label that is far too long", 40],
  ["esp", "at 260", 260], // mkfs.fat's last size with 512-byte clusters
  ["esp", "past 260", 261],
];

let tmp: { path: string; cleanup(): void };
let theirs: string;
let ours: string;

function starts(img: string): number[] {
  const j = JSON.parse(runOk("sfdisk", ["-J", img])) as { partitiontable: { partitions: { start: number }[] } };
  return j.partitiontable.partitions.map((p) => p.start);
}

function bootSector(img: string, lba: number): Buffer {
  const b = Buffer.alloc(512);
  const fd = openSync(img, "r");
  try {
    readSync(fd, b, 0, 512, lba * 512);
  } finally {
    closeSync(fd);
  }
  return b;
}

/** blkid's view of the file system at `lba`: LABEL_FATBOOT (BPB), LABEL (root label entry), UUID, TYPE. */
function probe(img: string, lba: number): Record<string, string> {
  const out = runOk("blkid", ["-p", "-o", "export", "-O", String(lba * 512), img]);
  const tags = Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  return { LABEL_FATBOOT: tags.LABEL_FATBOOT, LABEL: tags.LABEL, UUID: tags.UUID, TYPE: tags.TYPE };
}

beforeAll(() => {
  requireTool("systemd-repart");
  requireTool("mkfs.vfat");
  requireTool("blkid");
  requireTool("sfdisk");
  tmp = tempDir("mkdisk-fat32-repart-");
  const defs = join(tmp.path, "defs");
  mkdirSync(defs);
  PARTS.forEach(([type, label, mib], i) => {
    const lines = ["[Partition]", `Type=${type}`, "Format=vfat", `SizeMinBytes=${mib}M`, `SizeMaxBytes=${mib}M`];
    if (label !== undefined) lines.push(`Label=${label}`);
    writeFileSync(join(defs, `${String(i).padStart(2, "0")}.conf`), lines.join("\n") + "\n");
  });
  theirs = join(tmp.path, "repart.img");
  writeFileSync(theirs, "");
  truncateSync(theirs, 1200 * 1048576);
  runOk("systemd-repart", ["--no-pager", "--empty=force", `--seed=${SEED}`, `--definitions=${defs}`, "--dry-run=no", theirs]);

  const layout = join(tmp.path, "layout.json");
  writeFileSync(layout, JSON.stringify({
    seed: SEED,
    size: "1200M",
    partitions: PARTS.map(([type, label, mib]) => ({ type, format: "vfat", size: `${mib}M`, ...(label !== undefined ? { label } : {}) })),
  }));
  ours = join(tmp.path, "mkdisk.img");
  runOk(process.execPath, [CLI, "--layout", layout, "-o", ours]);
}, 300_000);
afterAll(() => tmp?.cleanup());

describe("vfat partitions: the same file systems as systemd-repart's Format=vfat", () => {
  it("both disks have the partitions (the comparison below is not vacuous)", () => {
    expect(starts(theirs)).toHaveLength(PARTS.length);
    expect(starts(ours)).toHaveLength(PARTS.length);
    for (const lba of starts(theirs)) expect(probe(theirs, lba).TYPE).toBe("vfat");
  });

  it("volume ids and labels (BPB and root directory entry), as blkid reads them", () => {
    const a = starts(theirs).map((lba) => probe(theirs, lba));
    const b = starts(ours).map((lba) => probe(ours, lba));
    expect(b).toEqual(a);
    // The mangling really happened (repart upper-cases and replaces what FAT cannot hold).
    expect(a.map((t) => t.LABEL)).toContain("XBOOTLDR");
    expect(new Set(a.map((t) => t.UUID)).size).toBe(PARTS.length);
  });

  it("BPB: every field but OEM name, drive geometry, hidden sectors and total sectors", () => {
    const fields = (img: string, lba: number) => {
      const s = bootSector(img, lba);
      // 0x0B..0x17: bytes per sector … FAT16 size; 0x24..0x59: FAT size … file system type.
      return { head: s.subarray(0x0b, 0x18).toString("hex"), tail: s.subarray(0x24, 0x5a).toString("hex"), sig: s.readUInt16LE(510) };
    };
    const a = starts(theirs).map((lba) => fields(theirs, lba));
    const b = starts(ours).map((lba) => fields(ours, lba));
    expect(b).toEqual(a);
    // Cluster sizes differ between the partitions, so the geometry rule is exercised.
    expect(new Set(starts(theirs).map((lba) => bootSector(theirs, lba)[13])).size).toBeGreaterThan(1);
  });

  it("total sectors: mkdisk uses the whole partition; mkfs.fat the same, cut to whole tracks of its guessed geometry", () => {
    const total = (img: string, lba: number) => bootSector(img, lba).readUInt32LE(0x20);
    const oursTotals = starts(ours).map((lba) => total(ours, lba));
    expect(oursTotals).toEqual(PARTS.map(([, , mib]) => (mib * 1048576) / 512));
    const theirsTotals = starts(theirs).map((lba) => total(theirs, lba));
    const tracks = starts(theirs).map((lba) => bootSector(theirs, lba).readUInt16LE(0x18));
    expect(theirsTotals).toEqual(oursTotals.map((n, i) => Math.floor(n / tracks[i]) * tracks[i]));
    // The cut shows on at least one partition (63 sectors a track does not divide 300 MiB).
    expect(theirsTotals).not.toEqual(oursTotals);
  });
});
