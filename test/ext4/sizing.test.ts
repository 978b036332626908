/**
 * Sizing and geometry. Oracles: mke2fs 1.47.0 (same options) for inode count,
 * block count and journal size at several sizes, read back with dumpe2fs;
 * e2fsck -fn on the minimum-size image.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanTree } from "../../src/tree/scan.js";
import type { Tree, TreeNode } from "../../src/tree/types.js";
import { ext4MinimumSizeBytes, planExt4 } from "../../src/ext4/index.js";
import { defaultJournalBlocks, JOURNAL_STEP_BLOCKS } from "../../src/ext4/journal.js";
import { parseUuid } from "../../src/bin/guid.js";
import { MkdiskError } from "../../src/bin/errors.js";
import { runOk, tempDir } from "../helpers/tools.js";
import { buildImage, ctx, fsck, UUID } from "./helpers.js";

function dumpField(out: string, k: string): string | undefined {
  return out.match(new RegExp(`^${k}:\\s*(.*)$`, "m"))?.[1].trim();
}

describe("ext4 sizing", () => {
  const t = tempDir("mkdisk-ext4-size-");
  afterAll(() => t.cleanup());
  const src = join(t.path, "src");
  mkdirSync(join(src, "d"), { recursive: true });
  for (let i = 0; i < 300; i++) writeFileSync(join(src, "d", `file${i}`), new Uint8Array(40_000 + i).fill(i & 0xff));
  const tree = scanTree(src);

  it("the superblock equals mke2fs -T default's at several sizes, but for ids, label, times and free counts", async () => {
    // Lines that differ by design: ids and label (from the seed and layout), times (the epoch), free counts (the tree), checksums.
    const differ = /^(Filesystem volume name|Filesystem UUID|Directory Hash Seed|Free blocks|Free inodes|Filesystem created|Last write time|Last checked|Lifetime writes|Checksum):/;
    for (const mib of [100, 200, 1500, 3072, 20480, 40960]) {
      const size = mib * 1024 * 1024;
      const ours = join(t.path, `ours-${mib}.img`);
      await buildImage(tree, ours, { sizeBytes: size });
      const ref = join(t.path, `ref-${mib}.img`);
      runOk("truncate", ["-s", String(size), ref]);
      runOk("mke2fs", ["-q", "-F", "-t", "ext4", "-T", "default", "-b", "4096", "-I", "256", "-O", "^resize_inode,^orphan_file,^metadata_csum_seed", "-m", "0", ref]);
      const lines = (img: string) => runOk("dumpe2fs", ["-h", img]).split("\n").filter((l) => l && !differ.test(l));
      const a = lines(ours);
      expect(a.length, `${mib} MiB`).toBeGreaterThan(40);
      expect(a, `${mib} MiB`).toEqual(lines(ref));
      // What was left out of the comparison: mkdisk's own values.
      const all = runOk("dumpe2fs", ["-h", ours]);
      expect(dumpField(all, "Lifetime writes") ?? "", `${mib} MiB`).toBe("");
      expect(fsck(ours).status).toBe(0);
      rmSync(ref);
      if (mib !== 1500) rmSync(ours);
    }
    // Backups: group 1's superblock copy says so, and e2fsck recovers from it (its group descriptor copy included).
    const multi = join(t.path, "ours-1500.img");
    const sb1 = Buffer.alloc(1024);
    const fd = openSync(multi, "r");
    try {
      for (const group of [1, 3, 5]) {
        readSync(fd, sb1, 0, 1024, group * 32768 * 4096);
        expect(sb1.readUInt16LE(0x38), `group ${group} magic`).toBe(0xef53);
        expect(sb1.readUInt16LE(0x5a), `group ${group} s_block_group_nr`).toBe(group);
      }
    } finally {
      closeSync(fd);
    }
    const r = spawnSync("e2fsck", ["-fn", "-b", "32768", "-B", "4096", multi], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 300_000);

  it("a last group too small for its metadata is dropped, as mke2fs does", async () => {
    const size = (32768 + 100) * 4096;
    const ours = join(t.path, "trim.img");
    await buildImage(tree, ours, { sizeBytes: size });
    const ref = join(t.path, "trim-ref.img");
    runOk("truncate", ["-s", String(size), ref]);
    runOk("mke2fs", ["-q", "-F", "-t", "ext4", "-T", "default", "-O", "^resize_inode,^orphan_file,^metadata_csum_seed", "-m", "0", ref]);
    expect(dumpField(runOk("dumpe2fs", ["-h", ours]), "Block count")).toBe(dumpField(runOk("dumpe2fs", ["-h", ref]), "Block count"));
    expect(fsck(ours).status).toBe(0);
  });

  it("too small: E_FIT before writing, naming the bytes needed; the minimum size fits and is fsck-clean", async () => {
    const uuid = parseUuid(UUID);
    const min = ext4MinimumSizeBytes(tree, { uuid });
    expect(min % 4096).toBe(0);
    let err: unknown;
    try {
      planExt4(tree, { sizeBytes: 9 << 20, uuid, ctx: ctx() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MkdiskError);
    expect((err as MkdiskError).code).toBe("E_FIT");
    expect((err as MkdiskError).message).toContain(`at least ${min} bytes`);
    const img = join(t.path, "min.img");
    await buildImage(tree, img, { sizeBytes: min });
    const r = fsck(img);
    expect(r.status, r.out).toBe(0);
    expect(() => planExt4(tree, { sizeBytes: min - 4096 * 64, uuid, ctx: ctx() })).toThrow(/E_FIT|at least/);
    // Without the UUID the estimate keeps a margin and is never smaller.
    expect(ext4MinimumSizeBytes(tree)).toBeGreaterThanOrEqual(min);
  });

  it("more inodes than the 16 KiB ratio gives: inodes per group grow so the tree fits", async () => {
    const m = join(t.path, "many");
    mkdirSync(m);
    for (let i = 0; i < 5000; i++) writeFileSync(join(m, `e${i}`), "");
    const img = join(t.path, "many.img");
    await buildImage(scanTree(m), img, { sizeBytes: 16 << 20 }); // ratio alone: 1024 inodes
    const out = runOk("dumpe2fs", ["-h", img]);
    expect(Number(dumpField(out, "Inode count"))).toBeGreaterThanOrEqual(5011);
    const r = fsck(img);
    expect(r.status, r.out).toBe(0);
  });

  it("label: 16 bytes fit, 17 are refused (E_LAYOUT)", () => {
    const uuid = parseUuid(UUID);
    expect(() => planExt4(tree, { sizeBytes: 64 << 20, uuid, ctx: ctx(), label: "x".repeat(16) })).not.toThrow();
    expect(() => planExt4(tree, { sizeBytes: 64 << 20, uuid, ctx: ctx(), label: "é".repeat(9) })).toThrow(expect.objectContaining({ code: "E_LAYOUT" }));
  });

  it("an empty tree and a tree with its own lost+found are fsck-clean", async () => {
    const e = join(t.path, "empty");
    mkdirSync(e);
    const img = join(t.path, "empty.img");
    await buildImage(scanTree(e), img, { sizeBytes: 16 << 20 });
    expect(fsck(img).status).toBe(0);
    const l = join(t.path, "withlpf");
    mkdirSync(join(l, "lost+found"), { recursive: true });
    writeFileSync(join(l, "lost+found", "#12"), "orphan");
    const img2 = join(t.path, "lpf.img");
    await buildImage(scanTree(l), img2, { sizeBytes: 16 << 20 });
    const r = fsck(img2);
    expect(r.status, r.out).toBe(0);
    expect(runOk("debugfs", ["-R", "ls -l /lost+found", img2])).toContain("#12");
  });

  it("more than 65000 hard links to one file: E_TREE naming the file and the limit; 65000 plan", () => {
    const links = (n: number): Tree => {
      const kid = (i: number): TreeNode => ({
        name: new TextEncoder().encode(`h${String(i).padStart(5, "0")}`), path: `/h${String(i).padStart(5, "0")}`, sourcePath: Buffer.from("/nonexistent"),
        type: "file", mode: 0o644, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, hardlinkGroup: 1,
      });
      const root: TreeNode = { name: new Uint8Array(0), path: "/", sourcePath: Buffer.from("/nonexistent"), type: "dir", mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children: Array.from({ length: n }, (_, i) => kid(i)) };
      return { root, nodeCount: n + 1 };
    };
    expect(() => planExt4(links(65_000), { sizeBytes: 64 << 20, uuid: parseUuid(UUID), ctx: ctx() })).not.toThrow();
    expect(() => planExt4(links(65_001), { sizeBytes: 64 << 20, uuid: parseUuid(UUID), ctx: ctx() })).toThrow(
      expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/^\/h65000: more than 65000 hard links to \/h00000/) }),
    );
  });

  it("an owner of (uid_t)-1 and a symlink target with a NUL byte are refused (E_TREE naming the entry)", () => {
    const one = (kid: Partial<TreeNode>): Tree => ({
      root: { name: new Uint8Array(0), path: "/", sourcePath: Buffer.from("/nonexistent"), type: "dir", mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children: [
        { name: new TextEncoder().encode("x"), path: "/x", sourcePath: Buffer.from("/nonexistent"), type: "fifo", mode: 0o644, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, ...kid } as TreeNode,
      ] },
      nodeCount: 2,
    });
    const plan = (t: Tree) => () => planExt4(t, { sizeBytes: 16 << 20, uuid: parseUuid(UUID), ctx: ctx() });
    expect(plan(one({ uid: 0xffffffff }))).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/^\/x: uid 4294967295 is not a valid owner/) }));
    expect(plan(one({ gid: 0xffffffff }))).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/^\/x: gid 4294967295/) }));
    expect(plan(one({ type: "symlink", mode: 0o777, linkTarget: Uint8Array.of(0x61, 0, 0x62) }))).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/NUL byte/) }));
    expect(plan(one({ uid: 0xfffffffe }))).not.toThrow();
  });

  it("a non-directory /lost+found is refused (E_TREE)", () => {
    const l = join(t.path, "badlpf");
    mkdirSync(l);
    writeFileSync(join(l, "lost+found"), "x");
    expect(() => planExt4(scanTree(l), { sizeBytes: 16 << 20, uuid: parseUuid(UUID), ctx: ctx() })).toThrow(expect.objectContaining({ code: "E_TREE" }));
  });
});

describe("JOURNAL_STEP_BLOCKS", () => {
  it("lists exactly the sizes at which the default journal grows (the minimum-size search relies on it)", () => {
    const steps: number[] = [];
    for (let blocks = 2048, prev = defaultJournalBlocks(2048); blocks <= 64 << 20; blocks += 1024) {
      const j = defaultJournalBlocks(blocks);
      if (j !== prev) steps.push(blocks);
      prev = j;
    }
    expect(steps).toEqual([...JOURNAL_STEP_BLOCKS]);
  });
});

describe("shrinkToFit: a size just past the journal's 128 MiB step", () => {
  const t = tempDir("mkdisk-ext4-step-");
  afterAll(() => t.cleanup());
  // 114 MiB of file data: fits below 128 MiB (4 MiB of journal), not from
  // 128 MiB to 132 MiB (16 MiB of journal).
  const src = join(t.path, "src");
  mkdirSync(src);
  const fd = openSync(join(src, "data.bin"), "w");
  ftruncateSync(fd, 114 << 20);
  closeSync(fd);
  const tree = scanTree(src, { xattrs: false });
  const uuid = parseUuid(UUID);

  it("ends the file system just below the step instead of failing; e2fsck accepts it", async () => {
    const size = 130 << 20;
    expect(() => planExt4(tree, { sizeBytes: size, uuid, ctx: ctx() })).toThrow(MkdiskError);
    expect(planExt4(tree, { sizeBytes: size, uuid, ctx: ctx(), shrinkToFit: true }).sizeBytes).toBe((128 << 20) - 4096);
    const img = join(t.path, "step.img");
    await buildImage(tree, img, { sizeBytes: size, shrinkToFit: true });
    expect(fsck(img).status).toBe(0);
    expect(dumpField(runOk("dumpe2fs", ["-h", img]), "Block count")).toBe("32767");
    expect(dumpField(runOk("dumpe2fs", ["-h", img]), "Total journal blocks")).toBe("1024");
  });

  it("changes nothing where the size fits", () => {
    for (const mib of [124, 140]) expect(planExt4(tree, { sizeBytes: mib << 20, uuid, ctx: ctx(), shrinkToFit: true }).sizeBytes).toBe(mib << 20);
  });
});
