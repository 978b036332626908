/**
 * Oracle: systemd-repart (Debian's systemd package, 252 on bookworm). For the
 * same partition definitions, seed and disk size, mkdisk's partition table is
 * repart's: `sfdisk --dump` equal (ids, labels, starts, sizes, attributes,
 * first/last LBA), the image sizes equal, and the GPT bytes (protective MBR,
 * both headers, both entry arrays) equal.
 *
 * mkdisk's default alignment is 1 MiB (repart packs partitions on 4 KiB);
 * these tests use "alignment": "4K", the setting that matches repart.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { parseLayout } from "../../src/layout/schema.js";
import { PARTITION_TYPES } from "../../src/gpt/types.js";
import { requireTool, runOk, sha256File, tempDir } from "../helpers/tools.js";
import { buildRaw, planAndWriteSparse, repartDefinitions, runRepart, withLoop, SEED, sfdiskDump, type LayoutJson, type PartJson } from "./support.js";

let tmp: { path: string; cleanup(): void };
beforeAll(() => {
  requireTool("systemd-repart");
  requireTool("sfdisk");
  tmp = tempDir("mkdisk-repart-");
});
afterAll(() => tmp?.cleanup());

function readRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** The GPT regions of a 512-byte-sector image: LBA 0..33 and the last 33 sectors. */
function gptBytes(path: string): Buffer {
  const size = statSync(path).size;
  return Buffer.concat([readRange(path, 0, 34 * 512), readRange(path, size - 33 * 512, 33 * 512)]);
}

type Outcome = { ok: true; dump: string; sizeBytes: number; gpt: Buffer; pages: Buffer[] } | { ok: false; why: string };

async function mkdiskOutcome(layout: LayoutJson, image: string, fast: boolean): Promise<Outcome> {
  try {
    const plan = fast ? planAndWriteSparse(layout, image) : (await buildRaw(layout, image)).plan;
    const pages = plan.partitions.map((p) => readRange(image, p.startLba * 512, 4096));
    return { ok: true, dump: sfdiskDump(image), sizeBytes: statSync(image).size, gpt: gptBytes(image), pages };
  } catch (e) {
    if (e instanceof MkdiskError && e.code === "E_FIT") return { ok: false, why: e.message };
    throw e;
  }
}

function repartOutcome(layout: LayoutJson, image: string): Outcome {
  const r = runRepart(layout, tmp.path, image);
  if (r.status !== 0) {
    // The only refusal expected: the partitions do not fit the disk.
    expect(r.stderr).toMatch(/Can't fit requested partitions|minimal disk image size/);
    return { ok: false, why: r.stderr };
  }
  const dump = sfdiskDump(image);
  const starts = [...dump.matchAll(/start=\s*(\d+)/g)].map((m) => Number(m[1]));
  return { ok: true, dump, sizeBytes: statSync(image).size, gpt: gptBytes(image), pages: starts.map((s) => readRange(image, s * 512, 4096)) };
}

/** `fast`: write the image with planAndWriteSparse (only the GPT has bytes) instead of buildDisk. */
async function compareWithRepart(layout: LayoutJson, tag: string, fast = true): Promise<Outcome> {
  const mine = await mkdiskOutcome(layout, join(tmp.path, `${tag}-mkdisk.img`), fast);
  const theirs = repartOutcome(layout, join(tmp.path, `${tag}-repart.img`));
  const ctx = JSON.stringify(layout);
  expect(mine.ok, `${ctx}\nmkdisk: ${mine.ok ? "ok" : mine.why}\nrepart: ${theirs.ok ? "ok" : theirs.why}`).toBe(theirs.ok);
  if (mine.ok && theirs.ok) {
    expect(mine.dump, ctx).toBe(theirs.dump);
    expect(mine.sizeBytes, ctx).toBe(theirs.sizeBytes);
    expect(mine.gpt.equals(theirs.gpt), `${ctx}: GPT bytes differ`).toBe(true);
    expect(mine.pages.length).toBe(theirs.pages.length);
    mine.pages.forEach((p, i) => expect(p.equals(theirs.pages[i]), `${ctx}: first page of partition ${i + 1} differs`).toBe(true));
  }
  return mine;
}

const L = (partitions: PartJson[], extra: Partial<LayoutJson> = {}): LayoutJson => ({ seed: SEED, size: "auto", alignment: "4K", partitions, ...extra });

describe("same partition table as systemd-repart", () => {
  it("the example shape: esp 512M, bios-boot 1M, root 2G, swap 256M (mkswap'd by both)", async () => {
    const r = await compareWithRepart(
      L([
        { type: "esp", size: "512M" },
        { type: "bios-boot", size: "1M" },
        { type: "root", size: "2G" },
        { type: "swap", size: "256M", format: "swap" },
      ]),
      "example",
      false,
    );
    expect(r.ok && r.dump).toContain('name="root-x86-64"');
  });

  it("several linux-generic partitions: derived uuids #1..#5 and labels linux-generic, -2 …", async () => {
    await compareWithRepart(L([1, 2, 3, 4, 5].map((i) => ({ type: "linux-generic", size: `${i}M` }))), "generic");
  });

  it("explicit labels and uuids, default labels around them", async () => {
    await compareWithRepart(
      L([
        { type: "esp", size: "1M" },
        { type: "esp", size: "1M", label: "esp" },
        { type: "esp", size: "1M" },
        { type: "linux-generic", size: "1M", label: "hello world", uuid: "11111111-2222-4333-8444-555555555555" },
        { type: "linux-generic", size: "1M" },
        { type: "21686148-6449-6e6f-744e-656564454649", size: "1M" },
        { type: "0fc63daf-8483-4772-8e79-3d69d8477de4", size: "1M" },
      ]),
      "labels",
    );
  });

  it("attribute defaults and flags: root/home/var/xbootldr get 59, readOnly gives 60 only, noAuto 63", async () => {
    await compareWithRepart(
      L([
        { type: "root", size: "1M" },
        { type: "home", size: "1M" },
        { type: "var", size: "1M", readOnly: true },
        { type: "xbootldr", size: "1M", noAuto: true },
        { type: "swap", size: "1M", noAuto: true },
        { type: "srv", size: "1M" },
        { type: "tmp", size: "1M" },
        { type: "usr", size: "1M" },
        { type: "esp", size: "1M" },
      ]),
      "attrs",
    );
  });

  it("every type systemd 252 knows: the same default labels (the type's name), read-only verity, bit 59 where repart sets it", async () => {
    // Each type by its mkdisk name; repart is given the GUID and names it from its own table.
    const all = PARTITION_TYPES.map((t) => ({ type: t.name, size: "1M" }));
    expect(all.length).toBe(136); // systemd-id128 show (252): 135 types besides its aliases (root, usr, root-verity, *-secondary …), plus bios-boot
    for (let i = 0; i < all.length; i += 64) await compareWithRepart(L(all.slice(i, i + 64)), `types${i}`);
    // The -verity and -verity-sig aliases resolve to the architecture's; an explicit readOnly wins.
    await compareWithRepart(
      L([
        { type: "root-verity", size: "1M" },
        { type: "usr-verity-sig", size: "1M" },
        { type: "root-verity", size: "1M", readOnly: false },
        { type: "user-home", size: "1M" },
      ]),
      "verity",
    );
  });

  it("fixed disk size with grow partitions (equal shares, remainder to the last)", async () => {
    await compareWithRepart(L([{ type: "esp", size: "512M" }, { type: "root", grow: true, minSize: "1M" }], { size: "1G" }), "grow1");
    await compareWithRepart(L([1, 2, 3].map(() => ({ type: "linux-generic", grow: true, minSize: "1M" })), { size: "1G" }), "grow3");
    await compareWithRepart(L([{ type: "linux-generic", grow: true, minSize: "600M" }, { type: "linux-generic", grow: true, minSize: "10M" }], { size: "1G" }), "overcharge");
  });

  it("maxSize caps, and space no partition may take stays at the end", async () => {
    await compareWithRepart(
      L(
        [
          { type: "linux-generic", grow: true, minSize: "1M", maxSize: "300M" },
          { type: "linux-generic", grow: true, minSize: "1M", maxSize: 5000000 },
          { type: "linux-generic", grow: true, minSize: "1M" },
        ],
        { size: "1G" },
      ),
      "caps",
    );
    await compareWithRepart(L([{ type: "esp", size: "1M" }, { type: "linux-generic", grow: true, minSize: "1M", maxSize: "2M" }], { size: "1G" }), "allcapped");
  });

  it("odd sizes (not multiples of 4096) round up to 4096", async () => {
    await compareWithRepart(L([{ type: "linux-generic", size: 5000 }, { type: "linux-generic", size: 1048577 }, { type: "linux-generic", size: 3000000 }]), "odd");
    await compareWithRepart(L([{ type: "linux-generic", size: 5000 }, { type: "linux-generic", grow: true, minSize: 1048577, maxSize: 9999999 }], { size: "64M" }), "odd-fixed");
  });

  it("small disks (4 MiB or less): first usable LBA 34, partitions from LBA 40, slack shared", async () => {
    await compareWithRepart(L([{ type: "esp", grow: true, minSize: "1M" }]), "small-grow");
    await compareWithRepart(L([{ type: "esp", size: "1M" }]), "small-fixed");
    await compareWithRepart(L([{ type: "linux-generic", size: 5000 }, { type: "linux-generic", grow: true, minSize: 1048577 }]), "small-two");
    await compareWithRepart(L([{ type: "linux-generic", grow: true, minSize: "1M" }], { size: "3M" }), "small-3m");
    // Exactly 4 MiB is still a small disk for libfdisk (first usable LBA 34); one sector more is not.
    await compareWithRepart(L([{ type: "linux-generic", grow: true, minSize: "1M" }], { size: 4 * 1048576 }), "small-4m");
    await compareWithRepart(L([{ type: "linux-generic", grow: true, minSize: "1M" }], { size: 4 * 1048576 + 4096 }), "past-4m");
  });

  it("a disk over 2 TiB: the protective MBR's size saturates at 0xFFFFFFFF, as repart writes it", async () => {
    await compareWithRepart(L([{ type: "esp", size: "1M" }, { type: "root", grow: true, minSize: "1G" }], { size: "3T" }), "3t");
  });

  it("a disk too small fails in both", async () => {
    const r = await compareWithRepart(L([{ type: "esp", size: "512M" }, { type: "root", size: "600M" }], { size: "1G" }), "nofit");
    expect(r.ok).toBe(false);
  });
});

describe("4096-byte sectors (loop devices: repart 252 has no --sector-size)", () => {
  it("same table on a 4Kn disk: packing on any sector, first LBA 256, grow to the end", async () => {
    requireTool("losetup");
    for (const [tag, size, partitions] of [
      ["4kn-64m", "64M", [{ type: "esp", size: "1M" }, { type: "root", grow: true, minSize: "3M" }, { type: "linux-generic", size: 5000 }]],
      ["4kn-3m", "3M", [{ type: "linux-generic", grow: true, minSize: 4096 }, { type: "linux-generic", grow: true, minSize: 4096, maxSize: 8192 }]],
    ] as const) {
      const layout = L(partitions as unknown as PartJson[], { size, sectorSize: 4096 });
      const mine = join(tmp.path, `${tag}-mkdisk.img`);
      const theirs = join(tmp.path, `${tag}-repart.img`);
      planAndWriteSparse(layout, mine);
      // repart on a zeroed device of the same size.
      runOk("truncate", ["-s", String(statSync(mine).size), theirs]);
      const defs = join(tmp.path, `${tag}.d`);
      mkdirSync(defs, { recursive: true });
      repartDefinitions(parseLayout(layout)).forEach((t, i) => writeFileSync(join(defs, `${i}.conf`), t));
      withLoop(theirs, 4096, (dev) => runOk("systemd-repart", ["--no-pager", "--empty=force", `--seed=${SEED}`, `--definitions=${defs}`, "--dry-run=no", dev]));
      const a = withLoop(mine, 4096, (dev) => sfdiskDump(dev).replace(dev, "IMG"));
      const b = withLoop(theirs, 4096, (dev) => sfdiskDump(dev).replace(dev, "IMG"));
      expect(a, tag).toBe(b);
      expect(a).toContain("sector-size: 4096");
      // Byte for byte, protective MBR included (its size counts 4096-byte sectors).
      expect(sha256File(mine), `${tag}: image bytes`).toBe(sha256File(theirs));
    }
  });
});

const M = 1 << 20;
const sizeArb = fc.oneof(
  fc.integer({ min: 1, max: 300 }).map((k) => k * 4096),
  fc.integer({ min: 1, max: 3 * M }),
  fc.constantFrom(1, 2, 3, 10, 64, 100).chain((m) => fc.constantFrom(0, 1, 4095, 4096, 4097, 12345).map((d) => m * M + d)),
);
const typeArb = fc.constantFrom("esp", "linux-generic", "root", "swap", "home", "var", "xbootldr", "bios-boot", "tmp", "usr", "933ac7e1-2eb4-4f13-b844-0e14e2aef915", "a2a0d0eb-e5b9-3344-87c0-68b6b72699c7");
const partArb: fc.Arbitrary<PartJson> = fc.record({
  type: typeArb,
  fixed: fc.boolean(),
  min: sizeArb,
  max: fc.option(sizeArb, { nil: undefined }),
  label: fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { nil: undefined, freq: 4 }),
}).map(({ type, fixed, min, max, label }) => {
  const p: PartJson = fixed ? { type, size: min } : { type, grow: true, minSize: min, ...(max !== undefined ? { maxSize: min + max } : {}) };
  if (label !== undefined) p.label = label;
  return p;
});
const layoutArb: fc.Arbitrary<LayoutJson> = fc.record({
  partitions: fc.array(partArb, { minLength: 1, maxLength: 8 }),
  size: fc.oneof(
    fc.constant("auto"),
    fc.integer({ min: 1, max: 2048 }).map((k) => k * 4096),
    fc.constantFrom(16, 100, 1024, 4096).chain((m) => fc.constantFrom(0, 4096, 12288).map((d) => m * M + d)),
  ),
}).map(({ partitions, size }) => L(partitions, { size }));

describe("generated layouts: same partition table as systemd-repart", () => {
  it("property: sfdisk --dump and GPT bytes equal, or both refuse", async () => {
    let n = 0;
    let fitted = 0;
    await fc.assert(fc.asyncProperty(layoutArb, async (layout) => {
      if ((await compareWithRepart(layout, `gen${n++}`)).ok) fitted++;
    }), { numRuns: 150, seed: 20240901 });
    // The generator must exercise placement, not only the refusals.
    expect(fitted).toBeGreaterThan(n / 3);
  }, 600_000);
});
