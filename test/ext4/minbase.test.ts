/**
 * A real Debian root filesystem through the ext4 oracles: `debootstrap
 * --variant=minbase` (about 5 000 files: hard links, symlinks, setuid
 * binaries, device-free /dev, long names), then e2fsck -fn, dumpe2fs -h and a
 * kernel mount that reads every path back. The tree is the benchmark's cached
 * one when present (bench/.cache/minbase), else made here (network needed:
 * deb.debian.org).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zeroBlockRuns } from "../../src/ext4/holes.js";
import { scanTree } from "../../src/tree/scan.js";
import type { Tree } from "../../src/tree/types.js";
import { requireTool, runOk, tempDir } from "../helpers/tools.js";
import { buildImage, ctx, fsck, nodeReadAt, UUID } from "./helpers.js";
import { compareMounted, withMount } from "./fixture.js";

const CACHED = resolve(__dirname, "../../bench/.cache/minbase");

describe("ext4 with a Debian minbase tree", () => {
  const t = tempDir("mkdisk-minbase-");
  const img = join(t.path, "root.img");
  let tree: Tree;

  beforeAll(async () => {
    for (const tool of ["e2fsck", "dumpe2fs", "mount"]) requireTool(tool);
    let src = CACHED;
    if (!existsSync(join(CACHED, ".done"))) {
      requireTool("debootstrap");
      src = join(t.path, "minbase");
      runOk("debootstrap", ["--variant=minbase", "bookworm", src, "http://deb.debian.org/debian"]);
    }
    tree = scanTree(src);
    await buildImage(tree, img, { sizeBytes: 1 << 30, readDataRuns: zeroBlockRuns(nodeReadAt) });
  }, 900_000);
  afterAll(() => t.cleanup());

  it("has thousands of files, hard links and symlinks (a real tree)", () => {
    expect(tree.nodeCount).toBeGreaterThan(4000);
  });

  it("e2fsck -fn finds nothing", () => {
    const r = fsck(img);
    expect(r.status, r.out).toBe(0);
  });

  it("dumpe2fs -h shows the pinned UUID and hash seed", () => {
    const out = runOk("dumpe2fs", ["-h", img]);
    expect(out).toMatch(new RegExp(`^Filesystem UUID:\\s+${UUID}$`, "m"));
    expect(out).toMatch(new RegExp(`^Directory Hash Seed:\\s+${UUID}$`, "m"));
  });

  it("the kernel mounts it and reads back every path (type, mode, owner, size, target, links, mtime, content)", async () => {
    const mnt = join(t.path, "mnt");
    runOk("mkdir", ["-p", mnt]);
    const n = await withMount(img, mnt, () => compareMounted(tree, mnt, ctx()));
    expect(n).toBe(tree.nodeCount);
  });
});
