/**
 * A scanned node does not store its host path: `sourcePath` is a prototype
 * getter joining the parent directory's path with the name. Object spread
 * drops such a getter, so every copy the tree code makes (selection, re-rooting,
 * excludes, the ownership manifest) must still carry the right source path,
 * and a copy that is renamed must still read the original file.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyManifest, parseManifest } from "../../src/tree/manifest.js";
import { copyNode, scanTree } from "../../src/tree/scan.js";
import { parseCopyFiles, selectTree, walkTree } from "../../src/tree/select.js";
import { contentOf, type Tree, type TreeNode } from "../../src/tree/types.js";
import { tempDir } from "../helpers/tools.js";

let tmp: { path: string; cleanup(): void };
let tree: Tree;

const find = (t: Tree, path: string): TreeNode => {
  const n = [...walkTree(t.root)].find((x) => x.path === path);
  if (!n) throw new Error(`${path} not in the tree`);
  return n;
};
/** The bytes a build would copy for `n`. */
const content = (n: TreeNode): string => {
  const { path, fileOffsetBytes } = contentOf(n);
  return readFileSync(path).subarray(fileOffsetBytes, fileOffsetBytes + n.sizeBytes).toString();
};
const src = (n: TreeNode): string => n.sourcePath.toString();

const FILES: Record<string, string> = {
  "dir/a.txt": "contents of a",
  "dir/b.txt": "contents of b",
  "dir/sub/c.txt": "contents of c",
  "dir/sub/deeper/d.txt": "contents of d",
  "other/e.txt": "contents of e",
  "top.txt": "top",
};

beforeAll(() => {
  tmp = tempDir("mkdisk-srcpath-");
  for (const [f, text] of Object.entries(FILES)) {
    mkdirSync(join(tmp.path, f, ".."), { recursive: true });
    writeFileSync(join(tmp.path, f), text);
  }
  tree = scanTree(tmp.path, { xattrs: false });
});
afterAll(() => tmp?.cleanup());

describe("sourcePath of scanned nodes", () => {
  it("is the host path of every node, built on demand rather than stored", () => {
    expect(src(tree.root)).toBe(tmp.path);
    for (const n of walkTree(tree.root)) {
      if (n !== tree.root) expect(src(n)).toBe(tmp.path + n.path);
      if (n.type === "file") expect(content(n)).toBe(FILES[n.path.slice(1)]);
      expect(Object.keys(n)).not.toContain("sourcePath");
    }
    // Scanning "dir/" (a trailing slash) finds the same files.
    const t = scanTree(tmp.path + "/", { xattrs: false });
    expect(content(find(t, "/dir/sub/c.txt"))).toBe("contents of c");
  });

  it("a file copied under another name still reads the original file", () => {
    const t = selectTree(tree, parseCopyFiles(["/dir/a.txt:/x/B.TXT"], "c"), [], "c");
    const b = find(t, "/x/B.TXT");
    expect(Buffer.from(b.name).toString()).toBe("B.TXT");
    expect(src(b)).toBe(join(tmp.path, "dir/a.txt"));
    expect(content(b)).toBe("contents of a");
    // The source tree keeps its own name and path.
    expect(Buffer.from(find(tree, "/dir/a.txt").name).toString()).toBe("a.txt");
  });

  it("a directory copied under another name keeps its children's sources", () => {
    const t = selectTree(tree, parseCopyFiles(["/dir/sub:/SUB2", "/top.txt:/TOP"], "c"), [], "c");
    expect(src(find(t, "/SUB2"))).toBe(join(tmp.path, "dir/sub"));
    expect(content(find(t, "/SUB2/c.txt"))).toBe("contents of c");
    expect(content(find(t, "/SUB2/deeper/d.txt"))).toBe("contents of d");
    expect(content(find(t, "/TOP"))).toBe("top");
  });

  it("re-rooted (rebase) and pruned copies keep their sources", () => {
    // Re-rooting copies every node of /dir with a new display path.
    const r = selectTree(tree, parseCopyFiles(["/dir:/"], "c"), [], "c");
    expect(src(r.root)).toBe(join(tmp.path, "dir"));
    expect(find(r, "/sub/c.txt")).not.toBe(find(tree, "/dir/sub/c.txt"));
    for (const n of walkTree(r.root)) {
      if (n !== r.root) expect(src(n)).toBe(join(tmp.path, "dir", n.path));
      if (n.type === "file") expect(content(n)).toBe(FILES["dir" + n.path]);
    }
    // Excludes copy the directories on the way to what they drop.
    const p = selectTree(tree, parseCopyFiles(["/:/", "/other:/moved"], "c"), ["/dir/b.txt", "/dir/sub/deeper/"], "c");
    expect([...walkTree(p.root)].map((n) => n.path)).not.toContain("/dir/b.txt");
    expect(find(p, "/dir/sub/deeper").children).toEqual([]);
    for (const path of ["/dir", "/dir/sub", "/dir/sub/deeper"]) {
      expect(find(p, path)).not.toBe(find(tree, path));
      expect(src(find(p, path))).toBe(tmp.path + path);
    }
    expect(content(find(p, "/dir/a.txt"))).toBe("contents of a");
    expect(content(find(p, "/dir/sub/c.txt"))).toBe("contents of c");
    expect(src(find(p, "/moved"))).toBe(join(tmp.path, "other"));
    expect(content(find(p, "/moved/e.txt"))).toBe("contents of e");
    // Merged directories ("/:/" then a second source into an existing one).
    const m = selectTree(tree, parseCopyFiles(["/:/", "/other:/dir"], "c"), [], "c");
    expect(src(find(m, "/dir"))).toBe(join(tmp.path, "dir"));
    expect(content(find(m, "/dir/e.txt"))).toBe("contents of e");
    expect(content(find(m, "/dir/a.txt"))).toBe("contents of a");
  });

  it("the ownership manifest's copies keep their sources and leave the input as it was", () => {
    const t = applyManifest(tree, parseManifest("/dir/a.txt mode=0600 uid=7\n/dir/sub mode=0700\n/new type=file\n", "m"), "m");
    const a = find(t, "/dir/a.txt");
    expect(a).toMatchObject({ mode: 0o600, uid: 7 });
    expect(src(a)).toBe(join(tmp.path, "dir/a.txt"));
    expect(content(a)).toBe("contents of a");
    expect(src(find(t, "/dir/sub"))).toBe(join(tmp.path, "dir/sub"));
    expect(content(find(t, "/dir/sub/c.txt"))).toBe("contents of c");
    expect(src(find(t, "/new"))).toBe("/dev/null");
    expect(t.nodeCount).toBe(tree.nodeCount + 1);
    // Untouched subtrees are shared; the input tree is unchanged.
    expect(find(t, "/other")).toBe(find(tree, "/other"));
    expect(find(tree, "/dir/a.txt").mode).not.toBe(0o600);
    expect(find(tree, "/dir/a.txt").uid).not.toBe(7);
    expect(find(tree, "/dir/sub").mode).not.toBe(0o700);
    expect([...walkTree(tree.root)].map((n) => n.path)).not.toContain("/new");
  });

  it("copyNode keeps sourcePath and applies overrides after taking it", () => {
    const a = find(tree, "/dir/a.txt");
    const same = copyNode(a, { mode: 0o600 });
    expect(src(same)).toBe(join(tmp.path, "dir/a.txt"));
    expect(same.mode).toBe(0o600);
    expect(a.mode).not.toBe(0o600);
    const renamed = copyNode(a, { name: Buffer.from("z.txt"), path: "/z.txt" });
    expect(src(renamed)).toBe(join(tmp.path, "dir/a.txt"));
    expect(Object.keys(renamed).slice(0, 3)).toEqual(["name", "path", "sourcePath"]);
    // Plain nodes (tar, manifest-created) copy as they are.
    const plain = copyNode(renamed, { uid: 3 });
    expect(src(plain)).toBe(join(tmp.path, "dir/a.txt"));
    expect(plain.uid).toBe(3);
  });
});
