/**
 * The example tree through every oracle: e2fsck -fn (clean, exit 0),
 * dumpe2fs -h (pinned identity and features), a kernel mount with full
 * read-back, and debugfs stat spot checks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { scanTree } from "../../src/tree/scan.js";
import { zeroBlockRuns } from "../../src/ext4/holes.js";
import type { Tree } from "../../src/tree/types.js";
import { runOk, tempDir } from "../helpers/tools.js";
import { buildImage, ctx, EPOCH, fsck, nodeReadAt, UUID } from "./helpers.js";
import { compareMounted, makeExampleTree, withMount } from "./fixture.js";

describe("ext4 example tree", () => {
  const t = tempDir("mkdisk-ext4-");
  const src = join(t.path, "src");
  let tree: Tree;
  beforeAll(() => {
    runOk("mkdir", [src]);
    makeExampleTree(src);
    tree = scanTree(src);
  });
  afterAll(() => t.cleanup());

  for (const holes of [false, true]) {
    describe(holes ? "with hole detection" : "dense files", () => {
      const img = join(t.path, holes ? "holes.img" : "dense.img");
      beforeAll(async () => {
        await buildImage(tree, img, { sizeBytes: 96 << 20, readDataRuns: holes ? zeroBlockRuns(nodeReadAt) : undefined });
      });

      it("e2fsck -fn finds nothing", () => {
        const r = fsck(img);
        expect(r.out).not.toMatch(/\?|Fix|ERROR|Inode .* has|bad|Illegal|invalid/i);
        expect(r.status, r.out).toBe(0);
      });

      it("dumpe2fs -h shows the pinned identity, features and times", () => {
        const out = runOk("dumpe2fs", ["-h", img]);
        const field = (k: string) => out.match(new RegExp(`^${k}:\\s*(.*)$`, "m"))?.[1].trim();
        expect(field("Filesystem UUID")).toBe(UUID);
        expect(field("Directory Hash Seed")).toBe(UUID);
        expect(field("Default directory hash")).toBe("half_md4");
        expect(field("Filesystem volume name")).toBe("root");
        expect(field("Filesystem features")!.split(/\s+/).sort()).toEqual(
          "has_journal ext_attr dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize metadata_csum".split(" ").sort(),
        );
        expect(field("Reserved block count")).toBe("0");
        expect(field("Filesystem state")).toBe("clean");
        expect(field("Inode size")).toBe("256");
        expect(field("Block size")).toBe("4096");
        expect(field("Flex block group size")).toBe("16");
        expect(field("Journal sequence")).toBe("0x00000001");
        expect(field("Journal start")).toBe("0");
        expect(field("Filesystem flags")).toBe("signed_directory_hash");
        const created = new Date(EPOCH * 1000).toUTCString();
        const env = { ...process.env, TZ: "UTC", LC_ALL: "C" };
        const utc = runOk("dumpe2fs", ["-h", img], { env });
        for (const k of ["Filesystem created", "Last write time", "Last checked"]) {
          const v = utc.match(new RegExp(`^${k}:\\s*(.*)$`, "m"))![1].trim();
          expect(new Date(v + " UTC").getTime(), k).toBe(EPOCH * 1000);
        }
        expect(created).toBeTruthy();
        expect(out).not.toMatch(/Last mounted on:\s*\//);
      });

      it("mounts in the kernel and reads back every path", async () => {
        const n = await withMount(img, join(t.path, "mnt"), () => compareMounted(tree, join(t.path, "mnt"), ctx()));
        expect(n).toBe(tree.nodeCount);
      });

      it("survives a read-write kernel mount (journal in use, directories grow) and stays fsck-clean", async () => {
        const rw = join(t.path, holes ? "holes-rw.img" : "dense-rw.img");
        runOk("cp", ["--sparse=always", img, rw]);
        const mnt = join(t.path, "mnt-rw");
        runOk("mkdir", ["-p", mnt]);
        runOk("mount", ["-o", "loop", rw, mnt]);
        try {
          runOk("sh", ["-c", `for i in $(seq 1 400); do echo $i > "${mnt}/etc/new-file-with-a-longer-name-$i"; done; mkdir "${mnt}/lost+found/x"; rm -f "${mnt}/usr/big.bin" "${mnt}/etc/hard2"; cat "${mnt}/usr/sparse.bin" > "${mnt}/usr/copy"; sync`]);
        } finally {
          runOk("umount", [mnt]);
        }
        const r = fsck(rw);
        expect(r.status, r.out).toBe(0);
      });

      it("grows offline with resize2fs past its group descriptor block (no resize inode), fsck-clean, every path intact", async () => {
        // 96 MiB has one block of group descriptors (64 groups, 8 GiB); 40 GiB needs five.
        const grown = join(t.path, holes ? "holes-grown.img" : "dense-grown.img");
        runOk("cp", ["--sparse=always", img, grown]);
        runOk("truncate", ["-s", "40G", grown]);
        runOk("resize2fs", [grown]);
        expect(runOk("dumpe2fs", ["-h", grown])).toMatch(/^Block count:\s+10485760$/m);
        const r = fsck(grown);
        expect(r.status, r.out).toBe(0);
        const n = await withMount(grown, join(t.path, "mnt-grown"), () => compareMounted(tree, join(t.path, "mnt-grown"), ctx()));
        expect(n).toBe(tree.nodeCount);
      });

      it("debugfs stat: extents, flags, times", () => {
        const st = runOk("debugfs", ["-R", "stat /usr/sparse.bin", img]);
        expect(st).toMatch(/Flags: 0x80000/);
        if (holes) {
          // 1500 data blocks, each its own extent: two index levels.
          expect(st).toMatch(/Blockcount: (\d+)/);
          const ex = runOk("debugfs", ["-R", "ex /usr/sparse.bin", img]);
          expect(ex).toMatch(/^\s*2\/\s*2/m);
          expect(Number(st.match(/Blockcount: (\d+)/)![1])).toBeGreaterThanOrEqual(1501 * 8);
        }
        const pw = runOk("debugfs", ["-R", "stat /etc/passwd", img]);
        const pwNode = tree.root.children!.find((c) => c.path === "/etc")!.children!.find((c) => c.path === "/etc/passwd")!;
        expect(pwNode.mtime.nsec).toBeGreaterThan(0);
        const extra = (pwNode.mtime.nsec * 4).toString(16).padStart(8, "0");
        expect(pw).toContain(`mtime: 0x5f5e1000:${extra}`); // 1600000000 s; extra = ns << 2, epoch bits 0
        const dev = runOk("debugfs", ["-R", "stat /dev/bigdev", img]);
        expect(dev).toMatch(/Device major\/minor number: 300:70000/);
        const l = runOk("debugfs", ["-R", "stat /etc/link59", img]);
        expect(l).toMatch(/Fast link dest: "x{59}"/);
      });
    });
  }
});
