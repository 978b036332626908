/**
 * Struct tables and codecs: decode(encode(x)) = x, every byte written (the
 * 0xD1 pre-filled buffer trick), the hot FAT codec against a naive one built
 * with the checked u32le writer, time and name rules.
 */
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { BootSector, bootCode } from "../../src/fat32/bootsector.js";
import { FsInfo } from "../../src/fat32/fsinfo.js";
import { DirEntry, LfnEntry, encodeLfnEntries, shortNameChecksum } from "../../src/fat32/dirent.js";
import { encodeFatWindow, FAT_EOC, type Run } from "../../src/fat32/fat.js";
import { FAT_EPOCH_SEC, FAT_MAX_SEC, fromFatTime, toFatTime } from "../../src/fat32/fattime.js";
import { basisName, exactShortName, mangleLabel, tailedShortName, foldName } from "../../src/fat32/names.js";
import { defaultClusterBytes, layout, MIN_CLUSTERS_FAT32 } from "../../src/fat32/geometry.js";
import { u32le, view } from "../../src/bin/int.js";
import type { FieldSpec, Struct } from "../../src/bin/struct.js";

function arbValues<F extends Record<string, FieldSpec>>(s: Struct<F>) {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, f] of Object.entries(s.fields)) {
    rec[k] =
      f.type === "bytes" ? fc.uint8Array({ minLength: f.len, maxLength: f.len })
      : f.type === "u8" ? fc.integer({ min: 0, max: 0xff })
      : f.type.startsWith("u16") ? fc.integer({ min: 0, max: 0xffff })
      : fc.integer({ min: 0, max: 0xffffffff });
  }
  return fc.record(rec) as fc.Arbitrary<Record<string, unknown>>;
}

describe("struct tables", () => {
  for (const s of [BootSector, FsInfo, DirEntry, LfnEntry] as Struct<Record<string, FieldSpec>>[]) {
    test(`${s.name}: decode(encode(x)) = x, and encodeInto writes every byte`, () => {
      fc.assert(
        fc.property(arbValues(s), (v) => {
          const enc = s.encode(v as never);
          expect(s.decode(enc)).toEqual(v);
          const dirty = new Uint8Array(s.sizeBytes + 8).fill(0xd1);
          s.encodeInto(v as never, dirty, 4);
          expect(dirty.subarray(4, 4 + s.sizeBytes)).toEqual(enc);
          expect([...dirty.subarray(0, 4), ...dirty.subarray(4 + s.sizeBytes)].every((b) => b === 0xd1)).toBe(true);
        }),
        { numRuns: 50 },
      );
    });
  }

  test("boot code is a fixed stub: jumps land inside it, the message is NUL-terminated", () => {
    const c = bootCode();
    expect(c.length).toBe(420);
    const msgOff = 0x7a - 0x5a;
    expect(c[msgOff - 1]).toBe(0xfd); // jmp $-1 back to hlt
    const end = c.indexOf(0, msgOff);
    expect(end).toBeGreaterThan(msgOff);
    expect(c.subarray(end).every((b) => b === 0)).toBe(true);
  });
});

describe("long-name entries", () => {
  test("checksum matches the fatgen103 definition on a known name", () => {
    // fatgen103 algorithm worked by hand for "FOO     BAR": verified by fsck.fat in the oracle tests too
    const n = Uint8Array.from("FOO     BAR", (c) => c.charCodeAt(0));
    let sum = 0;
    for (const b of n) sum = ((sum & 1 ? 0x80 : 0) + (sum >> 1) + b) & 0xff;
    expect(shortNameChecksum(n)).toBe(sum);
  });
  test("encode/decode round trip: ordinals, terminator, padding", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 255 }), (name) => {
        const units = Uint16Array.from(name, (c) => c.charCodeAt(0)).subarray(0, name.length);
        const full = new Uint16Array(name.length);
        for (let i = 0; i < name.length; i++) full[i] = name.charCodeAt(i);
        const n = Math.ceil(full.length / 13);
        const out = new Uint8Array(n * 32).fill(0xd1);
        expect(encodeLfnEntries(full, 0x5a, out, 0)).toBe(n);
        const back: number[] = [];
        for (let k = n - 1; k >= 0; k--) {
          const e = LfnEntry.decode(out, k * 32);
          expect(e.LDIR_Ord).toBe((n - k) | (k === 0 ? 0x40 : 0));
          expect(e.LDIR_Attr).toBe(0x0f);
          expect(e.LDIR_Chksum).toBe(0x5a);
          const b = new Uint8Array([...e.LDIR_Name1, ...e.LDIR_Name2, ...e.LDIR_Name3]);
          for (let i = 0; i < 26; i += 2) back.push(b[i] | (b[i + 1] << 8));
        }
        expect(back.slice(0, full.length)).toEqual([...full]);
        const rest = back.slice(full.length);
        if (rest.length) expect(rest[0]).toBe(0);
        expect(rest.slice(1).every((u) => u === 0xffff)).toBe(true);
        void units;
      }),
      { numRuns: 100 },
    );
  });
});

describe("FAT codec", () => {
  test("the window codec writes what a naive chain builder writes", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (lens, windowEntries) => {
        const runs: Run[] = [];
        let c = 2;
        for (const l of lens) {
          runs.push({ firstCluster: c, clusterCount: l });
          c += l;
        }
        const total = c + 5;
        const naive = new Uint8Array(total * 4);
        const d = view(naive);
        u32le(d, 0, 0x0ffffff8);
        u32le(d, 4, FAT_EOC);
        for (const r of runs) for (let i = 0; i < r.clusterCount; i++) u32le(d, (r.firstCluster + i) * 4, i === r.clusterCount - 1 ? FAT_EOC : r.firstCluster + i + 1);
        const fast = new Uint8Array(total * 4).fill(0xd1);
        let hint = 0;
        for (let e = 0; e < total; e += windowEntries) hint = encodeFatWindow(runs, 0xf8, e, fast.subarray(e * 4, Math.min(total, e + windowEntries) * 4), hint);
        expect(fast).toEqual(naive);
      }),
      { numRuns: 100 },
    );
  });
});

describe("times", () => {
  test("agrees with Date (UTC) inside FAT's range; 2 s and 10 ms resolution", () => {
    fc.assert(
      fc.property(fc.integer({ min: FAT_EPOCH_SEC, max: FAT_MAX_SEC }), fc.integer({ min: 0, max: 999_999_999 }), (sec, nsec) => {
        const t = toFatTime({ sec, nsec });
        expect(fromFatTime(t.date, t.time)).toBe(sec - (sec % 2));
        expect(t.tenth).toBe((sec % 2) * 100 + Math.floor(nsec / 1e7));
        const d = new Date(sec * 1000);
        expect(t.date >> 9).toBe(d.getUTCFullYear() - 1980);
      }),
      { numRuns: 300 },
    );
  });
  test("clamps before 1980 and after 2107", () => {
    expect(toFatTime({ sec: 0, nsec: 5 })).toEqual({ date: 0x21, time: 0, tenth: 0 });
    expect(toFatTime({ sec: -5, nsec: 0 })).toEqual({ date: 0x21, time: 0, tenth: 0 });
    expect(toFatTime({ sec: FAT_MAX_SEC + 1, nsec: 0 })).toEqual({ date: 0xff9f, time: 0xbf7d, tenth: 199 });
    expect(toFatTime({ sec: FAT_MAX_SEC, nsec: 0 })).toEqual({ date: 0xff9f, time: 0xbf7d, tenth: 100 });
  });
});

describe("names", () => {
  test("exact 8.3 names and NT case bits", () => {
    expect(exactShortName("README.TXT")?.ntRes).toBe(0);
    expect(exactShortName("readme.txt")?.ntRes).toBe(0x18);
    expect(exactShortName("readme.TXT")?.ntRes).toBe(0x08);
    expect(exactShortName("README.txt")?.ntRes).toBe(0x10);
    expect(exactShortName("Readme.txt")).toBeUndefined();
    expect(exactShortName("a b")).toBeUndefined();
    expect(exactShortName("abcdefghi")).toBeUndefined();
    expect(exactShortName("a.b.c")).toBeUndefined();
    expect(exactShortName(".a")).toBeUndefined();
  });
  test("basis names and tails (fatgen103 §7)", () => {
    const s = (b: { base: string; ext: string }, n: number) => String.fromCharCode(...tailedShortName(b, n));
    expect(basisName("The quick brown.fox")).toEqual({ base: "THEQUICK", ext: "FOX" });
    expect(s(basisName("The quick brown.fox"), 1)).toBe("THEQUI~1FOX");
    expect(s(basisName(".bashrc.swp"), 12)).toBe("BASHR~12SWP");
    expect(basisName("a+b=c.tar.gz")).toEqual({ base: "A_B_CTAR", ext: "GZ" });
    expect(basisName("日本.txt")).toEqual({ base: "__", ext: "TXT" });
    expect(s(basisName("x"), 123456)).toBe("x~123456   ".toUpperCase());
  });
  test("volume label rule (systemd-repart's mangle_fat_label)", () => {
    const l = (x?: string) => String.fromCharCode(...mangleLabel(x).bytes);
    expect(l("esp")).toBe("ESP        ");
    expect(l("my.efi:part*1-long")).toBe("MY_EFI_PART");
    expect(l("über")).toBe("_BER       ");
    expect(l(undefined)).toBe("NO NAME    ");
    expect(mangleLabel("").present).toBe(false);
    // mkfs.fat writes no root-directory label entry for its default name either.
    expect(mangleLabel("no name").present).toBe(false);
    expect(mangleLabel("NO NAME").present).toBe(false);
    expect(mangleLabel("NO NAMES").present).toBe(true);
  });
  test("case folding covers ASCII and Latin-1 only", () => {
    expect(foldName("abcÿé")).toBe("ABC\u0178É");
    expect(foldName("ß÷")).toBe("ß÷");
  });
});

describe("geometry", () => {
  test("mkfs.fat 4.2 cluster sizes", () => {
    const M = 1048576;
    expect(defaultClusterBytes(260 * M, 512)).toBe(512);
    expect(defaultClusterBytes(261 * M, 512)).toBe(4096);
    expect(defaultClusterBytes(8192 * M, 512)).toBe(4096);
    expect(defaultClusterBytes(8193 * M, 512)).toBe(8192);
    expect(defaultClusterBytes(16385 * M, 512)).toBe(16384);
    expect(defaultClusterBytes(32769 * M, 512)).toBe(32768);
    expect(defaultClusterBytes(100 * M, 4096)).toBe(4096);
  });
  test("layout invariants: FAT maps every cluster, regions aligned to clusters, no waste beyond one FAT step", () => {
    fc.assert(
      fc.property(fc.integer({ min: 70_000, max: 80_000_000 }), fc.constantFrom(512, 4096), fc.constantFrom(512, 4096, 32768), (sectors, ss, cb) => {
        if (cb < ss) return;
        const g = layout(sectors, ss, cb);
        if (!g) return;
        const spc = cb / ss;
        expect(g.fatSectors * (ss / 4)).toBeGreaterThanOrEqual(g.clusterCount + 2);
        expect((g.fatSectors - spc) * (ss / 4)).toBeLessThan(Math.floor((sectors - g.reservedSectors - 2 * (g.fatSectors - spc)) / spc) + 2);
        expect(g.dataStartSector % spc).toBe(0);
        expect(g.dataStartSector + g.clusterCount * spc).toBeLessThanOrEqual(sectors);
        expect(g.reservedSectors).toBe(Math.max(32, spc));
        void MIN_CLUSTERS_FAT32;
      }),
      { numRuns: 200 },
    );
  });
});
