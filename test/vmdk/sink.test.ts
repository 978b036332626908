/**
 * VMDK streamOptimized writer against its oracle: `qemu-img check`,
 * `qemu-img compare` against RawSink's image of the same extents, and
 * `qemu-img info --output=json`.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { BuildContext } from "../../src/context/index.js";
import { pump } from "../../src/io/pump.js";
import { VmdkSink, type VmdkOptions } from "../../src/vmdk/index.js";
import { sha256File, tempDir } from "../helpers/tools.js";
import { fdOut, fixedCases, mappedDataBytes, nonZeroBytes, qemuImg, sparseDisk, writeRaw, type Case } from "../qcow2/support.js";

const dir = tempDir("mkdisk-vmdk-");
afterAll(() => dir.cleanup());
const ctx = new BuildContext({ seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445" });

let n = 0;
async function writeVmdk(path: string, c: Case, opts: Omit<VmdkOptions, "ctx">): Promise<void> {
  const fd = openSync(path, "w");
  try {
    await pump(c.extents, c.totalBytes, [new VmdkSink(fdOut(fd), { ctx, ...opts })]);
  } finally {
    closeSync(fd);
  }
}

async function buildAndCheck(c: Case, opts: Omit<VmdkOptions, "ctx">, name = `${n++}.vmdk`): Promise<string> {
  const raw = join(dir.path, `${name}.raw`);
  const img = join(dir.path, name);
  await writeRaw(raw, c.extents, c.totalBytes);
  await writeVmdk(img, c, opts);
  const check = qemuImg(["check", "-f", "vmdk", img]);
  if (check.status !== 0) throw new Error(`qemu-img check failed for ${c.name}:\n${check.stdout}\n${check.stderr}`);
  const cmp = qemuImg(["compare", "-f", "raw", "-F", "vmdk", raw, img]);
  if (cmp.status !== 0) throw new Error(`qemu-img compare: ${c.name} ${JSON.stringify(opts)}:\n${cmp.stdout}\n${cmp.stderr}`);
  const info = JSON.parse(qemuImg(["info", "-f", "vmdk", "--output=json", img]).stdout);
  expect(info.format).toBe("vmdk");
  expect(info["virtual-size"]).toBe(c.totalBytes);
  expect(info["cluster-size"]).toBe(65536);
  expect(info["format-specific"].data["create-type"]).toBe("streamOptimized");
  expect(info["format-specific"].data.extents[0].compressed).toBe(true);
  // All-zero grains are left out: qemu-img map's data is exactly the non-zero grains.
  expect(mappedDataBytes("vmdk", img)).toBe(nonZeroBytes(raw, 65536));
  return img;
}

describe("VmdkSink against qemu-img check/compare/info", () => {
  for (const c of fixedCases()) {
    for (const workers of [1, 2]) {
      it(`${c.name} workers=${workers}`, async () => {
        await buildAndCheck(c, { workers });
      });
    }
  }

  it("generated sparse contents (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(sparseDisk, async (c) => {
        await buildAndCheck(c, { workers: 1 });
      }),
      { numRuns: 12, seed: 20240602 },
    );
  });
});

describe("VmdkSink descriptor and determinism", () => {
  it("descriptor: CID from the seed, fixed extent name, qemu geometry, no path or time", async () => {
    const c = fixedCases()[1]!;
    const img = await buildAndCheck(c, { workers: 1, adapterType: "lsilogic" }, "some-name.vmdk");
    const bytes = readFileSync(img);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("KDMV");
    const desc = bytes.subarray(512, 1024 * 2).toString("latin1").replace(/\0+$/, "");
    expect(desc).toContain('createType="streamOptimized"');
    expect(desc).toContain(`RW ${c.totalBytes / 512} SPARSE "disk.vmdk"`);
    expect(desc).toContain('ddb.adapterType = "lsilogic"');
    expect(desc).toContain('ddb.geometry.heads = "255"');
    expect(desc).toContain(`ddb.geometry.cylinders = "${Math.floor(c.totalBytes / 512 / (63 * 255))}"`);
    expect(desc).not.toContain("some-name");
    const cid = /CID=([0-9a-f]{8})\n/.exec(desc)![1];
    const u = ctx.namedUuid("vmdk-cid");
    expect(cid).toBe(Buffer.from(u.subarray(0, 4)).toString("hex"));
    expect(desc).toContain("parentCID=ffffffff");
  });

  it("same SHA-256 across runs, worker counts (1, 2, 4) and output names", async () => {
    const c: Case = { name: "mix", totalBytes: 16 << 20, extents: [...fixedCases()[3]!.extents, ...fixedCases()[2]!.extents.map((e) => ({ ...e, offsetBytes: e.offsetBytes + (8 << 20) }))] };
    const hashes = new Set<string>();
    for (const [workers, name] of [[1, "a.vmdk"], [2, "b.vmdk"], [4, "other-name.vmdk"], [1, "d.vmdk"]] as const) {
      hashes.add(sha256File(await buildAndCheck(c, { workers }, name)));
    }
    expect(hashes.size).toBe(1);
  });

  it("streams to a pipe (sequential writes with backpressure): same bytes as the file", async () => {
    const c = fixedCases()[3]!;
    const file = await buildAndCheck(c, { workers: 2 }, "to-file.vmdk");
    const piped = join(dir.path, "piped.vmdk");
    const child = spawn("sh", ["-c", 'cat > "$1"', "sh", piped], { stdio: ["pipe", "inherit", "inherit"] });
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const out = { write: (b: Uint8Array) => new Promise<void>((res, rej) => child.stdin.write(b, (e) => (e ? rej(e) : res()))) };
    await pump(c.extents, c.totalBytes, [new VmdkSink(out, { ctx, workers: 2 })]);
    child.stdin.end();
    expect(await exited).toBe(0);
    expect(sha256File(piped)).toBe(sha256File(file));
  });
});
