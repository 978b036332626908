/**
 * The deflate worker must start both from the TypeScript sources (this test
 * process, under vitest) and from the compiled `dist/` (a plain node process).
 * Compiles src/ with tsc into a temporary directory, runs the compiled qcow2
 * and vmdk sinks with 1 and 3 workers, and checks the bytes equal the ones
 * the sources produce here.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, it } from "vitest";
import { BuildContext } from "../../src/context/index.js";
import { bytesExtent } from "../../src/io/extent.js";
import { pump } from "../../src/io/pump.js";
import { Qcow2Sink } from "../../src/qcow2/index.js";
import { VmdkSink } from "../../src/vmdk/index.js";
import { sha256File, tempDir } from "../helpers/tools.js";
import { fdOut, mixedContent } from "./support.js";

const dir = tempDir("mkdisk-dist-");
afterAll(() => dir.cleanup());
const root = resolve(__dirname, "../..");
const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";
const TOTAL = 6 << 20;

it("compiled dist/ workers give the same bytes as the sources", async () => {
  const extents = [bytesExtent(0, mixedContent(3 << 20, 42)), bytesExtent(5 << 20, mixedContent(100000, 43))];
  const q = join(dir.path, "src.qcow2");
  const v = join(dir.path, "src.vmdk");
  let fd = openSync(q, "w");
  await pump(extents, TOTAL, [new Qcow2Sink(fd, { compress: true, workers: 2 })]);
  closeSync(fd);
  fd = openSync(v, "w");
  await pump(extents, TOTAL, [new VmdkSink(fdOut(fd), { ctx: new BuildContext({ seed: SEED }), workers: 2 })]);
  closeSync(fd);

  const out = join(dir.path, "dist");
  try {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json"), "--outDir", out, "--sourceMap", "false", "--declaration", "false"], { stdio: "pipe" });
  } catch {
    // Type errors elsewhere in the tree still emit; only our files matter here.
  }
  expect(existsSync(join(out, "io/deflate-pool.js"))).toBe(true);
  writeFileSync(join(dir.path, "package.json"), '{"type":"module"}\n');
  symlinkSync(join(root, "node_modules"), join(dir.path, "node_modules"));
  const u = (p: string) => pathToFileURL(join(out, p)).href;
  const script = `
    import { openSync, closeSync, writeSync, readFileSync } from "node:fs";
    import { Qcow2Sink } from ${JSON.stringify(u("qcow2/index.js"))};
    import { VmdkSink } from ${JSON.stringify(u("vmdk/index.js"))};
    import { BuildContext } from ${JSON.stringify(u("context/index.js"))};
    import { bytesExtent } from ${JSON.stringify(u("io/extent.js"))};
    import { pump } from ${JSON.stringify(u("io/pump.js"))};
    const data = JSON.parse(process.argv[1]);
    const extents = data.map(([o, path]) => bytesExtent(o, Uint8Array.from(readFileSync(path))));
    const out = (fd) => ({ write(b) { let d = 0; while (d < b.length) d += writeSync(fd, b, d, b.length - d); } });
    for (const workers of [1, 3]) {
      let fd = openSync(process.argv[2] + "/dist-" + workers + ".qcow2", "w");
      await pump(extents, ${TOTAL}, [new Qcow2Sink(fd, { compress: true, workers })]);
      closeSync(fd);
      fd = openSync(process.argv[2] + "/dist-" + workers + ".vmdk", "w");
      await pump(extents, ${TOTAL}, [new VmdkSink(out(fd), { ctx: new BuildContext({ seed: ${JSON.stringify(SEED)} }), workers })]);
      closeSync(fd);
    }
  `;
  const arg = JSON.stringify(
    extents.map((e, i) => {
      const p = join(dir.path, `extent-${i}.bin`);
      writeFileSync(p, (e.source as { bytes: Uint8Array }).bytes);
      return [e.offsetBytes, p];
    }),
  );
  execFileSync(process.execPath, ["--input-type=module", "-e", script, arg, dir.path], { stdio: "pipe", cwd: dir.path });
  for (const w of [1, 3]) {
    expect(sha256File(join(dir.path, `dist-${w}.qcow2`))).toBe(sha256File(q));
    expect(sha256File(join(dir.path, `dist-${w}.vmdk`))).toBe(sha256File(v));
  }
});
