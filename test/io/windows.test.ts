/**
 * windows(): the extent stream cut into fixed windows. Checked against a
 * reference image built by placing every extent directly: each yielded window
 * must equal the reference at its offset (nothing left over from the previous
 * window in the gaps the buffer reuse could leak), windows no extent touches
 * are not yielded, and a short file reads as zeros past its end.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bytesExtent, fileExtent, type Extent } from "../../src/io/extent.js";
import { windows } from "../../src/io/windows.js";
import { tempDir } from "../helpers/tools.js";

describe("windows", () => {
  const t = tempDir("mkdisk-windows-");
  afterAll(() => t.cleanup());
  const file = join(t.path, "src.bin");
  const fileBytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) % 251 || 1); // no zero byte
  writeFileSync(file, fileBytes);

  /** Extents from [gap, length, kind, fileOffset] tuples, laid end to end after their gaps. */
  function build(specs: [number, number, number, number][], total: number): { extents: Extent[]; want: Uint8Array } {
    const want = new Uint8Array(total);
    const extents: Extent[] = [];
    let at = 0;
    for (const [gap, len, kind, fileOff] of specs) {
      const off = at + gap;
      if (off + len > total) break;
      if (kind === 0) {
        const bytes = Uint8Array.from({ length: len }, (_, i) => ((off + i) % 255) + 1);
        extents.push(bytesExtent(off, bytes));
        want.set(bytes, off);
      } else if (kind === 1) {
        extents.push(fileExtent(off, len, file, fileOff));
        // Past the file's end: the extent reads zeros only when the reader is
        // told the file is shorter; windows() requires the bytes to exist.
        want.set(fileBytes.subarray(fileOff, fileOff + len), off);
      } else {
        extents.push({ offsetBytes: off, lengthBytes: len, source: { kind: "zero" } });
      }
      at = off + len;
    }
    return { extents, want };
  }

  it("every window equals the directly placed bytes; untouched windows are skipped", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(700), fc.integer({ min: 1, max: 900 }), fc.integer({ min: 0, max: 2 }), fc.nat(2000)), { maxLength: 25 }),
        fc.constantFrom(512, 1024, 4096),
        (specs, windowBytes) => {
          const total = 9000;
          const fixed = specs.map(([g, l, k, o]) => [g, k === 1 ? Math.min(l, 3000 - o) || 1 : l, k, Math.min(o, 2999)] as [number, number, number, number]);
          const { extents, want } = build(fixed, total);
          const got = new Uint8Array(total);
          const seen: number[] = [];
          for (const w of windows(extents, windowBytes, total)) {
            expect(w.offsetBytes % windowBytes).toBe(0);
            expect(w.data.length).toBe(Math.min(windowBytes, total - w.offsetBytes));
            got.set(w.data, w.offsetBytes);
            expect(Buffer.from(w.data).equals(Buffer.from(want.subarray(w.offsetBytes, w.offsetBytes + w.data.length)))).toBe(true);
            seen.push(w.offsetBytes / windowBytes);
          }
          expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
          const touched = new Set<number>();
          for (const e of extents) {
            if (e.source.kind === "zero") continue;
            for (let w = Math.floor(e.offsetBytes / windowBytes); w * windowBytes < e.offsetBytes + e.lengthBytes; w++) touched.add(w);
          }
          expect(seen).toEqual([...touched].sort((a, b) => a - b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a file removed after the scan: E_TREE saying so (not a permissions hint)", () => {
    const gone = join(t.path, "gone.bin");
    writeFileSync(gone, "x");
    const e = fileExtent(0, 1, gone);
    rmSync(gone);
    expect(() => [...windows([e], 4096, 4096)]).toThrow(expect.objectContaining({ code: "E_TREE", message: expect.stringMatching(/gone\.bin: cannot open for reading: it was removed or renamed after the rootfs was scanned/) }));
  });

  it("overlapping or out-of-order extents are E_INTERNAL", () => {
    const a = bytesExtent(100, new Uint8Array(50).fill(1));
    expect(() => [...windows([a, bytesExtent(120, new Uint8Array(10).fill(2))], 4096, 8192)]).toThrow(/overlaps/);
    expect(() => [...windows([bytesExtent(5000, new Uint8Array(10).fill(1)), a], 4096, 8192)]).toThrow(/out of order/);
  });
});
