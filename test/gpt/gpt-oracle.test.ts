/**
 * Oracles: `sgdisk -v` (GPT fdisk) finds no problems, and `sfdisk --json`
 * (util-linux) reads back exactly the layout's table: disk GUID, first/last
 * usable LBA, and per partition type, uuid, label, start, size, attributes.
 * Images are built by buildDisk (planDisk → pump → RawSink). 4096-byte-sector
 * images are read through a loop device with that logical sector size.
 * `blkid -p` (util-linux) probes the swap signature mkdisk writes.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { formatUuid, parseUuid } from "../../src/bin/guid.js";
import { BuildContext } from "../../src/context/index.js";
import { alignUp } from "../../src/bin/int.js";
import { parseLayout } from "../../src/layout/schema.js";
import { planDisk } from "../../src/layout/plan.js";
import { requireTool, runOk, tempDir } from "../helpers/tools.js";
import { buildRaw, SEED, sfdiskAttrs, sfdiskJson, withLoop, type LayoutJson, type PartJson } from "../layout/support.js";

let tmp: { path: string; cleanup(): void };
beforeAll(() => {
  for (const t of ["sgdisk", "sfdisk", "blkid", "losetup"]) requireTool(t);
  tmp = tempDir("mkdisk-gpt-");
});
afterAll(() => tmp?.cleanup());

const ROOT_ETC = new Set(["root-x86-64", "root-arm64", "root-x86", "root-riscv64", "usr-x86-64", "usr-arm64", "home", "srv", "var", "tmp", "xbootldr"]);

/** What the table must say, computed from the layout by the documented rules (not by the planner). */
function expectedIdentity(lj: LayoutJson) {
  const layout = parseLayout(lj);
  const ctx = new BuildContext({ seed: lj.seed ?? SEED });
  const counts = new Map<string, number>();
  const labels: string[] = [];
  return {
    diskGuid: formatUuid(ctx.diskGuid()),
    parts: layout.partitions.map((p, i) => {
      const typeGuid = p.type.guid;
      const k = counts.get(typeGuid) ?? 0;
      counts.set(typeGuid, k + 1);
      const uuid = p.uuid ? formatUuid(p.uuid) : formatUuid(ctx.partitionUuid(parseUuid(typeGuid), k));
      let label = p.label;
      if (label === undefined) {
        const base = p.type.defaultLabel;
        label = base;
        for (let n = 2; labels.includes(label); n++) label = `${base}-${n}`;
      }
      labels.push(label);
      let attrs = 0n;
      if (p.noAuto) attrs |= 1n << 63n;
      if (p.readOnly) attrs |= 1n << 60n;
      if (p.growFileSystem ?? (ROOT_ETC.has(p.type.name) && !p.readOnly)) attrs |= 1n << 59n;
      for (const b of p.attributeBits) attrs |= 1n << BigInt(b);
      const raw = lj.partitions[i];
      return { typeGuid, uuid, label, attrs, spec: p, raw };
    }),
    layout,
  };
}

/** Builds the image and checks it with sgdisk -v and sfdisk --json against the layout. */
async function buildAndCheck(lj: LayoutJson, tag: string) {
  const image = join(tmp.path, `${tag}.img`);
  const result = await buildRaw(lj, image);
  const { diskGuid, parts, layout } = expectedIdentity(lj);
  const s = layout.sectorSize;
  const A = layout.alignmentBytes;
  const sizeBytes = statSync(image).size;
  expect(sizeBytes).toBe(result.plan.totalBytes);
  const N = sizeBytes / s;

  const read = (dev: string) => ({ v: runOk("sgdisk", ["-v", dev]), t: sfdiskJson(dev) });
  const { v, t } = s === 512 ? read(image) : withLoop(image, s, read);
  expect(v, `sgdisk -v ${tag}`).toContain("No problems found");
  // Fields sgdisk and sfdisk accept even when wrong (UEFI 2.10 §5.2.3, §5.3.2):
  // the protective MBR's one record, and both headers' revision, size, reserved field and LBAs.
  const fd = openSync(image, "r");
  const sector = (lba: number) => {
    const b = Buffer.alloc(s);
    readSync(fd, b, 0, s, lba * s);
    return b;
  };
  try {
    const mbr = sector(0);
    const rec = Buffer.alloc(16);
    rec.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff, 0x01, 0, 0, 0]);
    rec.writeUInt32LE(Math.min(N - 1, 0xffffffff), 12);
    expect(mbr.subarray(0x1be, 0x1ce).toString("hex"), `${tag}: protective MBR record`).toBe(rec.toString("hex"));
    expect(mbr.subarray(0x1ce, 0x1fe).every((b) => b === 0), `${tag}: other MBR records empty`).toBe(true);
    expect(mbr.readUInt16LE(0x1fe)).toBe(0xaa55);
    const entrySectors = 16384 / s;
    for (const [lba, alt, entries] of [[1, N - 1, 2], [N - 1, 1, N - 1 - entrySectors]]) {
      const h = sector(lba);
      expect({
        sig: h.subarray(0, 8).toString("latin1"), revision: h.readUInt32LE(8), size: h.readUInt32LE(12), reserved: h.readUInt32LE(20),
        my: Number(h.readBigUInt64LE(24)), alt: Number(h.readBigUInt64LE(32)), entries: Number(h.readBigUInt64LE(72)), count: h.readUInt32LE(80), entrySize: h.readUInt32LE(84),
        rest: h.subarray(92).every((b) => b === 0),
      }, `${tag}: GPT header at LBA ${lba}`).toEqual({ sig: "EFI PART", revision: 0x00010000, size: 92, reserved: 0, my: lba, alt, entries, count: 128, entrySize: 128, rest: true });
    }
  } finally {
    closeSync(fd);
  }

  expect(t.label).toBe("gpt");
  expect(t.id).toBe(diskGuid.toUpperCase());
  expect(t.sectorsize ?? 512).toBe(s);
  const firstLba = sizeBytes > 4 << 20 ? (1 << 20) / s : 2 + 16384 / s;
  expect(t.firstlba).toBe(firstLba);
  expect(t.lastlba).toBe(N - 2 - 16384 / s);
  const got = t.partitions ?? [];
  expect(got.length).toBe(parts.length);
  const areaEnd = Math.floor(((t.lastlba + 1) * s) / 4096) * 4096;

  let prevEnd = t.firstlba * s;
  got.forEach((g, i) => {
    const e = parts[i];
    const where = `${tag} partition ${i + 1}`;
    expect(g.type.toLowerCase(), where).toBe(e.typeGuid);
    expect(g.uuid.toLowerCase(), where).toBe(e.uuid);
    expect(g.name ?? "", where).toBe(e.label);
    expect(g.attrs, where).toBe(sfdiskAttrs(e.attrs));
    // Where the plan says.
    const pp = result.plan.partitions[i];
    expect(g.start, where).toBe(pp.startLba);
    expect(g.size * s, where).toBe(pp.sizeBytes);
    // Placement rules.
    const startBytes = g.start * s;
    const sizeB = g.size * s;
    expect(startBytes % A, `${where} aligned`).toBe(0);
    expect(startBytes, `${where} ordered`).toBeGreaterThanOrEqual(prevEnd);
    expect(startBytes - prevEnd, `${where}: no gap beyond the alignment`).toBeLessThan(A);
    prevEnd = startBytes + sizeB;
    const min = alignUp(e.spec.minBytes ?? 0, 4096);
    if (!e.spec.grow) expect(sizeB, where).toBe(min);
    else {
      expect(sizeB, where).toBeGreaterThanOrEqual(min);
      if (e.spec.maxBytes !== undefined) expect(sizeB, `${where} maxSize`).toBeLessThanOrEqual(Math.max(min, alignUp(e.spec.maxBytes, 4096)));
      // "auto": the minimum; a growing partition may take the alignment gap behind it, no more.
      if (layout.size === "auto" && sizeBytes > 4 << 20) expect(sizeB, `${where}: auto size gives the minimum`).toBeLessThanOrEqual(i === parts.length - 1 ? min : alignUp(min, A));
    }
  });
  expect(prevEnd).toBeLessThanOrEqual(areaEnd);
  // A growing partition below its cap leaves less than one alignment unit free.
  const uncapped = parts.some((e, i) => e.spec.grow && (e.spec.maxBytes === undefined || got[i].size * s < alignUp(e.spec.maxBytes, 4096)));
  if (uncapped) expect(areaEnd - prevEnd, `${tag}: free space left with a partition still able to grow`).toBeLessThan(A);
  // The last partition grows on the 4 KiB grain, not the alignment: if it can still grow, less than 4 KiB is left.
  const L = parts.length - 1;
  if (L >= 0 && parts[L].spec.grow && (parts[L].spec.maxBytes === undefined || got[L].size * s < alignUp(parts[L].spec.maxBytes, 4096))) {
    expect(areaEnd - prevEnd, `${tag}: free space left behind a last partition still able to grow`).toBeLessThan(4096);
  }
  // "auto": the disk ends within a grain of the backup GPT after the last partition.
  if (layout.size === "auto" && sizeBytes > 4 << 20) expect(sizeBytes - prevEnd - (1 + 16384 / s) * s).toBeLessThan(4096);
  return { image, result, table: t };
}

describe("GPT read back by sgdisk and sfdisk", () => {
  it("the example shape: esp 512M, bios-boot 1M, root 2G, swap 256M (swap formatted)", async () => {
    const lj: LayoutJson = {
      seed: SEED,
      partitions: [
        { type: "esp", size: "512M" },
        { type: "bios-boot", size: "1M" },
        { type: "root", size: "2G" },
        { type: "swap", size: "256M", format: "swap" },
      ],
    };
    const { image, result, table } = await buildAndCheck(lj, "example");
    expect(table.partitions!.map((p) => [p.start, p.size, p.name, p.attrs])).toEqual([
      [2048, 1048576, "esp", undefined],
      [1050624, 2048, "linux", undefined],
      [1052672, 4194304, "root-x86-64", "GUID:59"],
      [5246976, 524288, "swap", undefined],
    ]);
    expect(table.partitions!.map((p) => p.uuid.toLowerCase()).slice(0, 3)).toEqual([
      "cb96a8e9-addc-4be7-b68e-69b6d1ea59cb", "b04484e1-8866-461f-bf13-69abeb2606ee", "9a914a15-37a6-422c-a924-0380869e7ede",
    ]);
    // The swap signature, probed where the partition is.
    const swap = result.plan.partitions[3];
    const probe = runOk("blkid", ["-p", "-o", "export", "-O", String(swap.startLba * 512), "-S", String(swap.sizeBytes), image]);
    expect(probe).toContain("TYPE=swap");
    expect(probe).toContain(`UUID=${formatUuid(swap.fsUuid!)}`);
    expect(probe).toContain("LABEL=swap");
    expect(probe).toMatch(/VERSION=1|SWAPSPACE2|version 1/i);
  });

  it("4096-byte sectors: the example shape with 4K sectors and a swap label", async () => {
    const lj: LayoutJson = {
      seed: SEED, sectorSize: 4096, size: "96M",
      partitions: [
        { type: "esp", size: "16M" },
        { type: "bios-boot", size: "1M" },
        { type: "root", grow: true, minSize: "8M" },
        { type: "swap", size: "8M", format: "swap", label: "my-swap" },
      ],
    };
    const { image, result } = await buildAndCheck(lj, "example-4k");
    const swap = result.plan.partitions[3];
    withLoop(image, 4096, (dev) => {
      const probe = runOk("blkid", ["-p", "-o", "export", "-O", String(swap.startLba * 4096), "-S", String(swap.sizeBytes), dev]);
      expect(probe).toContain("TYPE=swap");
      expect(probe).toContain("LABEL=my-swap");
      expect(probe).toContain(`UUID=${formatUuid(swap.fsUuid!)}`);
    });
  });

  it("fixed disk sizes with grow partitions and maxSize caps, at several alignments", async () => {
    for (const alignment of ["4K", "64K", "1M", "8M"]) {
      await buildAndCheck({
        seed: SEED, size: "256M", alignment,
        partitions: [
          { type: "esp", size: "33M" },
          { type: "linux-generic", grow: true, minSize: 5000, maxSize: "20M" },
          { type: "root", grow: true, minSize: "10M" },
          { type: "home", grow: true, minSize: "1M", maxSize: 12345678 },
        ],
      }, `grow-${alignment}`);
    }
  });

  it("labels: UTF-16 names up to 36 units, explicit labels, raw type GUIDs, attributes", async () => {
    await buildAndCheck({
      seed: SEED,
      partitions: [
        { type: "esp", size: "1M", label: "ÉFI système ✓" },
        { type: "linux-generic", size: "1M", label: "x".repeat(36) },
        { type: "a2a0d0eb-e5b9-3344-87c0-68b6b72699c7", size: "1M", attributes: [0, 2, 48] },
        { type: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", size: "1M", uuid: "01234567-89ab-4cde-8f01-23456789abcd" },
        { type: "var", size: "1M", readOnly: true, noAuto: true },
        { type: "root", size: "1M", growFileSystem: false },
      ],
    }, "labels");
  });
});

// Generated layouts.
const KNOWN_TYPES = ["esp", "xbootldr", "bios-boot", "swap", "home", "srv", "var", "tmp", "linux-generic", "root", "root-arm64", "usr", "usr-arm64"];
const labelArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9 _.-]{1,36}$/),
  fc.array(fc.constantFrom("a", "é", "ü", "€", "Ω", "z", "-", "ß"), { minLength: 1, maxLength: 36 }).map((a) => a.join("")),
);
const sizeArb = fc.oneof(fc.integer({ min: 1, max: 4 << 20 }), fc.integer({ min: 1, max: 16 }).map((m) => m << 20));
const partArb: fc.Arbitrary<PartJson> = fc
  .record({
    type: fc.oneof(fc.constantFrom(...KNOWN_TYPES), fc.uuid({ version: [1, 4, 5] })),
    grow: fc.boolean(),
    min: sizeArb,
    max: fc.option(sizeArb, { nil: undefined }),
    label: fc.option(labelArb, { nil: undefined }),
    uuid: fc.option(fc.uuid({ version: 4 }), { nil: undefined, freq: 4 }),
    readOnly: fc.option(fc.boolean(), { nil: undefined, freq: 3 }),
    noAuto: fc.option(fc.boolean(), { nil: undefined, freq: 3 }),
    growFileSystem: fc.option(fc.boolean(), { nil: undefined, freq: 3 }),
    attributes: fc.option(fc.uniqueArray(fc.constantFrom(0, 1, 2, 48, 49, 50, 55, 56, 59, 60, 62, 63), { maxLength: 4 }), { nil: undefined, freq: 3 }),
  })
  .map(({ type, grow, min, max, ...rest }) => {
    const p: PartJson = grow ? { type, grow: true, minSize: min, ...(max !== undefined ? { maxSize: min + max } : {}) } : { type, size: min };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) p[k] = v;
    return p;
  });
const layoutArb = fc
  .record({
    partitions: fc.array(partArb, { minLength: 1, maxLength: 10 }),
    sectorSize: fc.constantFrom(512, 4096),
    alignment: fc.constantFrom("4K", "8K", "64K", "1M", "2M", "8M"),
    extra: fc.option(fc.integer({ min: 0, max: 96 << 20 }), { nil: undefined }),
    seed: fc.uuid({ version: 4 }),
  })
  .filter(({ partitions }) => new Set(partitions.map((p) => p.uuid).filter(Boolean)).size === partitions.filter((p) => p.uuid).length);

describe("generated layouts read back by sgdisk and sfdisk", () => {
  it("property: random partition counts, sizes, types (incl. raw GUIDs), labels, alignments, sector sizes, fixed sizes", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(layoutArb, async ({ partitions, sectorSize, alignment, extra, seed }) => {
        const auto: LayoutJson = { seed, sectorSize: sectorSize as 512 | 4096, alignment, partitions };
        if (extra === undefined) {
          await buildAndCheck(auto, `gen${n++}`);
          return;
        }
        // A fixed size: the auto size plus some room (a multiple of the sector size).
        const autoBytes = planDisk(parseLayout(auto), undefined, new BuildContext({ seed })).totalBytes;
        const size = autoBytes + Math.floor(extra / sectorSize) * sectorSize;
        await buildAndCheck({ ...auto, size }, `gen${n++}`);
      }),
      { numRuns: 60, seed: 7 },
    );
  }, 600_000);

  it("a disk one sector too small for the layout is refused with E_FIT naming \"size\"", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(partArb, { minLength: 1, maxLength: 6 }), fc.constantFrom(512, 4096), async (partitions, sectorSize) => {
        const auto: LayoutJson = { seed: SEED, sectorSize: sectorSize as 512 | 4096, alignment: "4K", partitions: partitions.map((p) => ({ ...p, uuid: undefined })) };
        let plan;
        try {
          plan = planDisk(parseLayout(auto), undefined, new BuildContext({ seed: SEED }));
        } catch (e) {
          expect(e).toBeInstanceOf(MkdiskError);
          return;
        }
        // Exactly the auto size fits; smaller by the backup GPT's size does not.
        const small = plan.totalBytes - 4096 * 6;
        try {
          planDisk(parseLayout({ ...auto, size: small }), undefined, new BuildContext({ seed: SEED }));
        } catch (e) {
          expect(e).toBeInstanceOf(MkdiskError);
          expect((e as MkdiskError).code).toBe("E_FIT");
          expect((e as MkdiskError).where).toBe("size");
          return;
        }
        // Small disks (4 MiB or less) have more usable room: only those may still fit.
        expect(small).toBeLessThanOrEqual(4 << 20);
      }),
      { numRuns: 200 },
    );
  });
});
