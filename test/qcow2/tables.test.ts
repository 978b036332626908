/** Properties of the qcow2 table codecs: fast == readable, decode(encode(x)) == x. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compressedAdditionalSectors, compressedOffsetBits, decodeL2Entry, encodeL2Entry, encodeL2TableFast, encodeL2TableReadable, type L2Entry } from "../../src/qcow2/tables.js";
import { refcountLayout, refcountsPerBlock } from "../../src/qcow2/plan.js";
import { encodeHeaderCluster, Qcow2Header } from "../../src/qcow2/header.js";

const clusterBits = fc.integer({ min: 9, max: 21 });
function entry(bits: number): fc.Arbitrary<L2Entry> {
  const x = compressedOffsetBits(bits);
  return fc.oneof(
    fc.constant<L2Entry>({ kind: "unallocated" }),
    fc.constant<L2Entry>({ kind: "zero" }),
    fc.integer({ min: 1, max: 2 ** (53 - bits) - 1 }).map((c): L2Entry => ({ kind: "standard", hostOffsetBytes: c * 2 ** bits, copied: true })),
    fc
      .record({ off: fc.integer({ min: 0, max: Math.min(2 ** x, 2 ** 53) - 1 }), sectors: fc.integer({ min: 0, max: 2 ** (62 - x) - 1 }) })
      .map((r): L2Entry => ({ kind: "compressed", hostOffsetBytes: r.off, additionalSectors: r.sectors })),
  );
}

describe("qcow2 L2 codecs", () => {
  it("the fast table codec writes the same bytes as the readable one", () => {
    fc.assert(
      fc.property(clusterBits.chain((bits) => fc.tuple(fc.constant(bits), fc.array(entry(bits), { maxLength: 64 }))), ([bits, entries]) => {
        expect(Buffer.from(encodeL2TableFast(entries, bits)).equals(Buffer.from(encodeL2TableReadable(entries, bits)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("decode(encode(e)) == e", () => {
    fc.assert(
      fc.property(clusterBits.chain((bits) => fc.tuple(fc.constant(bits), entry(bits))), ([bits, e]) => {
        expect(decodeL2Entry(encodeL2Entry(e, bits), bits)).toEqual(e);
      }),
      { numRuns: 500 },
    );
  });

  it("compressed descriptor: known vector for 64 KiB clusters (x = 54)", () => {
    expect(compressedOffsetBits(16)).toBe(54);
    // 1000 bytes at host offset 0x10100: sectors 0x80..0x82, two additional.
    expect(compressedAdditionalSectors(0x10100, 1000)).toBe(2);
    expect(encodeL2Entry({ kind: "compressed", hostOffsetBytes: 0x10100, additionalSectors: 2 }, 16)).toBe((1n << 62n) | (2n << 54n) | 0x10100n);
  });
});

describe("qcow2 refcount layout", () => {
  it("refcount blocks cover every cluster including themselves, minimally", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000_000 }), fc.constantFrom(512, 4096, 65536, 2 << 20), (used, C) => {
        const { tableClusters, blockCount } = refcountLayout(used, C);
        const total = used + tableClusters + blockCount;
        expect(blockCount * refcountsPerBlock(C)).toBeGreaterThanOrEqual(total);
        expect(tableClusters * (C / 8)).toBeGreaterThanOrEqual(blockCount);
        expect((blockCount - 1) * refcountsPerBlock(C)).toBeLessThan(total);
      }),
    );
  });
});

describe("qcow2 header", () => {
  it("encodes every byte of cluster 0 (no stale bytes) and round-trips", () => {
    const c = encodeHeaderCluster({ clusterBits: 16, virtualSizeBytes: 1 << 30, l1Size: 2, l1TableOffsetBytes: 0x30000, refcountTableOffsetBytes: 0x40000, refcountTableClusters: 1 });
    expect(c.length).toBe(65536);
    expect(Buffer.from(c.subarray(0, 4)).toString("latin1")).toBe("QFI\xfb");
    const h = Qcow2Header.decode(c);
    expect(h.version).toBe(3);
    expect(h.header_length).toBe(104);
    expect(h.refcount_order).toBe(4);
    expect(c.subarray(104).every((b) => b === 0)).toBe(true);
  });
});
