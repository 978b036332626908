/**
 * Large directories and a multi-group file system.
 * Oracles: e2fsck -fn (checks htree structure, hashes, checksums), debugfs
 * htree_dump (two-level index), kernel mount read-back.
 */
import { afterAll, describe, expect, it } from "vitest";
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanTree } from "../../src/tree/scan.js";
import { runOk, tempDir } from "../helpers/tools.js";
import { buildImage, ctx, fsck } from "./helpers.js";
import { compareMounted, withMount } from "./fixture.js";

describe("ext4 big directories", () => {
  const t = tempDir("mkdisk-ext4-big-");
  afterAll(() => t.cleanup());

  it("20 000 entries in one directory: two-level htree, e2fsck clean, kernel lookups work", async () => {
    const src = join(t.path, "src");
    mkdirSync(join(src, "many"), { recursive: true });
    for (let i = 0; i < 20000; i++) {
      // Long names (~200 bytes): about 20 entries per leaf, > 507 leaves, so the index needs two levels.
      const name = `entry-${String(i).padStart(6, "0")}-${"x".repeat(180 + (i % 23))}`;
      if (i % 1000 === 0) mkdirSync(join(src, "many", name));
      else writeFileSync(join(src, "many", name), i % 7 === 0 ? String(i) : "");
    }
    const tree = scanTree(src);
    const img = join(t.path, "big.img");
    await buildImage(tree, img, { sizeBytes: 128 << 20 });
    const r = fsck(img);
    expect(r.status, r.out).toBe(0);
    const dump = runOk("debugfs", ["-R", "htree_dump /many", img]);
    expect(dump).toMatch(/Indirect levels: 1/);
    const badLines = dump.split("\n").filter((l) => /\b(bad|corrupt|invalid|mismatch)\b/i.test(l));
    expect(badLines.slice(0, 5)).toEqual([]);
    const n = await withMount(img, join(t.path, "mnt"), () => {
      // Kernel lookups go through the index: stat a few names directly.
      for (const i of [0, 1, 9999, 19999]) {
        const name = `entry-${String(i).padStart(6, "0")}-${"x".repeat(180 + (i % 23))}`;
        runOk("stat", [join(t.path, "mnt", "many", name)]);
      }
      return compareMounted(tree, join(t.path, "mnt"), ctx());
    });
    expect(n).toBe(tree.nodeCount);
  }, 120_000);

  it("a file system of 20 block groups (two flex groups) with a dense 600 MB file across superblock backups", async () => {
    const src = join(t.path, "src2");
    mkdirSync(join(src, "d"), { recursive: true });
    const fd = openSync(join(src, "d", "huge"), "w");
    ftruncateSync(fd, 600 * 1024 * 1024 + 7); // reads as zeros; stored dense (no hole detection)
    closeSync(fd);
    writeFileSync(join(src, "d", "after"), "after the huge file\n");
    const tree = scanTree(src);
    const img = join(t.path, "groups.img");
    await buildImage(tree, img, { sizeBytes: 20 * 128 * 1024 * 1024 });
    const r = fsck(img);
    expect(r.status, r.out).toBe(0);
    const dump = runOk("dumpe2fs", [img]);
    expect(dump).toMatch(/^Group 19:/m);
    expect(dump).toMatch(/Backup superblock at 229376/); // group 7
    const ex = runOk("debugfs", ["-R", "ex /d/huge", img]);
    expect(ex).toMatch(/^\s*1\/\s*1/m); // more than 4 extents: an index level
    const n = await withMount(img, join(t.path, "mnt2"), () => compareMounted(tree, join(t.path, "mnt2"), ctx()));
    expect(n).toBe(tree.nodeCount);
  }, 120_000);
});
