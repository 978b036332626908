/** Integer codecs: explicit endianness, range guards that throw MkdiskError E_FORMAT (never RangeError or a silent wrap). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { alignDown, alignUp, divCeil, r16be, r16le, r32be, r32le, r64be, r64le, u16be, u16le, u32be, u32le, u64be, u64le, u8w, view } from "../../src/bin/int.js";

type W = (d: DataView, off: number, v: number, name?: string) => void;
const WRITERS: [string, W, number][] = [
  ["u8", u8w, 8], ["u16le", u16le, 16], ["u16be", u16be, 16], ["u32le", u32le, 32], ["u32be", u32be, 32], ["u64le", u64le, 64], ["u64be", u64be, 64],
];

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!(e instanceof MkdiskError)) return `not a MkdiskError: ${(e as Error)?.constructor?.name} ${(e as Error)?.message}`;
    return e.code;
  }
  return "no error";
}

describe("integer writers", () => {
  it("out-of-range, negative, fractional and unsafe values throw E_FORMAT with the field name", () => {
    const d = view(new Uint8Array(8));
    for (const [name, w, bits] of WRITERS) {
      const bad = [-1, 0.5, NaN, Infinity, -0, 2 ** 53, bits < 53 ? 2 ** bits : Number.MAX_VALUE];
      for (const v of bad.filter((x) => !Object.is(x, -0))) expect(codeOf(() => w(d, 0, v, `T.${name}`)), `${name}(${v})`).toBe("E_FORMAT");
      try {
        w(d, 0, -1, `Thing.field at 0x10`);
      } catch (e) {
        expect((e as MkdiskError).message).toContain("Thing.field at 0x10");
      }
    }
  });

  it("property: any value outside the field's range throws E_FORMAT; any value inside round-trips", () => {
    const d = view(new Uint8Array(16));
    fc.assert(
      fc.property(fc.constantFrom(...WRITERS), fc.oneof(fc.double(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.maxSafeInteger()), ([name, w, bits], v) => {
        const ok = Number.isSafeInteger(v) && v >= 0 && (bits >= 53 || v < 2 ** bits);
        if (!ok) {
          expect(codeOf(() => w(d, 3, v)), `${name}(${v})`).toBe("E_FORMAT");
          return;
        }
        w(d, 3, v);
        const back = { u8: () => d.getUint8(3), u16le: () => r16le(d, 3), u16be: () => r16be(d, 3), u32le: () => r32le(d, 3), u32be: () => r32be(d, 3), u64le: () => r64le(d, 3), u64be: () => r64be(d, 3) }[name]!();
        expect(back === v, `${name}(${v}) read back ${back}`).toBe(true); // -0 writes as 0
      }),
      { numRuns: 2000 },
    );
  });

  it("byte order is explicit", () => {
    const b = new Uint8Array(8);
    const d = view(b);
    u32le(d, 0, 0x11223344);
    expect([...b.subarray(0, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    u32be(d, 0, 0x11223344);
    expect([...b.subarray(0, 4)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    u64le(d, 0, 0x0011223344556677);
    expect([...b]).toEqual([0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00]);
    u64be(d, 0, 0x0011223344556677);
    expect([...b]).toEqual([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    u16le(d, 0, 0xaa55);
    expect([...b.subarray(0, 2)]).toEqual([0x55, 0xaa]);
  });

  it("views honour byteOffset (a subarray is not the whole buffer)", () => {
    const big = new Uint8Array(32);
    const sub = big.subarray(8, 16);
    u32le(view(sub), 0, 0xdeadbeef);
    expect(r32le(view(big), 8)).toBe(0xdeadbeef);
  });

  it("64-bit reads beyond 2^53 throw E_IMAGE, not a rounded number", () => {
    const b = new Uint8Array(8).fill(0xff);
    expect(codeOf(() => r64le(view(b), 0))).toBe("E_IMAGE");
    expect(codeOf(() => r64be(view(b), 0))).toBe("E_IMAGE");
  });

  it("divCeil, alignUp, alignDown", () => {
    expect(divCeil(0, 4096)).toBe(0);
    expect(divCeil(1, 4096)).toBe(1);
    expect(alignUp(4097, 4096)).toBe(8192);
    expect(alignDown(8191, 4096)).toBe(4096);
    expect(alignUp(2 ** 50 + 1, 4096)).toBe(2 ** 50 + 4096);
  });
});
