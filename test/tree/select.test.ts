/**
 * copyFiles / excludeFiles selection: the partition's tree is right, the
 * source tree is never modified (several partitions select from one tree),
 * and untouched subtrees are shared rather than copied.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCopyFiles, selectTree, walkTree } from "../../src/tree/select.js";
import { scanTree } from "../../src/tree/scan.js";
import type { Tree, TreeNode } from "../../src/tree/types.js";
import { tempDir } from "../helpers/tools.js";

let tmp: { path: string; cleanup(): void };
let tree: Tree;

const paths = (t: Tree) => [...walkTree(t.root)].map((n) => n.path);
const find = (t: Tree, path: string): TreeNode | undefined => [...walkTree(t.root)].find((n) => n.path === path);

beforeAll(() => {
  tmp = tempDir("mkdisk-select-");
  for (const d of ["boot/efi/EFI", "etc", "extra/sub", "usr/lib"]) mkdirSync(join(tmp.path, d), { recursive: true });
  for (const f of ["boot/vmlinuz", "boot/efi/EFI/x.efi", "etc/hostname", "extra/sub/a", "extra/b", "usr/lib/libc.so"]) writeFileSync(join(tmp.path, f), f);
  tree = scanTree(tmp.path, { xattrs: false });
});
afterAll(() => tmp?.cleanup());

describe("selectTree", () => {
  it("whole tree: the same nodes, no copy", () => {
    const t = selectTree(tree, parseCopyFiles(["/:/"], "c"), [], "c");
    expect(paths(t)).toEqual(paths(tree));
    expect(find(t, "/usr")).toBe(find(tree, "/usr"));
  });

  it("merging into a shared directory copies it and leaves the source tree as it was", () => {
    const before = paths(tree);
    const bootBefore = find(tree, "/boot")!.children!.slice();
    const t = selectTree(tree, parseCopyFiles(["/:/", "/extra:/boot/extra"], "c"), ["/boot/efi"], "c");
    expect(paths(t)).toContain("/boot/extra/sub/a");
    expect(paths(t)).not.toContain("/boot/efi");
    expect(paths(tree)).toEqual(before);
    expect(find(tree, "/boot")!.children).toEqual(bootBefore);
    // Subtrees nothing was excluded from are still shared.
    expect(find(t, "/usr")).toBe(find(tree, "/usr"));
  });

  it("excludes, contents-only excludes and re-rooting", () => {
    const t = selectTree(tree, parseCopyFiles(["/boot:/"], "c"), ["/boot/efi/"], "c");
    expect(paths(t)).toEqual(["/", "/efi", "/vmlinuz"]);
    const u = selectTree(tree, parseCopyFiles(["/extra:/data"], "c"), [], "c");
    expect(paths(u)).toEqual(["/", "/data", "/data/b", "/data/sub", "/data/sub/a"]);
    expect(find(tree, "/extra/b")!.path).toBe("/extra/b");
  });

  it("a source missing from the rootfs is skipped with a warning naming it (as systemd-repart does)", () => {
    const warnings: string[] = [];
    const t = selectTree(tree, parseCopyFiles(["/boot:/", "/efi:/"], "partitions[0].copyFiles"), [], "partitions[0].copyFiles", (m) => warnings.push(m));
    expect(paths(t)).toEqual(paths(selectTree(tree, parseCopyFiles(["/boot:/"], "c"), [], "c")));
    expect(warnings).toEqual(["partitions[0].copyFiles[1]: /efi is not in the rootfs; nothing is copied for it"]);
  });

  it("two sources merged into one directory: interleaved names in byte order, shared directories merged, a clash refused", () => {
    const m = tempDir("mkdisk-select-merge-");
    try {
      // 20 000 entries in each source, interleaved, so the merge must keep order across both.
      for (const s of ["a", "b"]) mkdirSync(join(m.path, s, "both/deeper"), { recursive: true });
      for (let i = 0; i < 20_000; i++) {
        writeFileSync(join(m.path, "a", `n${String(2 * i).padStart(6, "0")}`), "");
        writeFileSync(join(m.path, "b", `n${String(2 * i + 1).padStart(6, "0")}`), "");
      }
      writeFileSync(join(m.path, "a/both/deeper/from-a"), "");
      writeFileSync(join(m.path, "b/both/deeper/from-b"), "");
      const src = scanTree(m.path, { xattrs: false });
      const t = selectTree(src, parseCopyFiles(["/a:/", "/b:/"], "c"), [], "c");
      const top = t.root.children!.map((c) => Buffer.from(c.name).toString());
      expect(top).toHaveLength(40_001);
      expect(top.slice(0, 3)).toEqual(["both", "n000000", "n000001"]);
      expect(top.every((n, i) => i === 0 || Buffer.compare(Buffer.from(top[i - 1]), Buffer.from(n)) < 0)).toBe(true);
      expect(paths(t).filter((p) => p.startsWith("/both/"))).toEqual(["/both/deeper", "/both/deeper/from-a", "/both/deeper/from-b"]);

      writeFileSync(join(m.path, "b/n000000"), "clash");
      const clash = scanTree(m.path, { xattrs: false });
      expect(() => selectTree(clash, parseCopyFiles(["/a:/", "/b:/"], "c"), [], "partitions[0].copyFiles")).toThrow(/partitions\[0\]\.copyFiles\[1\].*both provide \/n000000/);
    } finally {
      m.cleanup();
    }
  });
});
