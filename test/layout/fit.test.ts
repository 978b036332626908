/**
 * Content that does not fit a fixed-size partition: E_FIT naming the
 * partition's "size" and the bytes the content needs, for each filesystem,
 * and a partition of exactly that many bytes then builds.
 */
import { writeFileSync } from "node:fs";
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
  return { need: Number(/\((\d+) bytes\)/.exec(m.message)![1]), suggested: /Raise "size" to (\d+M) or more$/.exec(m.message)![1], message: m.message };
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
