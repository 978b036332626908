/**
 * Trees built by hand (the library's `rootfs: Tree` option) need not follow
 * every rule the scanners keep: the root's entries still come out in byte
 * order with mkdisk's lost+found among them, and a directory node placed
 * twice is refused instead of giving entries that point nowhere.
 */
import { describe, expect, it } from "vitest";
import { analyzeTree } from "../../src/ext4/plan.js";
import { hashSeedWords } from "../../src/ext4/hash.js";
import { SIGNED_DIR_HASH } from "../../src/ext4/index.js";
import { parseUuid } from "../../src/bin/guid.js";
import { MkdiskError } from "../../src/bin/errors.js";
import type { Tree, TreeNode } from "../../src/tree/types.js";
import { UUID } from "./helpers.js";

const node = (path: string, type: "file" | "dir", children?: TreeNode[]): TreeNode => ({
  name: Buffer.from(path.split("/").pop()!), path, sourcePath: Buffer.from(`/nonexistent${path}`), type,
  mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children,
});
const analyze = (tree: Tree) => analyzeTree(tree, hashSeedWords(parseUuid(UUID)), SIGNED_DIR_HASH, undefined, "test");

/** Names in a linear directory block, "." and ".." left out. */
function names(block: Uint8Array): string[] {
  const out: string[] = [];
  const d = new DataView(block.buffer, block.byteOffset);
  for (let at = 0; at < 4084; ) {
    const recLen = d.getUint16(at + 4, true);
    const len = block[at + 6];
    if (d.getUint32(at, true) !== 0) out.push(Buffer.from(block.subarray(at + 8, at + 8 + len)).toString());
    at += recLen;
  }
  return out.slice(2);
}

describe("ext4 on hand-built trees", () => {
  it("puts the root's entries in byte order with lost+found, even when the children are not", () => {
    const tree: Tree = { root: node("/", "dir", [node("/zeta", "file"), node("/alpha", "file"), node("/m", "dir", [])]), nodeCount: 4 };
    const a = analyze(tree);
    expect(names(a.inodes[2]!.dir!.block(0, 0))).toEqual(["alpha", "lost+found", "m", "zeta"]);
    // Sorted children give the same order (and the same numbers as the tree's order).
    const sorted: Tree = { root: node("/", "dir", [node("/alpha", "file"), node("/m", "dir", []), node("/zeta", "file")]), nodeCount: 4 };
    expect(names(analyze(sorted).inodes[2]!.dir!.block(0, 0))).toEqual(["alpha", "lost+found", "m", "zeta"]);
  });

  it("refuses a directory node placed in two directories", () => {
    const shared = node("/a/s", "dir", [node("/a/s/f", "file")]);
    const tree: Tree = { root: node("/", "dir", [node("/a", "dir", [shared]), node("/b", "dir", [shared])]), nodeCount: 6 };
    let err: unknown;
    try {
      analyze(tree);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MkdiskError);
    expect((err as MkdiskError).code).toBe("E_TREE");
    expect((err as MkdiskError).message).toMatch(/appears twice/);
  });
});
