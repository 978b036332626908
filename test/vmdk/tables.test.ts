/** Properties of the VMDK table and header codecs. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeSectorTable, encodeSectorTableFast, encodeSectorTableReadable } from "../../src/vmdk/tables.js";
import { decodeGdOffset, encodeStreamHeader, SparseExtentHeader } from "../../src/vmdk/header.js";
import { formatDdbUuid, vmdkGeometry } from "../../src/vmdk/descriptor.js";

describe("VMDK grain table / directory codecs", () => {
  it("the fast codec writes the same bytes as the struct-table codec", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 1100 }), (sectors) => {
        const fast = encodeSectorTableFast(Uint32Array.from(sectors));
        expect(Buffer.from(fast).equals(Buffer.from(encodeSectorTableReadable(sectors)))).toBe(true);
        expect(fast.length % 512).toBe(0);
        expect(decodeSectorTable(fast, sectors.length)).toEqual(sectors);
      }),
      { numRuns: 300 },
    );
  });
});

describe("VMDK header", () => {
  it("first header says GD_AT_END, footer holds the real GD sector", () => {
    const first = encodeStreamHeader({ capacitySectors: 8192, descriptorSectors: 1, overHeadSectors: 2, gdSector: "end" });
    expect(Buffer.from(first.subarray(0, 4)).toString("latin1")).toBe("KDMV");
    expect(decodeGdOffset(SparseExtentHeader.decode(first).gdOffset)).toBe("end");
    const footer = encodeStreamHeader({ capacitySectors: 8192, descriptorSectors: 1, overHeadSectors: 2, gdSector: 12345 });
    const h = SparseExtentHeader.decode(footer);
    expect(decodeGdOffset(h.gdOffset)).toBe(12345);
    expect(h.version).toBe(3);
    expect(h.flags).toBe(0x30001);
    expect(h.compressAlgorithm).toBe(1);
    expect([h.singleEndLineChar, h.nonEndLineChar, h.doubleEndLineChar1, h.doubleEndLineChar2]).toEqual([0x0a, 0x20, 0x0d, 0x0a]);
  });

  it("geometry as qemu computes it; ddb.uuid in VMware's form", () => {
    expect(vmdkGeometry(8 << 21, "ide")).toEqual({ cylinders: Math.floor((8 << 21) / (16 * 63)), heads: 16, sectors: 63 });
    expect(vmdkGeometry(8 << 21, "lsilogic").heads).toBe(255);
    expect(formatDdbUuid(Uint8Array.from({ length: 16 }, (_, i) => i))).toBe("00 01 02 03 04 05 06 07-08 09 0a 0b 0c 0d 0e 0f");
  });
});
