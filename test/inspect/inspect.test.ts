/**
 * inspect reads back what sfdisk and blkid (the oracles) read from the same
 * image, and survives truncated and bit-flipped images with coded errors.
 */
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDisk } from "../../src/build.js";
import { MkdiskError } from "../../src/bin/errors.js";
import { inspectImage } from "../../src/inspect/index.js";
import { crc32 } from "../../src/bin/crc.js";
import { runOk, tempDir } from "../helpers/tools.js";

let tmp: ReturnType<typeof tempDir>;
let img: string;
beforeAll(async () => {
  tmp = tempDir();
  img = join(tmp.path, "d.img");
  await buildDisk({
    layout: {
      seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
      partitions: [
        { type: "esp", size: "8M" },
        { type: "linux-generic", size: "3M", label: "data", noAuto: true },
        { type: "swap", format: "swap", size: "4M" },
      ],
    },
    outputs: [{ format: "raw", path: img }],
  });
});
afterAll(() => tmp.cleanup());

describe("inspect", () => {
  it("agrees with sfdisk --json and blkid", () => {
    const r = inspectImage(img);
    const pt = JSON.parse(runOk("sfdisk", ["--json", img])).partitiontable;
    expect(r.diskGuid.toUpperCase()).toBe(pt.id);
    expect(r.problems).toEqual([]);
    expect(r.partitions.map((p) => [p.startLba, p.sizeBytes / 512, p.typeGuid.toUpperCase(), p.uuid.toUpperCase(), p.label])).toEqual(
      pt.partitions.map((p: Record<string, unknown>) => [p.start, p.size, p.type, p.uuid, p.name]),
    );
    expect(r.partitions[1].attributes).toEqual([63]);
    const swap = r.partitions[2];
    const blk = runOk("blkid", ["-p", "-o", "export", "-O", String(swap.startLba * 512), img]);
    expect(blk).toContain(`UUID=${swap.filesystem.uuid}`);
    expect(blk).toContain("TYPE=swap");
    expect(blk).toContain(`LABEL=${swap.filesystem.label}`);
  });

  it("reads a disk with 4096-byte sectors as sfdisk reads it through a 4 KiB loop device", async () => {
    const img4k = join(tmp.path, "4k.img");
    await buildDisk({
      layout: {
        seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
        sectorSize: 4096,
        partitions: [
          { type: "esp", format: "vfat", size: "260M" },
          { type: "swap", format: "swap", size: "4M" },
        ],
      },
      outputs: [{ format: "raw", path: img4k }],
    });
    const r = inspectImage(img4k);
    expect(r.sectorBytes).toBe(4096);
    expect(r.problems).toEqual([]);
    const loop = runOk("losetup", ["-b", "4096", "-f", "--show", "-r", img4k]).trim();
    let pt;
    try {
      pt = JSON.parse(runOk("sfdisk", ["--json", loop])).partitiontable;
    } finally {
      runOk("losetup", ["-d", loop]);
    }
    expect(pt.sectorsize).toBe(4096);
    expect(r.diskGuid.toUpperCase()).toBe(pt.id);
    expect(r.partitions.map((p) => [p.startLba, p.sizeBytes / 4096, p.typeGuid.toUpperCase(), p.uuid.toUpperCase(), p.label])).toEqual(
      pt.partitions.map((p: Record<string, unknown>) => [p.start, p.size, p.type, p.uuid, p.name]),
    );
    expect(r.partitions.map((p) => p.filesystem?.type)).toEqual(["vfat", "swap"]);
  });

  it("reports a damaged primary GPT and reads the backup", () => {
    const b = readFileSync(img);
    b[512 + 0x30] ^= 1; // LastUsableLBA: breaks HeaderCRC32
    const p = join(tmp.path, "bad.img");
    writeFileSync(p, b);
    const r = inspectImage(p);
    expect(r.problems.join("\n")).toMatch(/primary GPT header.*HeaderCRC32/);
    expect(r.partitions.length).toBe(3);
  });

  it("GPT header rules: a larger HeaderSize is valid, a damaged backup, a moved disk end and differing entry arrays are reported", () => {
    const good = readFileSync(img);
    const N = good.length / 512;
    const fixHeaderCrc = (b: Buffer, lba: number) => {
      const at = lba * 512;
      const size = b.readUInt32LE(at + 12);
      b.writeUInt32LE(0, at + 16);
      b.writeUInt32LE(crc32(b.subarray(at, at + size)), at + 16);
    };
    const probe = (b: Buffer, name: string) => {
      const p = join(tmp.path, name);
      writeFileSync(p, b);
      return inspectImage(p);
    };
    // HeaderSize 96: the CRC covers 96 bytes; a valid header (UEFI allows 92 up to a sector).
    const big = Buffer.from(good);
    big.writeUInt32LE(96, 512 + 12);
    fixHeaderCrc(big, 1);
    expect(probe(big, "hs96.img").problems).toEqual([]);
    // A damaged backup: reported, the primary still read.
    const bk = Buffer.from(good);
    bk[(N - 1) * 512 + 0x30] ^= 1;
    const rb = probe(bk, "bad-backup.img");
    expect(rb.problems.join("\n")).toMatch(/backup GPT header.*HeaderCRC32/);
    expect(rb.partitions.length).toBe(3);
    // Grown by 1 MiB (as qemu-img resize does): the backup is no longer at the end.
    const grown = Buffer.concat([good, Buffer.alloc(1 << 20)]);
    expect(probe(grown, "grown.img").problems.join("\n")).toMatch(/AlternateLBA \d+ is not the image's last LBA/);
    // Both tables valid but different (a label changed in the backup only).
    const diff = Buffer.from(good);
    const arrLba = Number(diff.readBigUInt64LE((N - 1) * 512 + 72));
    diff[arrLba * 512 + 128 + 56] ^= 0x01; // entry 2's name
    diff.writeUInt32LE(crc32(diff.subarray(arrLba * 512, arrLba * 512 + 128 * 128)), (N - 1) * 512 + 88);
    fixHeaderCrc(diff, N - 1);
    const rd = probe(diff, "differ.img");
    expect(rd.problems).toEqual(["primary and backup GPT partition entry arrays differ (the primary is read)"]);
    expect(rd.partitions[1].label).toBe("data");
  });

  it("a qcow2 or VMDK shrunk below its partitions reads as the same disk in raw form does: problems, not a usage error", () => {
    const rows = (p: string) => {
      const r = inspectImage(p);
      return { problems: r.problems, partitions: r.partitions.map((x) => [x.number, x.startLba, x.sizeBytes]) };
    };
    const q = join(tmp.path, "shrunk.qcow2");
    runOk("qemu-img", ["convert", "-O", "qcow2", img, q]);
    runOk("qemu-img", ["resize", "-q", "--shrink", q, "10M"]);
    const raw = join(tmp.path, "shrunk.raw");
    runOk("qemu-img", ["convert", "-O", "raw", q, raw]);
    const v = join(tmp.path, "shrunk.vmdk");
    runOk("qemu-img", ["convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, v]);
    const want = rows(raw);
    expect(want.problems.length).toBeGreaterThan(0);
    expect(rows(q)).toEqual(want);
    expect(rows(v)).toEqual(want);
  });

  it("never crashes on truncated or bit-flipped images", () => {
    const good = readFileSync(img).subarray(0, 64 * 1024); // the head is where the structures are
    const full = readFileSync(img);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 20 }), fc.nat(full.length), (flips, cut) => {
        const b = Buffer.from(full.subarray(0, Math.max(cut, 1024)));
        for (const [i, x] of flips) if (i < b.length) b[i] ^= x;
        const p = join(tmp.path, "fuzz.img");
        writeFileSync(p, b);
        try {
          inspectImage(p);
        } catch (e) {
          if (!(e instanceof MkdiskError)) throw e;
        }
      }),
      { numRuns: 60 },
    );
  });
});
