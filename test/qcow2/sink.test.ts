/**
 * qcow2 writer against its oracle: `qemu-img check` (no errors, no leaks),
 * `qemu-img compare` against the raw image RawSink makes from the same
 * extents, and `qemu-img info --output=json` for the header facts.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Qcow2Sink, type Qcow2Options } from "../../src/qcow2/index.js";
import { sha256File, tempDir } from "../helpers/tools.js";
import { fixedCases, mappedDataBytes, nonZeroBytes, qemuImg, sparseDisk, writeImage, writeRaw, type Case } from "./support.js";
import { join } from "node:path";

const dir = tempDir("mkdisk-qcow2-");
afterAll(() => dir.cleanup());

let n = 0;
async function buildAndCheck(c: Case, opts: Qcow2Options): Promise<string> {
  const id = n++;
  const raw = join(dir.path, `${id}.raw`);
  const img = join(dir.path, `${id}.qcow2`);
  await writeRaw(raw, c.extents, c.totalBytes);
  await writeImage(img, c.extents, c.totalBytes, (fd) => new Qcow2Sink(fd, opts));
  const check = qemuImg(["check", "-f", "qcow2", "--output=json", img]);
  if (check.status !== 0) throw new Error(`qemu-img check failed for ${c.name} ${JSON.stringify(opts)}:\n${check.stdout}\n${check.stderr}`);
  const report = JSON.parse(check.stdout);
  expect(report["check-errors"]).toBe(0);
  expect(report.leaks ?? 0).toBe(0);
  expect(report.corruptions ?? 0).toBe(0);
  const cmp = qemuImg(["compare", "-f", "raw", "-F", "qcow2", raw, img]);
  if (cmp.status !== 0) throw new Error(`qemu-img compare: ${c.name} ${JSON.stringify(opts)}:\n${cmp.stdout}\n${cmp.stderr}`);
  const info = JSON.parse(qemuImg(["info", "-f", "qcow2", "--output=json", img]).stdout);
  expect(info.format).toBe("qcow2");
  expect(info["virtual-size"]).toBe(c.totalBytes);
  expect(info["cluster-size"]).toBe(opts.clusterBytes ?? 65536);
  expect(info["format-specific"].data.compat).toBe("1.1");
  expect(info["format-specific"].data["refcount-bits"]).toBe(16);
  // A clean image with no optional features: not dirty, no lazy refcounts, not corrupt.
  expect(info["dirty-flag"]).toBe(false);
  expect(info["format-specific"].data["lazy-refcounts"]).toBe(false);
  expect(info["format-specific"].data.corrupt).toBe(false);
  // All-zero clusters are left out, compressed or not: qemu-img map's data is exactly the non-zero clusters.
  expect(mappedDataBytes("qcow2", img)).toBe(nonZeroBytes(raw, opts.clusterBytes ?? 65536));
  if (opts.compress && (opts.clusterBytes ?? 65536) <= 65536 && c.name.startsWith("all data")) {
    // The random MiB stays uncompressed, the rest is compressed: qemu-img map shows
    // compressed data without a host offset.
    const map = JSON.parse(qemuImg(["map", "-f", "qcow2", "--output=json", img]).stdout) as { data: boolean; offset?: number }[];
    expect(map.some((m) => m.data && m.offset === undefined)).toBe(true);
    expect(map.some((m) => m.data && m.offset !== undefined)).toBe(true);
  }
  return img;
}

const variants: Qcow2Options[] = [
  { compress: false, workers: 1 },
  { compress: true, workers: 1 },
  { compress: true, workers: 2 },
  { clusterBytes: 512, compress: true, workers: 1 },
  { clusterBytes: 4096, compress: false, workers: 1 },
  { clusterBytes: 2 << 20, compress: true, workers: 1 },
];

describe("Qcow2Sink against qemu-img check/compare/info", () => {
  for (const c of fixedCases()) {
    for (const opts of variants) {
      it(`${c.name} ${JSON.stringify(opts)}`, async () => {
        await buildAndCheck(c, opts);
      });
    }
  }

  it("generated sparse contents (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(sparseDisk, fc.constantFrom(512, 4096, 65536), fc.boolean(), async (c, clusterBytes, compress) => {
        await buildAndCheck(c, { clusterBytes, compress, workers: 1 });
      }),
      { numRuns: 12, seed: 20240601 },
    );
  });
});

describe("Qcow2Sink determinism", () => {
  it("same SHA-256 across runs and worker counts (1, 2, 4)", async () => {
    const c = fixedCases()[3]!;
    const big: Case = { ...c, totalBytes: 16 << 20, extents: [...c.extents, ...fixedCases()[2]!.extents.map((e) => ({ ...e, offsetBytes: e.offsetBytes + (8 << 20) }))] };
    for (const compress of [false, true]) {
      const hashes = new Set<string>();
      for (const workers of [1, 2, 4, 1, 4]) hashes.add(sha256File(await buildAndCheck(big, { compress, workers })));
      expect(hashes.size).toBe(1);
    }
  });
});

describe("qemu's 32 MiB L1 limit", () => {
  it("512-byte clusters: a 128 GiB disk opens in qemu-img; 129 GiB is refused, as qemu-img create refuses it, naming a cluster size that works", async () => {
    const G = 2 ** 30;
    const data = [{ offsetBytes: 0, lengthBytes: 4096, source: { kind: "bytes" as const, bytes: new Uint8Array(4096).fill(7) } }];
    const ok = join(dir.path, "l1-128g.qcow2");
    await writeImage(ok, data, 128 * G, (fd) => new Qcow2Sink(fd, { clusterBytes: 512, workers: 1 }));
    const check = qemuImg(["check", "-f", "qcow2", "--output=json", ok]);
    expect(check.status, check.stderr).toBe(0);
    expect(qemuImg(["create", "-f", "qcow2", "-o", "cluster_size=512", join(dir.path, "q.qcow2"), String(129 * G)]).status).not.toBe(0);
    await expect(writeImage(join(dir.path, "l1-129g.qcow2"), data, 129 * G, (fd) => new Qcow2Sink(fd, { clusterBytes: 512, workers: 1 }))).rejects.toThrow(
      /needs an L1 table of \d+ bytes, more than the 32 MiB qemu opens: use a cluster size of at least 1024 bytes/,
    );
  });
});
