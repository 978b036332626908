/** Bad input: each case is a MkdiskError with the right code and the tree path in the message, thrown by planFat32 before any write. */
import { describe, expect, test } from "vitest";
import { planFat32, fat32MinimumSizeBytes } from "../../src/fat32/index.js";
import { MkdiskError } from "../../src/bin/errors.js";
import type { NodeType, Tree, TreeNode } from "../../src/tree/types.js";
import { ctx } from "./helpers.js";

const enc = new TextEncoder();
type N = { name: string | Uint8Array; type?: NodeType; size?: number; children?: N[]; link?: string };

/** Builds an in-memory Tree (no host files: planning never reads contents). */
function tree(children: N[]): Tree {
  let count = 0;
  const mk = (n: N, parent: string): TreeNode => {
    count++;
    const nameBytes = typeof n.name === "string" ? enc.encode(n.name) : n.name;
    const path = parent === "" ? "/" : (parent === "/" ? "" : parent) + "/" + new TextDecoder().decode(nameBytes);
    const type = n.type ?? (n.children ? "dir" : "file");
    return {
      name: nameBytes,
      path,
      sourcePath: Buffer.from("/nonexistent" + path),
      type,
      mode: 0o644,
      uid: 0,
      gid: 0,
      sizeBytes: n.size ?? 0,
      mtime: { sec: 1_600_000_000, nsec: 0 },
      linkTarget: n.link !== undefined ? enc.encode(n.link) : undefined,
      children: n.children ? n.children.map((c) => mk(c, path)).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name))) : undefined,
    };
  };
  const root = mk({ name: "", children }, "");
  return { root, nodeCount: count };
}

function plan(t: Tree, sizeBytes = 64 << 20, followSymlinks = false) {
  return planFat32(t, { sizeBytes, sectorBytes: 512, volumeId: 1, label: "esp", ctx: ctx(), followSymlinks });
}

function expectError(f: () => unknown, code: string, path: string | RegExp) {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MkdiskError);
    expect((e as MkdiskError).code).toBe(code);
    if (typeof path === "string") expect((e as MkdiskError).message).toContain(path);
    else expect((e as MkdiskError).message).toMatch(path);
    return;
  }
  throw new Error("expected an error");
}

describe("names FAT cannot hold (E_TREE, path named)", () => {
  for (const bad of ['a"b', "a*b", "a:b", "a<b", "a>b", "a?b", "a\\b", "a|b", "tab\there", "trailing.", "trailing ", "x".repeat(256)]) {
    test(JSON.stringify(bad.length > 20 ? bad.slice(0, 10) + "…" : bad), () => {
      expectError(() => plan(tree([{ name: "dir", children: [{ name: bad }] }])), "E_TREE", "/dir/" + bad);
    });
  }
  test("255 UTF-16 units is fine, 256 is not (a surrogate pair counts twice)", () => {
    expect(() => plan(tree([{ name: "x".repeat(255) }]))).not.toThrow();
    expectError(() => plan(tree([{ name: "x".repeat(254) + "😀" }])), "E_TREE", /256 UTF-16 units/);
  });
  test("invalid UTF-8", () => {
    expectError(() => plan(tree([{ name: "d", children: [{ name: Uint8Array.of(0x61, 0xff) }] }])), "E_TREE", "/d/a");
  });
  test('"." and ".." as names', () => {
    expectError(() => plan(tree([{ name: "." }])), "E_TREE", '"."');
    expectError(() => plan(tree([{ name: ".." }])), "E_TREE", '".."');
  });
});

describe("case-insensitive collisions (E_TREE)", () => {
  test("ASCII", () => expectError(() => plan(tree([{ name: "d", children: [{ name: "Readme.txt" }, { name: "README.TXT" }] }])), "E_TREE", "/d/Readme.txt"));
  test("Latin-1", () => expectError(() => plan(tree([{ name: "Größe" }, { name: "GRÖSSE" }, { name: "grÖße" }])), "E_TREE", "differ only in case"));
  test("a directory and a file", () => expectError(() => plan(tree([{ name: "efi", children: [] }, { name: "EFI" }])), "E_TREE", "differ only in case"));
});

describe("node types and sizes", () => {
  for (const type of ["symlink", "chardev", "blockdev", "fifo", "socket"] as NodeType[]) {
    test(type, () => expectError(() => plan(tree([{ name: "d", children: [{ name: "x", type, link: type === "symlink" ? "y" : undefined }] }])), "E_TREE", "/d/x"));
  }
  test("the error for a device or fifo says how to leave it out, with its rootfs path", () =>
    expectError(() => plan(tree([{ name: "d", children: [{ name: "x", type: "fifo" }] }])), "E_TREE", 'leave it out with the partition\'s "excludeFiles", which takes its path in the rootfs: "/d/x"'));
  test("a file of 4 GiB", () => expectError(() => plan(tree([{ name: "big.img", size: 2 ** 32 }]), 8 * 2 ** 30), "E_TREE", "/big.img"));
  test("a file of 4 GiB - 1 is accepted", () => expect(() => plan(tree([{ name: "big.img", size: 2 ** 32 - 1 }]), 8 * 2 ** 30)).not.toThrow());
});

describe("fit (E_FIT, says how much is needed)", () => {
  test("content larger than the partition", () => {
    const t = tree([{ name: "kernel", size: 80 << 20 }]);
    const min = fat32MinimumSizeBytes(t, 512);
    expectError(() => plan(t, 64 << 20), "E_FIT", `at least ${min} bytes`);
    expect(() => plan(t, min)).not.toThrow();
  });
  test("too small for FAT32 at all (65525 clusters): says the size that works, and that size works", () => {
    expectError(() => plan(tree([]), 16 << 20), "E_FIT", "65525");
    let min = 0;
    try {
      plan(tree([]), 16 << 20);
    } catch (e) {
      min = Number(/needs at least (\d+) bytes/.exec((e as Error).message)?.[1]);
    }
    expect(min).toBeGreaterThan(32 << 20);
    expect(() => plan(tree([]), min)).not.toThrow();
    expectError(() => plan(tree([]), min - 512), "E_FIT", `at least ${min} bytes`);
    expectError(() => planFat32(tree([]), { sizeBytes: 200 << 20, sectorBytes: 4096, volumeId: 1, ctx: ctx() }), "E_FIT", "65525");
  });
  test("a tree that does not fit at mkfs.fat's cluster size gets smaller clusters", () => {
    // 300 MiB: mkfs.fat's 4 KiB clusters give about 76 600, fewer than 80 000 files need.
    const dirs = Array.from({ length: 400 }, (_, d) => ({ name: `d${d}`, children: Array.from({ length: 200 }, (_, f) => ({ name: `F${f}`, size: 1 })) }));
    const t = tree(dirs);
    expect(() => plan(t, 300 << 20)).not.toThrow();
    const boot = [...plan(t, 300 << 20).extents()].find((e) => e.offsetBytes === 0)!;
    const b = (boot.source as { bytes: Uint8Array }).bytes;
    expect(b[13] * 512).toBeLessThan(4096); // BPB_SecPerClus
    // An empty volume of that size keeps mkfs.fat's 4 KiB.
    const empty = [...plan(tree([]), 300 << 20).extents()].find((e) => e.offsetBytes === 0)!;
    expect((empty.source as { bytes: Uint8Array }).bytes[13] * 512).toBe(4096);
  });
  test("bad options", () => {
    expectError(() => planFat32(tree([]), { sizeBytes: 64 << 20, sectorBytes: 1024 as 512, volumeId: 1, ctx: ctx() }), "E_LAYOUT", "sectorBytes");
    expectError(() => planFat32(tree([]), { sizeBytes: 64 << 20, sectorBytes: 512, volumeId: 2 ** 32, ctx: ctx() }), "E_LAYOUT", "volumeId");
  });
  test("too many entries in one directory", () => {
    const kids = Array.from({ length: 22000 }, (_, i) => ({ name: `a long file name number ${i}` }));
    expectError(() => plan(tree([{ name: "many", children: kids }]), 256 << 20), "E_TREE", "/many");
  });
});

describe("followSymlinks", () => {
  const t = () =>
    tree([
      { name: "real", children: [{ name: "f.txt", size: 10 }] },
      { name: "to-file", type: "symlink", link: "real/f.txt" },
      { name: "to-dir", type: "symlink", link: "/real" },
      { name: "sub", children: [{ name: "up", type: "symlink", link: "../real/f.txt" }] },
    ]);
  test("links inside the tree are followed", () => expect(() => plan(t(), 64 << 20, true)).not.toThrow());
  test("off by default, and the error names both ways out", () => expectError(() => plan(t()), "E_TREE", "symlink; FAT cannot hold symlinks (leave it out with the partition's \"excludeFiles\", which takes its path in the rootfs rather than this path in the partition, or set \"followSymlinks\": true"));
  test("a link outside the tree", () => expectError(() => plan(tree([{ name: "x", type: "symlink", link: "../../etc/passwd" }]), 64 << 20, true), "E_TREE", /^\/x: symlink target "..\/..\/etc\/passwd" points outside/));
  test("a link that leaves the tree through another link", () =>
    expectError(
      () => plan(tree([{ name: "x", type: "symlink", link: "../.." }, { name: "boot", children: [{ name: "a", type: "symlink", link: "../x/etc/passwd" }] }]), 64 << 20, true),
      "E_TREE",
      /points outside/,
    ));
  test("an absolute target that exists on the host but not in the tree", () =>
    expectError(() => plan(tree([{ name: "x", type: "symlink", link: "/etc/passwd" }]), 64 << 20, true), "E_TREE", /^\/x: symlink target "\/etc\/passwd" does not exist in/));
  test("a dangling link", () => expectError(() => plan(tree([{ name: "x", type: "symlink", link: "nope" }]), 64 << 20, true), "E_TREE", "/x"));
  test("a loop back to an enclosing directory", () =>
    expectError(() => plan(tree([{ name: "d", children: [{ name: "loop", type: "symlink", link: ".." }] }]), 64 << 20, true), "E_TREE", "/d/loop"));
  test("a link cycle", () =>
    expectError(() => plan(tree([{ name: "a", type: "symlink", link: "b" }, { name: "b", type: "symlink", link: "a" }]), 64 << 20, true), "E_TREE", "too many levels"));
});
