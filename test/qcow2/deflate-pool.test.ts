/**
 * src/io/deflate-pool.ts: results come back in submission order and equal
 * the inline compressor's, whatever the worker count; inflating them (node's
 * zlib, an independent implementation) gives the input back. Blocks that look
 * incompressible are stored, and only those.
 */
import { brotliCompressSync, deflateRawSync, inflateRawSync, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import * as fflate from "fflate";
import { DEFLATE_LEVEL, deflateInline, looksIncompressible, OrderedDeflate, type DeflateFraming } from "../../src/io/deflate-pool.js";
import { mixedContent, pseudoRandom } from "./support.js";

async function run(framing: DeflateFraming, workers: number, blocks: Uint8Array[], maxInFlightBytes?: number): Promise<{ tag: number; out: Buffer; input: Buffer }[]> {
  const got: { tag: number; out: Buffer; input: Buffer }[] = [];
  const od = new OrderedDeflate<number>({ framing, workers, maxInFlightBytes }, (tag, input, out) => {
    got.push({ tag, out: Buffer.from(out), input: Buffer.from(input) });
  });
  try {
    for (let i = 0; i < blocks.length; i++) await od.push(i, blocks[i]!.slice());
    await od.flush();
  } finally {
    await od.close();
  }
  return got;
}

/** Prose-like text from a skewed vocabulary of made-up words: what deflate is for. */
function text(lengthBytes: number, seed: number): Uint8Array {
  const r = pseudoRandom(4 * lengthBytes + 65536, seed);
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  const vocab = Array.from({ length: 3000 }, (_, w) => {
    let word = "";
    for (let k = 0; k < 2 + (r[w]! % 8); k++) word += letters[Math.floor((r[w * 8 + k + 9]! / 256) ** 2 * 26)];
    return word;
  });
  let s = "";
  for (let i = 0; s.length < lengthBytes; i += 3) s += vocab[Math.floor(3000 * ((r[i]! * 256 + r[i + 1]!) / 65536) ** 3)] + (r[i + 2]! % 13 === 0 ? ".\n" : " ");
  return new TextEncoder().encode(s.slice(0, lengthBytes));
}

/** BTYPE of the first block of a raw deflate stream: 0 stored, 1 fixed, 2 dynamic Huffman. */
const firstBlockType = (raw: Uint8Array): number => (raw[0]! >> 1) & 3;

describe("looksIncompressible", () => {
  it("says yes to random bytes and to another compressor's output", () => {
    for (let seed = 1; seed <= 20; seed++) expect(looksIncompressible(pseudoRandom(65536, seed))).toBe(true);
    const zipped = brotliCompressSync(text(1 << 20, 5));
    expect(zipped.length).toBeGreaterThan(4 * 65536);
    for (let at = 0; at + 65536 <= zipped.length; at += 65536) expect(looksIncompressible(zipped.subarray(at, at + 65536))).toBe(true);
    expect(looksIncompressible(pseudoRandom(4096, 7))).toBe(true);
  });

  it("says no where deflate gains: text, repeats of random bytes, tables flatter than random, random with a text head or tail", () => {
    expect(looksIncompressible(text(65536, 1))).toBe(false);
    const r = pseudoRandom(16384, 2);
    const repeats = new Uint8Array(65536);
    for (let at = 0; at < 65536; at += 16384) repeats.set(r, at);
    expect(looksIncompressible(repeats)).toBe(false);
    // Random bytes with 8 KiB of them repeated (a compressed file stored twice):
    // the histogram stays in the random band, the repeat probe sees the copy.
    const twice = pseudoRandom(65536, 6);
    twice.copyWithin(24576, 8192, 16384);
    expect(looksIncompressible(twice)).toBe(false);
    expect(looksIncompressible(Uint8Array.from({ length: 65536 }, (_, i) => i & 0xff))).toBe(false);
    const head = pseudoRandom(65536, 3);
    head.set(text(8192, 3));
    expect(looksIncompressible(head)).toBe(false);
    const tail = pseudoRandom(65536, 4);
    tail.set(text(8192, 4), 65536 - 8192);
    expect(looksIncompressible(tail)).toBe(false);
    for (const b of [repeats, twice, head, tail]) expect(deflateRawSync(b).length).toBeLessThan(b.length - 1024);
  });

  it("leaves blocks under 4 KiB to deflate", () => {
    expect(looksIncompressible(pseudoRandom(4095, 7))).toBe(false);
    expect(looksIncompressible(new Uint8Array(0))).toBe(false);
  });

  it("decides the level: stored (level 0) for incompressible blocks, DEFLATE_LEVEL otherwise", () => {
    const random = pseudoRandom(65536, 9);
    const stored = deflateInline(random, "raw");
    expect(Buffer.from(stored).equals(Buffer.from(fflate.deflateSync(random, { level: 0 })))).toBe(true);
    expect(Buffer.from(stored).equals(Buffer.from(fflate.deflateSync(random, { level: DEFLATE_LEVEL })))).toBe(false);
    expect(firstBlockType(stored)).toBe(0);
    expect(inflateRawSync(stored).equals(Buffer.from(random))).toBe(true);
    const words = text(65536, 9);
    const coded = deflateInline(words, "raw");
    expect(Buffer.from(coded).equals(Buffer.from(fflate.deflateSync(words, { level: DEFLATE_LEVEL })))).toBe(true);
    expect(firstBlockType(coded)).not.toBe(0);
    expect(coded.length).toBeLessThan(words.length / 2);
    expect(inflateSync(deflateInline(random, "zlib")).equals(Buffer.from(random))).toBe(true);
  });
});

describe("OrderedDeflate", () => {
  const blocks = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? pseudoRandom(65536, i + 1) : mixedContent(65536 + (i % 5) * 100, i + 1)));
  for (const framing of ["raw", "zlib"] as const) {
    it(`${framing}: order and bytes do not depend on workers (1, 2, 4), small in-flight bound`, async () => {
      const ref = await run(framing, 1, blocks);
      for (const workers of [2, 4]) {
        const got = await run(framing, workers, blocks, 100_000);
        expect(got.map((g) => g.tag)).toEqual(blocks.map((_, i) => i));
        got.forEach((g, i) => {
          expect(g.out.equals(ref[i]!.out)).toBe(true);
          expect(g.input.equals(Buffer.from(blocks[i]!))).toBe(true);
        });
      }
      ref.forEach((g, i) => {
        expect(g.out.equals(Buffer.from(deflateInline(blocks[i]!, framing)))).toBe(true);
        const back = framing === "raw" ? inflateRawSync(g.out) : inflateSync(g.out);
        expect(back.equals(Buffer.from(blocks[i]!))).toBe(true);
      });
    });
  }

  it("an abandoned pool does not keep the process alive (workers are unref'd when idle)", async () => {
    const od = new OrderedDeflate<number>({ framing: "raw", workers: 2 }, () => undefined);
    await od.push(0, pseudoRandom(4096, 3));
    await od.flush();
    // Not closed on purpose: vitest would hang at exit if the idle worker held a ref.
  });
});
