/**
 * src/io/deflate-pool.ts: results come back in submission order and equal
 * the inline compressor's, whatever the worker count; inflating them (node's
 * zlib, an independent implementation) gives the input back.
 */
import { inflateRawSync, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { deflateInline, OrderedDeflate, type DeflateFraming } from "../../src/io/deflate-pool.js";
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
