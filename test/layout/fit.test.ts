/**
 * Content that does not fit a fixed-size partition: E_FIT naming the
 * partition's "size" and the bytes the content needs, for each filesystem,
 * and a partition of exactly that many bytes then builds.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { BuildContext } from "../../src/context/index.js";
import { planDisk } from "../../src/layout/plan.js";
import { parseLayout } from "../../src/layout/schema.js";
import { scanTree } from "../../src/tree/scan.js";
import type { Tree } from "../../src/tree/types.js";
import { tempDir } from "../helpers/tools.js";

const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";
let tmp: { path: string; cleanup(): void };
let tree: Tree;

beforeAll(() => {
  tmp = tempDir("mkdisk-fit-");
  // 40 MiB of non-zero bytes: more than the smallest FAT32 and a 16 MiB ext4 hold.
  writeFileSync(join(tmp.path, "big.bin"), Buffer.alloc(40 << 20, 0x5a));
  tree = scanTree(tmp.path, { xattrs: false });
});
afterAll(() => tmp?.cleanup());

function plan(part: Record<string, unknown>) {
  const l = parseLayout({ seed: SEED, partitions: [{ copyFiles: ["/:/"], ...part }] });
  return planDisk(l, tree, new BuildContext({ seed: SEED }));
}

function fitError(part: Record<string, unknown>): { need: number; suggested: string; message: string } {
  let err: unknown;
  try {
    plan(part);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MkdiskError);
  const m = err as MkdiskError;
  expect(m.code).toBe("E_FIT");
  expect(m.message).toMatch(/^partitions\[0\]\.size: the (ext4|vfat) content needs at least .* \((\d+) bytes\); "size" is .*Raise "size"/);
  expect(m.message).not.toMatch(/bytes\) \(\d+ bytes\)/);
  return { need: Number(/\((\d+) bytes\)/.exec(m.message)![1]), suggested: /Raise "size" to (\d+M)\.$/.exec(m.message)![1], message: m.message };
}

describe("content larger than a fixed-size partition", () => {
  for (const [format, type, size] of [["ext4", "root", "16M"], ["vfat", "esp", "36M"]] as const) {
    it(`${format}: E_FIT on partitions[0].size with the bytes needed; that size then fits`, () => {
      const { need, suggested } = fitError({ type, format, size });
      expect(need).toBeGreaterThan(40 << 20);
      expect(plan({ type, format, size: suggested }).partitions[0].sizeBytes).toBeGreaterThanOrEqual(need);
      const p = plan({ type, format, size: need });
      expect(p.partitions[0].sizeBytes).toBeGreaterThanOrEqual(need);
      expect(fitError({ type, format, size: need - (1 << 20) }).need).toBe(need);
    });
  }
});

describe("a fixed size too large for the format", () => {
  it("keeps the driver's reason and suggests no size (raising cannot help)", () => {
    let err: unknown;
    try {
      plan({ type: "esp", format: "vfat", size: "3T" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MkdiskError);
    expect((err as MkdiskError).code).toBe("E_FIT");
    expect((err as MkdiskError).message).toMatch(/FAT32/);
    expect((err as MkdiskError).message).not.toMatch(/raise|Raise|although it fits/);
  });
});

describe("ext4 around the journal's step at 128 MiB (4 MiB of journal below, 16 MiB from there)", () => {
  // 114 MiB of file data (sparse on the host; without a hole scan it counts as
  // data): fits from about 120 MiB to 127 MiB, not from 128 MiB to 132 MiB.
  let data: Tree;
  beforeAll(() => {
    const dir = join(tmp.path, "step");
    mkdirSync(dir);
    const fd = openSync(join(dir, "data.bin"), "w");
    ftruncateSync(fd, 114 << 20);
    closeSync(fd);
    data = scanTree(dir, { xattrs: false });
  });
  const planStep = (size: string | number) => {
    const l = parseLayout({ seed: SEED, partitions: [{ type: "root", format: "ext4", size, copyFiles: ["/:/"] }] });
    return planDisk(l, data, new BuildContext({ seed: SEED }));
  };
  const message = (size: string | number): string => {
    try {
      planStep(size);
    } catch (e) {
      expect((e as MkdiskError).code).toBe("E_FIT");
      return (e as MkdiskError).message;
    }
    throw new Error(`size ${size} fits`);
  };

  it("the minimum it names is the smallest size that fits, below the step", () => {
    const m = /needs at least .*\((\d+) bytes\); "size" is 118M\. Raise "size" to (\d+)M\.$/.exec(message("118M"));
    expect(m).not.toBeNull();
    const need = Number(m![1]);
    expect(need).toBeLessThan(128 << 20);
    planStep(need);
    message(need - 4096);
    planStep(`${m![2]}M`);
  });

  it("a partition the layout sizes (grow) that lands in the gap: the file system ends below the step, the partition keeps its size", () => {
    const l = parseLayout({ seed: SEED, size: "131M", partitions: [{ type: "root", format: "ext4", minSize: "100M", grow: true, copyFiles: ["/:/"] }] });
    const p = planDisk(l, data, new BuildContext({ seed: SEED })).partitions[0];
    expect(p.sizeBytes).toBeGreaterThan(128 << 20);
    expect(p.region!.sizeBytes).toBe((128 << 20) - 4096);
  });

  it("a size in the gap above the step: says so, and offers a size below and one above that fit", () => {
    const m = /does not fit in 128M, although it fits in .*\((\d+) bytes\).*Lower "size" to (\d+)M, or raise it to (\d+)M\.$/.exec(message("128M"));
    expect(m).not.toBeNull();
    const [lower, upper] = [Number(m![2]), Number(m![3])];
    expect(lower).toBeLessThan(128);
    expect(upper).toBeGreaterThan(128);
    planStep(`${lower}M`);
    planStep(`${upper}M`);
    message(`${upper - 1}M`);
  });
});
