/**
 * Reader threads (io/readers.ts): the ext4 hole scan done by helper threads
 * must give exactly what this thread gives alone, must really run on the
 * helpers (a helper that always failed would be hidden by the fallback, so
 * the tests count fallbacks and helper work), and a file that cannot be read
 * must fail with the error of the single-threaded path.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { linkSync, mkdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { buildDisk } from "../../src/build.js";
import { fileDataRuns } from "../../src/io/holes.js";
import { ReaderPool } from "../../src/io/readers.js";
import { zeroBlockRuns } from "../../src/ext4/holes.js";
import { scanTree } from "../../src/tree/scan.js";
import { parseCopyFiles, selectTree } from "../../src/tree/select.js";
import type { TreeNode } from "../../src/tree/types.js";
import { nodeReadAt } from "../ext4/helpers.js";
import { tempDir } from "../helpers/tools.js";

const BLOCK = 4096;

/** Regular files of a tree in depth-first sorted order, as the ext4 planner lists them. */
function filesOf(n: TreeNode, out: TreeNode[] = []): TreeNode[] {
  if (n.type === "file" && n.sizeBytes > 0) out.push(n);
  for (const c of n.children ?? []) filesOf(c, out);
  return out;
}

/** Waits for the helpers' threads to run (they then take jobs at once). */
async function booted(pool: ReaderPool): Promise<void> {
  await Promise.all(pool.helpers.map((h) => once(h.worker, "online")));
  await new Promise((r) => setTimeout(r, 50));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let k = 0; k < 600 && !cond(); k++) await new Promise((r) => setTimeout(r, 50));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe("reader threads", () => {
  const t = tempDir("mkdisk-readers-");
  afterAll(() => t.cleanup());

  /** Files whose 4 KiB blocks are data (1) or zero (0) by `pattern`, with a tail of `tail` bytes. */
  function writeTree(dir: string, specs: { pattern: number[]; tail: number }[]): void {
    specs.forEach((s, i) => {
      const size = s.pattern.length * BLOCK + s.tail;
      const b = Buffer.alloc(size);
      for (let k = 0; k < s.pattern.length; k++) if (s.pattern[k]) b.fill((i * 7 + k) % 250 + 1, k * BLOCK + (k % 3) * 100, k * BLOCK + (k % 3) * 100 + 1);
      if (s.tail) b[size - 1] = 9;
      writeFileSync(join(dir, `f${String(i).padStart(4, "0")}`), b);
    });
  }

  it("hole scan: helpers read early and at prefetch, and find the runs this thread finds", async () => {
    let helperFiles = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ pattern: fc.array(fc.nat(1), { minLength: 0, maxLength: 40 }), tail: fc.nat(BLOCK - 1) }), { minLength: 1, maxLength: 300 }),
        fc.boolean(),
        async (specs, early) => {
          const dir = join(t.path, "tree");
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir);
          writeTree(dir, specs);
          const pool = new ReaderPool(2); // prefetch closes it when every file is read
          await booted(pool);
          const holes = fileDataRuns(pool);
          try {
            const tree = scanTree(dir, early ? { onFile: holes.early } : {});
            const files = filesOf(tree.root);
            holes.readDataRuns.prefetch!(files);
            const alone = zeroBlockRuns(nodeReadAt);
            for (const f of files) expect(holes.readDataRuns(f)).toEqual(alone(f));
            expect(holes.stats().files).toBe(files.length);
            helperFiles += holes.stats().byHelpers;
            expect(pool.fallbacks).toBe(0);
          } finally {
            holes.close();
          }
        },
      ),
      { numRuns: 25 },
    );
    expect(helperFiles).toBeGreaterThan(0); // the helpers' results were among those compared
  });

  it("hole scan: a batch posted during the scan is read by the helpers alone", async () => {
    const dir = join(t.path, "many");
    mkdirSync(dir);
    writeTree(dir, Array.from({ length: 600 }, (_, i) => ({ pattern: [1, i % 2, 0, 1], tail: i % 5 })));
    const pool = new ReaderPool(2);
    const holes = fileDataRuns(pool);
    try {
      const tree = scanTree(dir, { onFile: holes.early });
      // Two full batches of 256 were posted during the scan; this thread has not read any.
      await until(() => holes.stats().byHelpers >= 512, "the helpers to claim the early batches");
      const files = filesOf(tree.root);
      holes.readDataRuns.prefetch!(files);
      const alone = zeroBlockRuns(nodeReadAt);
      for (const f of files) expect(holes.readDataRuns(f)).toEqual(alone(f));
    } finally {
      holes.close();
    }
  });

  it("hole scan: copies a partition makes (copyFiles to another path) find the early reads", async () => {
    const dir = join(t.path, "rebased");
    mkdirSync(join(dir, "root"), { recursive: true });
    writeTree(join(dir, "root"), Array.from({ length: 300 }, (_, i) => ({ pattern: [1, i % 3 ? 1 : 0], tail: i })));
    const pool = new ReaderPool(2);
    await booted(pool);
    const holes = fileDataRuns(pool);
    try {
      const scanned = scanTree(dir, { onFile: holes.early });
      const part = selectTree(scanned, parseCopyFiles(["/root:/"], "copyFiles"), [], "copyFiles");
      const files = filesOf(part.root);
      expect(files.length).toBe(300);
      expect(files.every((f) => !filesOf(scanned.root).includes(f))).toBe(true); // all copies
      holes.readDataRuns.prefetch!(files);
      expect(holes.stats().files).toBe(300); // read once, during the scan: no prefetch round
      const alone = zeroBlockRuns(nodeReadAt);
      for (const f of files) expect(holes.readDataRuns(f)).toEqual(alone(f));
      expect(pool.fallbacks).toBe(0);
    } finally {
      holes.close();
    }
  });

  it("hole scan: past the early limit the helpers end and this thread reads the rest", async () => {
    const dir = join(t.path, "limit");
    mkdirSync(dir);
    writeTree(dir, Array.from({ length: 700 }, (_, i) => ({ pattern: [i % 2, 1], tail: i % 7 })));
    const pool = new ReaderPool(2);
    await booted(pool);
    const holes = fileDataRuns(pool, { earlyMaxFiles: 512 });
    try {
      const tree = scanTree(dir, { onFile: holes.early });
      expect(pool.live()).toEqual([]); // closed at the limit, during the scan
      const files = filesOf(tree.root);
      holes.readDataRuns.prefetch!(files);
      expect(holes.stats()).toMatchObject({ files: 512, early: 512 }); // the rest read here when asked, as without threads
      const alone = zeroBlockRuns(nodeReadAt);
      for (const f of files) expect(holes.readDataRuns(f)).toEqual(alone(f));
      expect(pool.fallbacks).toBe(0);
    } finally {
      holes.close();
    }
  });

  it("hole scan: only the files told are read early, with gaps in scan order", async () => {
    const dir = join(t.path, "gaps");
    for (const d of ["a", "b", "c"]) mkdirSync(join(dir, d), { recursive: true });
    for (const d of ["a", "b", "c"]) writeTree(join(dir, d), Array.from({ length: 120 }, (_, i) => ({ pattern: [1, i % 2], tail: i })));
    const pool = new ReaderPool(2);
    await booted(pool);
    const holes = fileDataRuns(pool);
    try {
      // As a build tells them: only files under the ext4 partitions' sources (/a and /c).
      const scanned = scanTree(dir, { onFile: (n, p) => (n.path.startsWith("/b/") ? undefined : holes.early(n, p)) });
      const part = selectTree(scanned, parseCopyFiles(["/a:/a", "/c:/c"], "copyFiles"), [], "copyFiles");
      const files = filesOf(part.root);
      holes.readDataRuns.prefetch!(files);
      expect(holes.stats()).toMatchObject({ files: 240, early: 240 }); // all found among the early reads: no prefetch round
      const alone = zeroBlockRuns(nodeReadAt);
      for (const f of files) expect(holes.readDataRuns(f)).toEqual(alone(f));
      expect(pool.fallbacks).toBe(0);
    } finally {
      holes.close();
    }
  });

  it("a build whose ext4 partition copies from a subdirectory: the same image with and without reader threads", async () => {
    const dir = join(t.path, "build");
    for (const d of ["esp/EFI", "root/etc", "root/var"]) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, "esp/EFI/x.efi"), Buffer.alloc(70_000, 3));
    writeTree(join(dir, "root/var"), Array.from({ length: 300 }, (_, i) => ({ pattern: [1, i % 3 ? 0 : 1, 1], tail: i })));
    writeFileSync(join(dir, "root/etc/hostname"), "x\n");
    const layout = {
      seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
      sourceDateEpoch: 1662046009,
      partitions: [
        { type: "esp", format: "vfat", size: "40M", copyFiles: ["/esp:/"] },
        { type: "root", format: "ext4", size: "64M", copyFiles: ["/root:/"] },
      ],
    };
    const shas: string[] = [];
    for (const workers of [1, 2]) {
      const out = join(t.path, `w${workers}.img`);
      const r = await buildDisk({ layout, rootfs: dir, outputs: [{ format: "raw", path: out }], workers, hashOutputs: true });
      shas.push(r.outputs[0].sha256!);
    }
    expect(shas[1]).toBe(shas[0]);
  });

  it("hole scan: a hard-linked file is read once, by its first name", async () => {
    const dir = join(t.path, "links");
    mkdirSync(dir);
    writeTree(dir, [{ pattern: [1, 0, 1], tail: 5 }]);
    for (let k = 0; k < 40; k++) linkSync(join(dir, "f0000"), join(dir, `link${k}`));
    const pool = new ReaderPool(2);
    const holes = fileDataRuns(pool);
    try {
      const tree = scanTree(dir, { onFile: holes.early });
      holes.readDataRuns.prefetch!(filesOf(tree.root).slice(0, 1));
      expect(holes.stats().files).toBe(1);
    } finally {
      holes.close();
    }
  });

  it("hole scan: files the scan found but no partition asks for are not read here", () => {
    const dir = join(t.path, "unasked");
    mkdirSync(join(dir, "a"), { recursive: true });
    mkdirSync(join(dir, "b"));
    writeTree(join(dir, "a"), Array.from({ length: 100 }, () => ({ pattern: [1], tail: 0 })));
    writeTree(join(dir, "b"), Array.from({ length: 100 }, () => ({ pattern: [1], tail: 0 })));
    const pool = new ReaderPool(1);
    const holes = fileDataRuns(pool);
    try {
      const scanned = scanTree(dir, { onFile: holes.early });
      const part = selectTree(scanned, parseCopyFiles(["/a:/"], "copyFiles"), [], "copyFiles");
      holes.readDataRuns.prefetch!(filesOf(part.root));
      expect(holes.stats().files).toBe(200);
      expect(holes.stats().readHere).toBeLessThanOrEqual(100); // /b's files are skipped, not read
    } finally {
      holes.close();
    }
  });

  it("hole scan: a helper reading a file no partition takes stops when planning has what it asked for", async () => {
    const dir = join(t.path, "stop");
    mkdirSync(join(dir, "0big"), { recursive: true });
    mkdirSync(join(dir, "a"));
    writeFileSync(join(dir, "0big/blob"), "");
    truncateSync(join(dir, "0big/blob"), 16 * 2 ** 30); // 16 GiB of holes: read in full, about 20 s
    writeTree(join(dir, "a"), Array.from({ length: 300 }, () => ({ pattern: [1], tail: 0 })));
    const pool = new ReaderPool(1);
    await booted(pool);
    const holes = fileDataRuns(pool);
    try {
      const scanned = scanTree(dir, { onFile: holes.early }); // posts the blob and 255 files during the scan
      await until(() => holes.stats().byHelpers >= 1, "the helper to take the blob");
      const part = selectTree(scanned, parseCopyFiles(["/a:/"], "copyFiles"), [], "copyFiles");
      holes.readDataRuns.prefetch!(filesOf(part.root));
      const exited = once(pool.helpers[0].worker, "exit");
      const late = new Promise((r) => setTimeout(() => r("still reading"), 5000));
      expect(await Promise.race([exited.then(() => "ended"), late])).toBe("ended");
    } finally {
      holes.close();
    }
  });

  it("hole scan: files the helpers cannot read fail as they do without helpers", async () => {
    const dir = join(t.path, "gone");
    mkdirSync(dir);
    writeTree(dir, Array.from({ length: 1500 }, () => ({ pattern: [1], tail: 1 })));
    const pool = new ReaderPool(2);
    await booted(pool);
    const holes = fileDataRuns(pool);
    try {
      const files = filesOf(scanTree(dir).root);
      rmSync(dir, { recursive: true });
      holes.readDataRuns.prefetch!(files);
      expect(holes.stats().byHelpers).toBeGreaterThan(0);
      for (const f of files) {
        expect(() => holes.readDataRuns(f)).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/cannot open for reading: it was removed or renamed after the rootfs was scanned/) }));
      }
      expect(pool.fallbacks).toBe(1500);
    } finally {
      holes.close();
    }
  });

  it("hole scan: a file gone or shortened after the scan fails as it does without helpers", () => {
    const dir = join(t.path, "changed");
    mkdirSync(dir);
    writeTree(dir, [{ pattern: [1, 1], tail: 0 }, { pattern: [1, 1, 1], tail: 0 }]);
    for (const early of [false, true]) {
      const pool = new ReaderPool(2);
      const holes = fileDataRuns(pool);
      try {
        const tree = scanTree(dir, early ? { onFile: holes.early } : {});
        const [a, b] = filesOf(tree.root);
        rmSync(join(dir, "f0000"));
        truncateSync(join(dir, "f0001"), BLOCK);
        holes.readDataRuns.prefetch!([a, b]);
        expect(() => holes.readDataRuns(a)).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/f0000: cannot open for reading: it was removed or renamed after the rootfs was scanned/) }));
        expect(() => holes.readDataRuns(b)).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/file is shorter than when it was scanned/) }));
        expect(pool.fallbacks).toBe(2);
      } finally {
        holes.close();
      }
      writeTree(dir, [{ pattern: [1, 1], tail: 0 }, { pattern: [1, 1, 1], tail: 0 }]);
    }
  });
});
