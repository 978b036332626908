/**
 * Extended attributes in ext4: file capabilities (setcap), POSIX ACLs
 * (setfacl, access and default), SELinux-style labels, user.* and trusted.*
 * of every size class (in the inode, in a block, split between both), and
 * identical sets sharing one block. Oracles: e2fsck -fn (entry hashes, block
 * checksums, refcounts, i_blocks), debugfs (ea_list, stat "File ACL"), a
 * kernel loop mount read back with getcap, getfacl and getfattr against the
 * same commands on the source tree, and a read-write mount that edits a
 * shared block (copy-on-write) followed by e2fsck.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { closeSync, mkdirSync, openSync, readSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setAttributeSync } from "@napi-rs/xattr";
import { copyNode, scanTree } from "../../src/tree/scan.js";
import type { Tree, TreeNode } from "../../src/tree/types.js";
import { MkdiskError } from "../../src/bin/errors.js";
import { planExt4 } from "../../src/ext4/index.js";
import { parseUuid } from "../../src/bin/guid.js";
import { encodeInodeFast, encodeInodeTable, type InodeFields } from "../../src/ext4/inode.js";
import { aclToDisk, xattrEntryHash, type DiskXattr } from "../../src/ext4/xattr.js";
import { requireTool, run, runOk, sha256File, tempDir } from "../helpers/tools.js";
import { buildImage, ctx, fsck, UUID } from "./helpers.js";
import { withMount } from "./fixture.js";

const hex = (s: string) => "0x" + Buffer.from(s).toString("hex");

/** `# file:` blocks of getfattr/getfacl output, keyed by path relative to `root`. */
function blocks(out: string, root: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const chunk of out.split(/\n\n+/)) {
    const lines = chunk.trim().split("\n");
    const head = lines[0]?.match(/^# file: (.*)$/);
    if (!head) continue;
    let p = head[1];
    if (!p.startsWith(root)) throw new Error(`unexpected path ${p}`);
    p = p.slice(root.length) || "/";
    m.set(p, lines.slice(1).sort().join("\n"));
  }
  return m;
}

function getfattrAll(root: string): Map<string, string> {
  return blocks(runOk("getfattr", ["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", root]), root);
}

function getfaclAll(root: string): Map<string, string> {
  const m = blocks(runOk("getfacl", ["-R", "-P", "--absolute-names", "-n", root]), root);
  m.delete("/lost+found");
  return m;
}

function getcapAll(root: string): string[] {
  return runOk("getcap", ["-r", root])
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => l.replace(root, ""))
    .sort();
}

function readBlock(img: string, block: number): Buffer {
  const fd = openSync(img, "r");
  try {
    const b = Buffer.alloc(4096);
    readSync(fd, b, 0, 4096, block * 4096);
    return b;
  } finally {
    closeSync(fd);
  }
}

function fileAcl(img: string, path: string): number {
  const st = runOk("debugfs", ["-R", `stat "${path}"`, img]);
  return Number(st.match(/File ACL: (\d+)/)![1]);
}

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

describe("ext4 extended attributes", () => {
  const t = tempDir("mkdisk-xattr-");
  const src = join(t.path, "src");
  const img = join(t.path, "x.img");
  const mnt = join(t.path, "mnt");
  let tree: Tree;
  const SELINUX = "system_u:object_r:bin_t:s0\0";

  beforeAll(async () => {
    for (const tool of ["setcap", "getcap", "setfacl", "getfacl", "setfattr", "getfattr", "debugfs", "e2fsck"]) requireTool(tool);
    mkdirSync(join(src, "bin"), { recursive: true });
    mkdirSync(join(src, "srv/share"), { recursive: true });
    mkdirSync(join(src, "x"));
    writeFileSync(join(src, "bin/ping"), "ping binary\n");
    runOk("setcap", ["cap_net_raw+ep", join(src, "bin/ping")]);
    writeFileSync(join(src, "bin/multi"), "");
    runOk("setcap", ["cap_net_admin,cap_bpf,cap_sys_admin=ip", join(src, "bin/multi")]);
    runOk("setfattr", ["-n", "security.selinux", "-v", hex(SELINUX), join(src, "bin/ping")]);
    symlinkSync("ping", join(src, "bin/ping6"));
    runOk("setfattr", ["-h", "-n", "security.selinux", "-v", hex("system_u:object_r:bin_t:s0\0"), join(src, "bin/ping6")]);
    writeFileSync(join(src, "srv/acl-file"), "acl\n");
    runOk("setfacl", ["-m", "u:1234:rw,g:55:r", join(src, "srv/acl-file")]);
    runOk("setfacl", ["-m", "u:1000:rwx,u:1001:r,g:100:rx", join(src, "srv/share")]);
    runOk("setfacl", ["-d", "-m", "u:1000:rwx,g:100:rx,o::-", join(src, "srv/share")]);
    runOk("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", join(src, "srv")]);
    runOk("setfattr", ["-n", "user.root", "-v", "top", src]);
    // Size classes.
    writeFileSync(join(src, "x/tiny"), "t");
    runOk("setfattr", ["-n", "user.a", "-v", "1", join(src, "x/tiny")]);
    writeFileSync(join(src, "x/empty-value"), "");
    runOk("setfattr", ["-n", "user.empty", join(src, "x/empty-value")]);
    writeFileSync(join(src, "x/medium"), "m");
    runOk("setfattr", ["-n", "user.medium", "-v", "0x" + bytes(300, 1).toString("hex"), join(src, "x/medium")]);
    writeFileSync(join(src, "x/large"), "l");
    runOk("setfattr", ["-n", "user.large", "-v", "0x" + bytes(2600, 2).toString("hex"), join(src, "x/large")]);
    writeFileSync(join(src, "x/mixed"), "");
    runOk("setfattr", ["-n", "user.s", "-v", "small", join(src, "x/mixed")]);
    runOk("setfattr", ["-n", "user.zbig", "-v", "0x" + bytes(1000, 3).toString("hex"), join(src, "x/mixed")]);
    writeFileSync(join(src, "x/many"), "");
    for (let k = 0; k < 40; k++) runOk("setfattr", ["-n", `user.k${String(k).padStart(2, "0")}`, "-v", `value-${k}`, join(src, "x/many")]);
    for (let k = 1; k <= 5; k++) {
      writeFileSync(join(src, `x/shared${k}`), `s${k}`);
      runOk("setfattr", ["-n", "user.shared", "-v", "0x" + bytes(500, 9).toString("hex"), join(src, `x/shared${k}`)]);
      runOk("setfattr", ["-n", "security.selinux", "-v", hex(SELINUX), join(src, `x/shared${k}`)]);
      runOk("setfattr", ["-n", "user.tag", "-v", "same", join(src, `x/shared${k}`)]);
    }
    tree = scanTree(src);
    await buildImage(tree, img);
  });
  afterAll(() => t.cleanup());

  it("e2fsck -fn finds nothing (hashes, checksums, refcounts, i_blocks)", () => {
    const r = fsck(img);
    expect(r.out).not.toMatch(/\?|Fix|ERROR|Inode .* has|bad|Illegal|invalid/i);
    expect(r.status, r.out).toBe(0);
  });

  it("small sets live in the inode, big ones in a block, identical block sets share one block", () => {
    expect(fileAcl(img, "/x/tiny")).toBe(0);
    // Label (52 bytes with its entry) fits the 92-byte inode area; the capability (48) then goes to a block.
    expect(fileAcl(img, "/bin/ping")).toBeGreaterThan(0);
    const medium = fileAcl(img, "/x/medium");
    const large = fileAcl(img, "/x/large");
    expect(medium).toBeGreaterThan(0);
    expect(medium).toBeGreaterThan(large); // placed in inode order: "large" sorts before "medium"
    const shared = [1, 2, 3, 4, 5].map((k) => fileAcl(img, `/x/shared${k}`));
    expect(new Set(shared).size).toBe(1);
    expect(shared[0]).toBeGreaterThan(0);
    const blk = readBlock(img, shared[0]);
    expect(blk.readUInt32LE(0)).toBe(0xea020000);
    expect(blk.readUInt32LE(4)).toBe(5); // h_refcount
    expect(blk.readUInt32LE(8)).toBe(1); // h_blocks
    expect(readBlock(img, medium).readUInt32LE(4)).toBe(1);
    // i_blocks counts the xattr block: 1 data block + 1 xattr block = 16 sectors.
    expect(runOk("debugfs", ["-R", 'stat "/x/shared1"', img])).toMatch(/Blockcount: 16\b/);
  });

  it("a cp -a copy of the source (xattrs set again, other host inodes) gives the same image", async () => {
    const copy = join(t.path, "copy");
    runOk("cp", ["-a", src, copy]);
    const img2 = join(t.path, "copy.img");
    await buildImage(scanTree(copy), img2);
    expect(sha256File(img2)).toBe(sha256File(img));
  });

  it("debugfs ea_list shows every attribute", () => {
    const caps = runOk("debugfs", ["-R", 'ea_list "/bin/ping"', img]);
    expect(caps).toContain("security.capability (20)");
    expect(caps).toContain("security.selinux (27)");
    const acl = runOk("debugfs", ["-R", 'ea_list "/srv/acl-file"', img]);
    expect(acl).toContain("system.posix_acl_access");
    const share = runOk("debugfs", ["-R", 'ea_list "/srv/share"', img]);
    expect(share).toContain("system.posix_acl_default");
    const many = runOk("debugfs", ["-R", 'ea_list "/x/many"', img]);
    for (let k = 0; k < 40; k++) expect(many).toContain(`user.k${String(k).padStart(2, "0")} (`);
    expect(runOk("debugfs", ["-R", 'ea_list "/x/shared3"', img])).toMatch(/user\.shared \(500\)/);
  });

  it("a kernel mount reads back exactly the source's getcap, getfacl and getfattr", async () => {
    const srcX = getfattrAll(src);
    const srcAcl = getfaclAll(src);
    const srcCaps = getcapAll(src);
    expect(srcX.size).toBeGreaterThan(10);
    expect(srcCaps.length).toBe(2);
    await withMount(img, mnt, () => {
      expect(getfattrAll(mnt)).toEqual(srcX);
      expect(getfaclAll(mnt)).toEqual(srcAcl);
      expect(getcapAll(mnt)).toEqual(srcCaps);
      expect(runOk("getcap", [join(mnt, "bin/ping")])).toContain("cap_net_raw=ep");
      expect(runOk("getfacl", ["-n", "--absolute-names", join(mnt, "srv/acl-file")])).toContain("user:1234:rw-");
    });
  });

  it("a read-write mount can change a shared block (copy-on-write) and e2fsck stays clean", () => {
    const rw = join(t.path, "rw.img");
    runOk("cp", ["--sparse=always", img, rw]);
    const m = join(t.path, "mnt-rw");
    mkdirSync(m, { recursive: true });
    runOk("mount", ["-o", "loop", rw, m]);
    try {
      runOk("setfattr", ["-n", "user.shared", "-v", "changed", join(m, "x/shared2")]); // the block-resident one
      runOk("setfattr", ["-n", "user.more", "-v", "0x" + bytes(200, 5).toString("hex"), join(m, "x/medium")]);
      runOk("setfacl", ["-m", "u:77:r", join(m, "srv/acl-file")]);
      runOk("sh", ["-c", `echo new > "${m}/srv/share/created" && sync`]);
      // The kernel finds the shared block through its mbcache by h_hash and reuses it:
      // this only happens when mkdisk's block hash equals the kernel's.
      runOk("getfattr", ["-d", join(m, "x/shared1")]);
      writeFileSync(join(m, "x/shared6"), "s6");
      runOk("setfattr", ["-n", "user.shared", "-v", "0x" + bytes(500, 9).toString("hex"), join(m, "x/shared6")]);
      expect(runOk("getfacl", ["-n", "--absolute-names", join(m, "srv/share/created")])).toContain("user:1000:rwx");
    } finally {
      runOk("umount", [m]);
    }
    const r = fsck(rw);
    expect(r.status, r.out).toBe(0);
    const shared = [1, 2, 3, 4, 5].map((k) => fileAcl(rw, `/x/shared${k}`));
    expect(new Set(shared).size).toBe(2);
    expect(fileAcl(rw, "/x/shared6")).toBe(shared[0]);
    expect(readBlock(rw, shared[0]).readUInt32LE(4)).toBe(5); // 5 - shared2 + shared6
  });

  it("refuses values larger than a block and names ext4 cannot store, naming the path and xattr", () => {
    const withX = (xattrs: TreeNode["xattrs"]): Tree => {
      const f: TreeNode = { name: Buffer.from("f"), path: "/f", sourcePath: Buffer.from("/dev/null"), type: "file", mode: 0o644, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, xattrs };
      return { root: copyNode(tree.root, { children: [f] }), nodeCount: 2 };
    };
    const plan = (tr: Tree) => planExt4(tr, { sizeBytes: 64 << 20, uuid: parseUuid(UUID), ctx: ctx() });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as MkdiskError;
      }
      throw new Error("no error");
    };
    const big = err(() => plan(withX([{ name: "user.big", value: new Uint8Array(5000) }])));
    expect(big.code).toBe("E_UNSUPPORTED");
    expect(big.message).toContain("/f");
    expect(big.message).toContain("user.big");
    const sum = err(() => plan(withX([{ name: "user.a", value: new Uint8Array(2500) }, { name: "user.b", value: new Uint8Array(2500) }])));
    expect(sum.code).toBe("E_UNSUPPORTED");
    const ns = err(() => plan(withX([{ name: "system.foo", value: new Uint8Array(1) }])));
    expect(ns.code).toBe("E_UNSUPPORTED");
    expect(ns.message).toContain("system.foo");
    const acl = err(() => plan(withX([{ name: "system.posix_acl_access", value: new Uint8Array([2, 0, 0, 0, 1, 0]) }])));
    expect(acl.code).toBe("E_TREE");
    expect(acl.message).toContain("system.posix_acl_access");
    // security.capability: a vfs_cap_data of a known revision and its exact size.
    const cap = (v: number[]) => plan(withX([{ name: "security.capability", value: Uint8Array.from(v) }]));
    const v2 = [0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // cap_net_raw+ep
    expect(() => cap(v2)).not.toThrow();
    expect(() => cap([...v2, 0, 0, 0, 0].map((b, i) => (i === 3 ? 0x03 : b)))).not.toThrow(); // revision 3 (root uid 0)
    for (const [bytes, why] of [[v2.slice(0, 12), "12 bytes for revision 2"], [[...v2, 0], "21 bytes"], [[0, 0, 0, 0x04, ...v2.slice(4)], "revision 4"], [[0x02, 0, 0, 0x02, ...v2.slice(4)], "flags 0x2"]] as const) {
      const e = err(() => cap([...bytes]));
      expect(e.code, why).toBe("E_TREE");
      expect(e.message).toContain(why);
      expect(e.message).toContain("/f");
    }
    // The largest value that fits one block next to its entry is accepted.
    expect(() => plan(withX([{ name: "user.big", value: new Uint8Array(4096 - 32 - 4 - 16 - 4) }]))).not.toThrow();
  });

  it("converts Linux xattr ACLs to ext4's compact form", () => {
    // user::rw- user:1234:rw- group::r-- mask::rw- other::r--
    const linux = Buffer.from("0200000001000600ffffffff02000600d204000004000400ffffffff10000600ffffffff20000400ffffffff", "hex");
    expect(Buffer.from(aclToDisk(linux, "/f")).toString("hex")).toBe("01000000" + "01000600" + "02000600d2040000" + "04000400" + "10000600" + "20000400");
  });

  it("entry hash follows ext4_xattr_hash_entry", () => {
    // Worked by hand: name "a" → 0x61; value "1" padded → le32 0x31; (0x61 << 16) ^ (0x61 >>> 16) ^ 0x31.
    const x: DiskXattr = { index: 1, name: Buffer.from("a"), value: Buffer.from("1"), fullName: "user.a" };
    expect(xattrEntryHash(x)).toBe(((0x61 << 16) ^ 0x31) >>> 0);
  });

  it("fast inode codec = struct-table codec with xattr fields", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 96, maxLength: 96 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), (space, acl) => {
        const f: InodeFields = { mode: 0o100644, uid: 1, gid: 2, sizeBytes: 3, time: { sec: 4, nsec: 5 }, links: 1, blocks512: 8, flags: 0x80000, iBlock: new Uint8Array(60), fileAclBlock: acl, xattrSpace: space };
        const a = new Uint8Array(256).fill(0xd1);
        const b = new Uint8Array(256).fill(0xd1);
        encodeInodeFast(f, 12, 0x1234, a, 0);
        encodeInodeTable(f, 12, 0x1234, b, 0);
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
        expect(Buffer.from(a.subarray(0xa0)).equals(Buffer.from(space))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

describe("ext4 xattrs: generated sets (fast-check) through e2fsck and a mount", () => {
  const t = tempDir("mkdisk-xattr-prop-");
  afterAll(() => t.cleanup());
  const nameArb = fc.stringMatching(/^[a-z0-9._-]{1,40}$/);
  const valueArb = fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 500, maxLength: 1500 }));
  const setArb = fc.array(fc.record({ ns: fc.constantFrom("user.", "trusted.", "security."), name: nameArb, value: valueArb }), { maxLength: 8 });
  const specArb = fc.record({ files: fc.array(setArb, { minLength: 1, maxLength: 12 }), dupes: fc.integer({ min: 0, max: 4 }) });

  it("every generated set reads back identically", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(specArb, async (spec) => {
        const root = join(t.path, `s${n}`);
        const img = join(t.path, `s${n}.img`);
        const mnt = join(t.path, `m${n++}`);
        mkdirSync(root);
        const sets = [...spec.files, ...Array.from({ length: spec.dupes }, () => spec.files[0])];
        sets.forEach((set, i) => {
          const p = join(root, `f${i}`);
          writeFileSync(p, "");
          for (const x of set) {
            try {
              setAttributeSync(p, x.ns + x.name, x.value);
            } catch {
              // The source file system's own limits (ENOSPC, E2BIG): it keeps what it can.
            }
          }
        });
        const tr = scanTree(root);
        await buildImage(tr, img, { sizeBytes: 16 << 20 });
        const r = fsck(img);
        expect(r.status, r.out).toBe(0);
        const want = getfattrAll(root);
        await withMount(img, mnt, () => {
          expect(getfattrAll(mnt)).toEqual(want);
        });
        run("rm", ["-rf", root, img]);
      }),
      { numRuns: 12 },
    );
  });
});
