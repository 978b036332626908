/**
 * A streamOptimized VMDK read the way a streaming consumer reads it (VMware's
 * "Virtual Disk Format 1.1", stream-optimized sparse extents; VirtualBox's
 * OVA import reads it front to back): header, embedded descriptor, then
 * markers walked sector by sector, each skipped by its own size. qemu-img
 * seeks through the grain directory instead and ignores what this walk
 * depends on (marker sizes, grain LBAs, overHead), so this test checks it:
 * every grain marker in LBA order with a grain-table entry pointing at it,
 * every metadata marker's sector count right, grain tables and the directory
 * where the footer says, and the end-of-stream marker as the last sector.
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { BuildContext } from "../../src/context/index.js";
import { pump } from "../../src/io/pump.js";
import { VmdkSink } from "../../src/vmdk/index.js";
import { runOk, tempDir } from "../helpers/tools.js";
import { fdOut, fixedCases, writeRaw, type Case } from "../qcow2/support.js";

const dir = tempDir("mkdisk-vmdk-stream-");
afterAll(() => dir.cleanup());
const ctx = new BuildContext({ seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445" });
const S = 512;

async function build(c: Case, i: number): Promise<{ vmdk: Buffer; raw: Buffer }> {
  const rawPath = join(dir.path, `${i}.raw`);
  const path = join(dir.path, `${i}.vmdk`);
  await writeRaw(rawPath, c.extents, c.totalBytes);
  const fd = openSync(path, "w");
  try {
    await pump(c.extents, c.totalBytes, [new VmdkSink(fdOut(fd), { ctx })]);
  } finally {
    closeSync(fd);
  }
  return { vmdk: readFileSync(path), raw: readFileSync(rawPath) };
}

const u64 = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at));

function header(b: Buffer) {
  return {
    magic: b.readUInt32LE(0), version: b.readUInt32LE(4), flags: b.readUInt32LE(8), capacity: u64(b, 0x0c), grainSize: u64(b, 0x14),
    descriptorOffset: u64(b, 0x1c), descriptorSize: u64(b, 0x24), numGTEsPerGT: b.readUInt32LE(0x2c), rgdOffset: u64(b, 0x30),
    gdOffset: b.readBigUInt64LE(0x38), overHead: u64(b, 0x40), unclean: b[0x48], newlines: [...b.subarray(0x49, 0x4d)], compressAlgorithm: b.readUInt16LE(0x4d),
  };
}

describe("streamOptimized VMDK, walked as a stream", () => {
  fixedCases().forEach((c, i) => {
    it(c.name, async () => {
      const { vmdk, raw } = await build(c, i);
      expect(vmdk.length % S).toBe(0);
      const h = header(vmdk);
      const grainSectors = 128;
      expect(h).toMatchObject({
        magic: 0x564d444b, version: 3, flags: (1 << 0) | (1 << 16) | (1 << 17), capacity: Math.ceil(c.totalBytes / S), grainSize: grainSectors,
        descriptorOffset: 1, numGTEsPerGT: 512, rgdOffset: 0, gdOffset: 0xffffffffffffffffn, unclean: 0, newlines: [0x0a, 0x20, 0x0d, 0x0a], compressAlgorithm: 1,
      });
      expect(h.overHead).toBe(1 + h.descriptorSize);
      const descriptor = vmdk.subarray(S, S * (1 + h.descriptorSize)).toString("latin1").replace(/\0+$/, "");
      expect(descriptor).toMatch(/^# Disk DescriptorFile\n/);
      expect(descriptor).toContain('createType="streamOptimized"');
      expect(descriptor).toContain(`RW ${h.capacity} SPARSE `);
      expect(descriptor).toMatch(/^parentCID=ffffffff$/m);
      // The descriptor's fixed lines and geometry as qemu-img writes them for a disk of this size.
      const q = join(dir.path, `${i}-qemu.vmdk`);
      runOk("qemu-img", ["create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", q, String(c.totalBytes)]);
      const lines = (t: string) => t.split("\n").filter((l) => /^(version=|createType=|RW |ddb\.virtualHWVersion|ddb\.geometry\.|ddb\.adapterType)/.test(l)).map((l) => l.replace(/ "[^"]*\.vmdk"$/, ""));
      const theirs = readFileSync(q).subarray(S, 64 * S).toString("latin1").replace(/\0[\s\S]*$/, "");
      expect(lines(descriptor)).toEqual(lines(theirs));
      expect(lines(descriptor)).toHaveLength(8);

      // Walk the markers from overHead.
      const grainAt = new Map<number, number>(); // guest LBA → sector of its marker
      const gts: number[] = []; // sectors of grain tables (after their markers)
      let gd = -1;
      let footer = -1;
      let lastLba = -1;
      let s = h.overHead;
      for (;;) {
        expect(s * S, "the stream ends with an end-of-stream marker").toBeLessThan(vmdk.length);
        const at = s * S;
        const val = u64(vmdk, at);
        const size = vmdk.readUInt32LE(at + 8);
        if (size > 0) {
          // A grain: its LBA in increasing order, a whole grain's start, deflated data of a full grain.
          expect(val).toBeGreaterThan(lastLba);
          expect(val % grainSectors).toBe(0);
          lastLba = val;
          grainAt.set(val, s);
          const data = inflateSync(vmdk.subarray(at + 12, at + 12 + size));
          expect(data.length).toBe(grainSectors * S);
          const want = Buffer.alloc(grainSectors * S);
          raw.copy(want, 0, val * S, Math.min(raw.length, (val + grainSectors) * S));
          expect(data.equals(want), `grain at LBA ${val}`).toBe(true);
          s += Math.ceil((12 + size) / S);
          continue;
        }
        const type = vmdk.readUInt32LE(at + 12);
        if (type === 0) {
          expect(val).toBe(0);
          expect(at + S, "end-of-stream is the last sector").toBe(vmdk.length);
          break;
        }
        if (type === 1) {
          expect(val, "a grain table is 4 sectors").toBe(4);
          gts.push(s + 1);
        } else if (type === 2) {
          gd = s + 1;
        } else {
          expect(type).toBe(3);
          expect(val, "the footer is one sector").toBe(1);
          footer = s + 1;
        }
        s += 1 + val;
      }

      // Every non-zero grain of the raw image is in the stream, and only those.
      const nonZero: number[] = [];
      for (let lba = 0; lba * S < raw.length; lba += grainSectors) {
        if (raw.subarray(lba * S, (lba + grainSectors) * S).some((b) => b !== 0)) nonZero.push(lba);
      }
      expect([...grainAt.keys()]).toEqual(nonZero);

      // The footer repeats the header with the directory's place; the directory lists the tables, the tables the grains.
      expect(footer).toBeGreaterThan(0);
      const f = header(vmdk.subarray(footer * S, footer * S + S));
      expect({ ...f, gdOffset: 0n }).toEqual({ ...h, gdOffset: 0n });
      expect(Number(f.gdOffset)).toBe(gd);
      const tables = Math.ceil(h.capacity / grainSectors / 512);
      const gdSectors = u64(vmdk, (gd - 1) * S);
      expect(gdSectors, "the directory marker's sector count").toBe(Math.ceil((tables * 4) / S));
      const gdEntries = Array.from({ length: tables }, (_, t) => vmdk.readUInt32LE(gd * S + 4 * t));
      expect(gdEntries.filter((e) => e !== 0)).toEqual(gts);
      const mapped = new Map<number, number>();
      gdEntries.forEach((gt, t) => {
        if (gt === 0) return;
        for (let e = 0; e < 512; e++) {
          const grain = vmdk.readUInt32LE(gt * S + 4 * e);
          if (grain !== 0) mapped.set((t * 512 + e) * grainSectors, grain);
        }
      });
      expect(mapped).toEqual(grainAt);
    });
  });
});
