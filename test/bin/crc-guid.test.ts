/** CRC known vectors; GUID mixed-endian conversion. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32, crc32c, crc32cRaw } from "../../src/bin/crc.js";
import { MkdiskError } from "../../src/bin/errors.js";
import { formatUuid, guidFromGptBytes, guidToGptBytes, parseUuid } from "../../src/bin/guid.js";
import { utf16le, utf8 } from "../../src/bin/text.js";

describe("crc", () => {
  it("known vectors (the CRC catalogue's check values)", () => {
    expect(crc32c(utf8("123456789"))).toBe(0xe3069283);
    expect(crc32(utf8("123456789"))).toBe(0xcbf43926);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xFF
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e); // RFC 3720 B.4: incrementing
  });

  const bitwise = (data: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of data) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };

  it("a 4 KiB block (the 32-bit word path) at each byte offset agrees with a bitwise CRC32C", () => {
    const buf = Uint8Array.from({ length: 4096 + 8 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let shift = 0; shift < 8; shift++) {
      const block = buf.subarray(shift, shift + 4096);
      expect(crc32c(block)).toBe(bitwise(block));
      expect(crc32cRaw(0xffffffff, buf, shift, shift + 4096)).toBe((bitwise(block) ^ 0xffffffff) >>> 0);
    }
  });

  it("property: slicing-by-8 agrees with a bitwise CRC32C at every alignment and in pieces", () => {
    fc.assert(
      // Up to 2000 bytes at any byte offset into its buffer: short inputs take
      // the byte path, long ones the 32-bit word path after an aligning head.
      fc.property(fc.uint8Array({ maxLength: 2000, size: "max" }), fc.nat(7), fc.nat(), (bytes, shift, cutSeed) => {
        const data = new Uint8Array(bytes.length + shift).subarray(shift);
        data.set(bytes);
        expect(crc32c(data)).toBe(bitwise(data));
        const cut = data.length ? cutSeed % data.length : 0;
        const raw = crc32cRaw(crc32cRaw(0xffffffff, data, 0, cut), data, cut);
        expect((raw ^ 0xffffffff) >>> 0).toBe(bitwise(data));
      }),
      { numRuns: 300 },
    );
  });
});

describe("GUID", () => {
  it("GPT mixed-endian form of a known GUID (UEFI appendix A: first three fields little-endian)", () => {
    const esp = parseUuid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    expect(Buffer.from(guidToGptBytes(esp)).toString("hex")).toBe("28732ac11ff8d211ba4b00a0c93ec93b");
  });

  it("property: string → bytes → GPT bytes → bytes → string is the identity", () => {
    fc.assert(
      fc.property(fc.uuid({ version: [1, 2, 3, 4, 5, 6, 7, 8] }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (s, raw) => {
        expect(formatUuid(guidFromGptBytes(guidToGptBytes(parseUuid(s))))).toBe(s);
        expect(guidFromGptBytes(guidToGptBytes(raw))).toEqual(raw);
        expect(parseUuid(formatUuid(raw))).toEqual(raw); // any 16 bytes, RFC variant or not
      }),
      { numRuns: 300 },
    );
  });

  it("bad UUID strings give E_LAYOUT naming the place", () => {
    for (const s of ["", "0e9a6fe0-68f6-408c-bbeb-136054d2044", "0e9a6fe068f6408cbbeb136054d20445", "zz9a6fe0-68f6-408c-bbeb-136054d20445"]) {
      let err: unknown;
      try {
        parseUuid(s, "partitions[3].uuid");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MkdiskError);
      expect((err as MkdiskError).code).toBe("E_LAYOUT");
      expect((err as MkdiskError).message).toContain("partitions[3].uuid");
    }
  });
});

describe("text", () => {
  it("utf16le counts code units (a surrogate pair is two)", () => {
    expect([...utf16le("A€")]).toEqual([0x41, 0x00, 0xac, 0x20]);
    expect(utf16le("😀").length).toBe(4);
  });
});
