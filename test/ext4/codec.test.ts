/**
 * Codec properties: the fast inode and bitmap codecs write the same bytes as
 * the readable ones (struct table / one bit at a time), every byte is written
 * (buffers pre-filled with 0xD1), time encoding follows the kernel's epoch-bit
 * rule, and the extent tree shape grows a level every 340x.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encodeInodeFast, encodeInodeTable, encodeTime, Inode, type InodeFields } from "../../src/ext4/inode.js";
import { setBits, setBitsSlow } from "../../src/ext4/bitmap.js";
import { extentTreeLevels, ExtentTree, pushExtents, type FileExtent } from "../../src/ext4/extent.js";
import { Superblock } from "../../src/ext4/superblock.js";
import { GroupDesc } from "../../src/ext4/groupdesc.js";
import { JournalSuperblock } from "../../src/ext4/journal.js";
import { MkdiskError } from "../../src/bin/errors.js";

const inodeArb: fc.Arbitrary<InodeFields> = fc.record({
  mode: fc.integer({ min: 0, max: 0xffff }),
  uid: fc.integer({ min: 0, max: 0xffffffff }),
  gid: fc.integer({ min: 0, max: 0xffffffff }),
  sizeBytes: fc.integer({ min: 0, max: 2 ** 44 }),
  time: fc.record({ sec: fc.integer({ min: -(2 ** 31), max: 2 ** 34 - 2 ** 31 - 1 }), nsec: fc.integer({ min: 0, max: 999_999_999 }) }),
  links: fc.integer({ min: 0, max: 65000 }),
  blocks512: fc.integer({ min: 0, max: 2 ** 47 }),
  flags: fc.integer({ min: 0, max: 0xffffffff }),
  iBlock: fc.uint8Array({ minLength: 60, maxLength: 60 }),
});

describe("ext4 codecs", () => {
  it("fast inode codec = struct-table codec, every byte written", () => {
    fc.assert(
      fc.property(inodeArb, fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (f, ino, seed) => {
        const a = new Uint8Array(256 + 8).fill(0xd1);
        const b = new Uint8Array(256 + 8).fill(0xd1);
        encodeInodeFast(f, ino, seed, a, 4);
        encodeInodeTable(f, ino, seed, b, 4);
        expect(Buffer.from(a).toString("hex")).toBe(Buffer.from(b).toString("hex"));
        expect(a[0]).toBe(0xd1); // nothing written outside
        expect(a[260]).toBe(0xd1);
        const d = Inode.decode(a, 4);
        expect(d.i_extra_isize).toBe(32);
        expect(d.i_uid + d.l_i_uid_high * 65536).toBe(f.uid);
        expect(d.i_size_lo + d.i_size_high * 2 ** 32).toBe(f.sizeBytes);
      }),
      { numRuns: 300 },
    );
  });

  it("fast bitmap codec = bit-at-a-time codec", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 32768 }), fc.integer({ min: 0, max: 32768 })), { maxLength: 6 }), (ranges) => {
        const a = new Uint8Array(4096);
        const b = new Uint8Array(4096);
        for (const [x, y] of ranges) {
          setBits(a, Math.min(x, y), Math.max(x, y));
          setBitsSlow(b, Math.min(x, y), Math.max(x, y));
        }
        expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("time encoding: seconds low 32 bits + epoch bits, nanoseconds << 2", () => {
    expect(encodeTime({ sec: 0, nsec: 0 }, "t")).toEqual([0, 0]);
    expect(encodeTime({ sec: -1, nsec: 5 }, "t")).toEqual([0xffffffff, 20]);
    expect(encodeTime({ sec: 2 ** 31 - 1, nsec: 0 }, "t")).toEqual([0x7fffffff, 0]);
    expect(encodeTime({ sec: 2 ** 31, nsec: 0 }, "t")).toEqual([0x80000000, 1]); // 2038-01-19 03:14:08
    expect(encodeTime({ sec: 2 ** 32, nsec: 1 }, "t")).toEqual([0, 1 * 4 + 1]);
    expect(() => encodeTime({ sec: -(2 ** 31) - 1, nsec: 0 }, "t")).toThrow(MkdiskError);
    expect(() => encodeTime({ sec: 2 ** 34, nsec: 0 }, "t")).toThrow(/outside/);
    // Decoding as the kernel does recovers the time.
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 34 - 2 ** 31 - 1 }), fc.integer({ min: 0, max: 999_999_999 }), (sec, nsec) => {
        const [lo, extra] = encodeTime({ sec, nsec }, "t");
        const s32 = lo >= 2 ** 31 ? lo - 2 ** 32 : lo;
        expect(s32 + (extra & 3) * 2 ** 32).toBe(sec);
        expect(extra >>> 2).toBe(nsec);
      }),
    );
  });

  it("extent tree levels: 4 in the inode, 340 per block", () => {
    expect(extentTreeLevels(0)).toEqual([]);
    expect(extentTreeLevels(4)).toEqual([]);
    expect(extentTreeLevels(5)).toEqual([1]);
    expect(extentTreeLevels(1360)).toEqual([4]);
    expect(extentTreeLevels(1361)).toEqual([5, 1]);
    expect(extentTreeLevels(340 * 340 * 4 + 1)).toEqual([1361, 5, 1]); // depth 3
    const ext: FileExtent[] = [];
    pushExtents(ext, 0, 1000, 32768 * 2 + 5);
    expect(ext.map((e) => e.count)).toEqual([32768, 32768, 5]);
    const tree = new ExtentTree(ext, []);
    const root = tree.rootIBlock();
    expect(Array.from(root.subarray(0, 8))).toEqual([0x0a, 0xf3, 3, 0, 4, 0, 0, 0]);
  });

  it("struct tables have the spec sizes", () => {
    expect(Superblock.sizeBytes).toBe(1024);
    expect(Superblock.fields.s_checksum.off).toBe(0x3fc);
    expect(Superblock.fields.s_hash_seed.off).toBe(0xec);
    expect(GroupDesc.sizeBytes).toBe(64);
    expect(Inode.sizeBytes).toBe(256);
    expect(JournalSuperblock.fields.s_users.off).toBe(0x100);
  });
});

describe("ext4 fast entry writers = struct tables", () => {
  it("extent header/leaf/index and directory entry heads", async () => {
    const { extentWriters, ExtentHeader, ExtentLeaf, ExtentIndex } = await import("../../src/ext4/extent.js");
    const { putEntry, DirEntryHead } = await import("../../src/ext4/dir.js");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 2 ** 32 - 32769 }), fc.integer({ min: 1, max: 32768 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), (n, lblk, len, pblk) => {
        const a = new Uint8Array(12).fill(0xd1);
        extentWriters.header(a, 0, n, 340, 2);
        expect(a).toEqual(ExtentHeader.encode({ eh_magic: 0xf30a, eh_entries: n, eh_max: 340, eh_depth: 2, eh_generation: 0 }));
        extentWriters.leaf(a, 0, lblk, pblk, len);
        expect(a).toEqual(ExtentLeaf.encode({ ee_block: lblk, ee_len: len, ee_start_hi: Math.floor(pblk / 2 ** 32), ee_start_lo: pblk % 2 ** 32 }));
        extentWriters.index(a, 0, lblk, pblk);
        expect(a).toEqual(ExtentIndex.encode({ ei_block: lblk, ei_leaf_lo: pblk % 2 ** 32, ei_leaf_hi: Math.floor(pblk / 2 ** 32), ei_unused: 0 }));
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ minLength: 1, maxLength: 255 }), fc.integer({ min: 0, max: 7 }), (ino, name, ft) => {
        const a = new Uint8Array(8 + 256).fill(0xd1);
        const rec = (8 + name.length + 3) & ~3;
        putEntry(a, 0, ino, rec, name, ft);
        expect(a.subarray(0, 8)).toEqual(DirEntryHead.encode({ inode: ino, rec_len: rec, name_len: name.length, file_type: ft }));
        expect(a.subarray(8, 8 + name.length)).toEqual(name);
      }),
    );
  });
});
