/**
 * qcow2 and VMDK readers. Oracle: images written by qemu-img convert from a
 * raw image must read back to that raw image byte for byte; our own images
 * too. Corrupted metadata must raise MkdiskError (E_IMAGE/E_UNSUPPORTED),
 * never a RangeError.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { MkdiskError } from "../../src/bin/errors.js";
import { BuildContext } from "../../src/context/index.js";
import { pump } from "../../src/io/pump.js";
import { RawSink } from "../../src/io/raw.js";
import type { PlannedRegion } from "../../src/io/extent.js";
import { openQcow2, Qcow2Sink } from "../../src/qcow2/index.js";
import { openVmdk, VmdkSink } from "../../src/vmdk/index.js";
import { runOk, sha256File, tempDir } from "../helpers/tools.js";
import { fdOut, fileSource, fixedCases, writeImage, writeRaw } from "./support.js";

const dir = tempDir("mkdisk-reader-");
afterAll(() => dir.cleanup());
const ctx = new BuildContext({ seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445" });

async function toRaw(open: (src: ReturnType<typeof fileSource>) => PlannedRegion, image: string, out: string): Promise<number> {
  const src = fileSource(image);
  try {
    const region = open(src);
    const fd = openSync(out, "w");
    try {
      await pump(region.extents(), region.sizeBytes, [new RawSink(fd)]);
    } finally {
      closeSync(fd);
    }
    return region.sizeBytes;
  } finally {
    src.close();
  }
}

const c = fixedCases()[4]!; // odd virtual size, mixed data
const big = fixedCases()[5]!; // several L2 tables / grain tables

describe("readers on qemu-img's images", () => {
  for (const k of [c, big]) {
    it(`qcow2 (plain, compressed, 4 KiB clusters) and vmdk (streamOptimized, monolithicSparse): ${k.name}`, async () => {
      const raw = join(dir.path, "src.raw");
      await writeRaw(raw, k.extents, k.totalBytes);
      const want = sha256File(raw);
      const variants: [string, string[], (s: ReturnType<typeof fileSource>) => PlannedRegion][] = [
        ["q1.qcow2", ["-O", "qcow2"], openQcow2],
        ["q2.qcow2", ["-c", "-O", "qcow2"], openQcow2],
        ["q3.qcow2", ["-O", "qcow2", "-o", "cluster_size=4096,compat=0.10"], openQcow2],
        ["v1.vmdk", ["-O", "vmdk", "-o", "subformat=streamOptimized"], openVmdk],
        ["v2.vmdk", ["-O", "vmdk", "-o", "subformat=monolithicSparse"], openVmdk],
      ];
      for (const [name, args, open] of variants) {
        const img = join(dir.path, name);
        runOk("qemu-img", ["convert", "-f", "raw", ...args, raw, img]);
        const back = join(dir.path, name + ".raw");
        expect(await toRaw(open, img, back)).toBe(k.totalBytes);
        expect(sha256File(back), name).toBe(want);
      }
    });
  }
});

describe("readers on images qemu changed in place", () => {
  it("zero flags over allocated qcow2 clusters and zeroed VMDK grains read as zeros; zstd qcow2 is refused", async () => {
    const raw = join(dir.path, "z.raw");
    await writeRaw(raw, c.extents, c.totalBytes);
    // What the disk holds once its first 64 KiB are written with zeros.
    const wantBytes = readFileSync(raw);
    wantBytes.fill(0, 0, 65536);
    const zeroed = join(dir.path, "z-want.raw");
    writeFileSync(zeroed, wantBytes);
    const want = sha256File(zeroed);
    expect(want).not.toBe(sha256File(raw)); // the range held data
    for (const [name, fmt, opts, open] of [
      ["zf.qcow2", "qcow2", [], openQcow2],
      ["zg.vmdk", "vmdk", ["-o", "subformat=monolithicSparse,zeroed_grain=on"], openVmdk],
    ] as const) {
      const img = join(dir.path, name);
      runOk("qemu-img", ["convert", "-f", "raw", "-O", fmt, ...opts, raw, img]);
      // write -z without -u: qcow2 keeps the cluster allocated and sets its zero flag; VMDK marks the grain zeroed.
      runOk("qemu-io", ["-f", fmt, "-c", "write -z 0 64k", img]);
      const back = join(dir.path, name + ".raw");
      await toRaw(open, img, back);
      expect(sha256File(back), name).toBe(want);
    }
    const map = JSON.parse(runOk("qemu-img", ["map", "-f", "qcow2", "--output=json", join(dir.path, "zf.qcow2")])) as { start: number; zero: boolean; offset?: number }[];
    expect(map.some((m) => m.start === 0 && m.zero && m.offset !== undefined), "the zeroed qcow2 cluster keeps its host cluster").toBe(true);

    const zstd = join(dir.path, "zstd.qcow2");
    runOk("qemu-img", ["create", "-f", "qcow2", "-o", "compression_type=zstd", zstd, "1M"]);
    const src = fileSource(zstd);
    try {
      expect(() => openQcow2(src)).toThrow(expect.objectContaining({ code: "E_UNSUPPORTED" }));
    } finally {
      src.close();
    }
  });
});

describe("qcow2 files larger than 2 GiB and empty disks", () => {
  it("host offsets at and above 2 GiB (and above 4 GiB) read their own data; a 0-byte disk opens", async () => {
    // Metadata preallocation puts every cluster at its guest offset in the file: data written at 3 GiB
    // and 6 GiB lives at host offsets with bit 31 of the low word set.
    const img = join(dir.path, "prealloc.qcow2");
    runOk("qemu-img", ["create", "-f", "qcow2", "-o", "preallocation=metadata", img, "8G"]);
    runOk("qemu-io", ["-f", "qcow2", "-c", "write -P 0xaa 3G 64k", "-c", "write -P 0x55 6G 64k", img]);
    const map = JSON.parse(runOk("qemu-img", ["map", "-f", "qcow2", "--output=json", img])) as { start: number; data: boolean; offset?: number }[];
    expect(map.some((m) => m.data && m.start === 3 * 2 ** 30 && m.offset! >= 2 ** 31), "the data lies past 2 GiB in the file").toBe(true);
    const src = fileSource(img);
    try {
      const region = openQcow2(src);
      const seen = new Map<number, number>();
      for (const e of region.extents()) {
        if (e.source.kind !== "bytes") continue;
        const b = e.source.bytes;
        for (let k = 0; k < b.length; k += 4096) if (b[k] !== 0) seen.set(e.offsetBytes + k, b[k]);
      }
      expect(seen.get(3 * 2 ** 30)).toBe(0xaa);
      expect(seen.get(6 * 2 ** 30)).toBe(0x55);
      expect(seen.size).toBe(32); // exactly the two 64 KiB writes, 16 blocks each
    } finally {
      src.close();
    }
    const empty = join(dir.path, "empty.qcow2");
    runOk("qemu-img", ["create", "-f", "qcow2", empty, "0"]);
    const e = fileSource(empty);
    try {
      expect(openQcow2(e).sizeBytes).toBe(0);
    } finally {
      e.close();
    }
  }, 120_000);
});

describe("readers on our own images", () => {
  it("qcow2 and vmdk round trip", async () => {
    const raw = join(dir.path, "own.raw");
    await writeRaw(raw, big.extents, big.totalBytes);
    for (const compress of [false, true]) {
      const img = join(dir.path, `own-${compress}.qcow2`);
      await writeImage(img, big.extents, big.totalBytes, (fd) => new Qcow2Sink(fd, { compress, workers: 1 }));
      await toRaw(openQcow2, img, img + ".raw");
      expect(sha256File(img + ".raw")).toBe(sha256File(raw));
    }
    const v = join(dir.path, "own.vmdk");
    await writeImage(v, big.extents, big.totalBytes, (fd) => new VmdkSink(fdOut(fd), { ctx, workers: 1 }));
    await toRaw(openVmdk, v, v + ".raw");
    expect(sha256File(v + ".raw")).toBe(sha256File(raw));
  });
});

async function expectCoded(open: (s: ReturnType<typeof fileSource>) => PlannedRegion, path: string): Promise<void> {
  const src = fileSource(path);
  try {
    const r = open(src);
    for (const e of r.extents()) void e;
  } catch (e) {
    if (!(e instanceof MkdiskError)) throw e;
    expect(["E_IMAGE", "E_UNSUPPORTED"]).toContain(e.code);
  } finally {
    src.close();
  }
}

describe("random access readAt", () => {
  it("equals the raw image for random ranges (qcow2 compressed, qemu vmdk, our vmdk)", async () => {
    const raw = join(dir.path, "ra.raw");
    await writeRaw(raw, big.extents, big.totalBytes);
    const rawBytes = readFileSync(raw);
    const q = join(dir.path, "ra.qcow2");
    await writeImage(q, big.extents, big.totalBytes, (fd) => new Qcow2Sink(fd, { compress: true, workers: 1 }));
    const v = join(dir.path, "ra.vmdk");
    await writeImage(v, big.extents, big.totalBytes, (fd) => new VmdkSink(fdOut(fd), { ctx, workers: 1 }));
    const qv = join(dir.path, "ra-qemu.vmdk");
    runOk("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, qv]);
    const srcs = [fileSource(q), fileSource(v), fileSource(qv)];
    const imgs = [openQcow2(srcs[0]!), openVmdk(srcs[1]!), openVmdk(srcs[2]!)];
    try {
      fc.assert(
        fc.property(fc.nat({ max: big.totalBytes - 1 }), fc.nat({ max: 300000 }), (off, len) => {
          const n = Math.min(len, big.totalBytes - off);
          for (const img of imgs) expect(Buffer.from(img.readAt(off, n)).equals(rawBytes.subarray(off, off + n))).toBe(true);
        }),
        { numRuns: 60 },
      );
    } finally {
      for (const s of srcs) s.close();
    }
  });
});

describe("readers on corrupted images", () => {
  it("bad magic is E_IMAGE / E_UNSUPPORTED with a place", async () => {
    const img = join(dir.path, "bad.qcow2");
    await writeImage(img, c.extents, c.totalBytes, (fd) => new Qcow2Sink(fd, { workers: 1 }));
    const b = readFileSync(img);
    b[0] ^= 0xff;
    writeFileSync(img, b);
    const src = fileSource(img);
    expect(() => openQcow2(src)).toThrow(/Qcow2Header.magic/);
    try {
      openQcow2(src);
    } catch (e) {
      expect((e as MkdiskError).code).toBe("E_IMAGE");
    }
    src.close();
  });

  it("random metadata corruption gives a coded error or valid data, never a RangeError", async () => {
    const q = join(dir.path, "fuzz-src.qcow2");
    const v = join(dir.path, "fuzz-src.vmdk");
    await writeImage(q, big.extents, big.totalBytes, (fd) => new Qcow2Sink(fd, { compress: true, workers: 1 }));
    await writeImage(v, big.extents, big.totalBytes, (fd) => new VmdkSink(fdOut(fd), { ctx, workers: 1 }));
    const qb = readFileSync(q);
    const vb = readFileSync(v);
    // Metadata areas: qcow2 header + trailing tables; vmdk header + trailing GT/GD/footer.
    const qMeta = [...Array(128).keys(), ...Array.from({ length: 8192 }, (_, i) => qb.length - 8192 * 2 + i)];
    const vMeta = [...Array(128).keys(), ...Array.from({ length: 4096 }, (_, i) => vb.length - 4096 + i)];
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), async (isQ, flips) => {
        const b = Buffer.from(isQ ? qb : vb);
        const meta = isQ ? qMeta : vMeta;
        for (const [i, x] of flips) b[meta[i % meta.length]!] ^= x;
        const p = join(dir.path, isQ ? "fuzz.qcow2" : "fuzz.vmdk");
        writeFileSync(p, b);
        await expectCoded(isQ ? openQcow2 : openVmdk, p);
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});
