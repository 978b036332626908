/**
 * No clock reaches a package: the compiled sources (tsc into a temporary
 * directory) build the OVA and both boxes in a plain node process, once as
 * is and twice under `faketime` (Debian's libfaketime) at other system times;
 * every run must give the SHA-256 this test process gets from the sources.
 */
import { execFileSync } from "node:child_process";
import { existsSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, it } from "vitest";
import { requireTool, sha256File, tempDir } from "../helpers/tools.js";
import { DISK_BYTES, EPOCH, SEED, diskExtents, writePackageFile } from "./support.js";

const dir = tempDir("mkdisk-ovf-time-");
afterAll(() => dir.cleanup());
const root = resolve(__dirname, "../..");
const KINDS = ["ova", "vagrant-libvirt", "vagrant-virtualbox"] as const;

it("the same bytes at three different system times", async () => {
  requireTool("faketime");
  const want: Record<string, string> = {};
  for (const k of KINDS) {
    const p = join(dir.path, `ref-${k}`);
    await writePackageFile(k, p);
    want[k] = sha256File(p);
  }

  const out = join(dir.path, "dist");
  try {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json"), "--outDir", out, "--sourceMap", "false", "--declaration", "false"], { stdio: "pipe" });
  } catch {
    // Type errors elsewhere in the tree still emit; only the files used here matter.
  }
  expect(existsSync(join(out, "ovf/index.js"))).toBe(true);
  writeFileSync(join(dir.path, "package.json"), '{"type":"module"}\n');
  symlinkSync(join(root, "node_modules"), join(dir.path, "node_modules"));
  const u = (p: string) => JSON.stringify(pathToFileURL(join(out, p)).href);
  const extentFiles = diskExtents().map((e, i) => {
    const p = join(dir.path, `extent-${i}.bin`);
    writeFileSync(p, (e.source as { bytes: Uint8Array }).bytes);
    return [e.offsetBytes, p];
  });
  const script = `
    import { openSync, closeSync, readFileSync } from "node:fs";
    import { BoxSink } from ${u("ovf/index.js")};
    import { BuildContext } from ${u("context/index.js")};
    import { bytesExtent } from ${u("io/extent.js")};
    import { pump } from ${u("io/pump.js")};
    const [extentsJson, outDir, tag] = process.argv.slice(1);
    const extents = JSON.parse(extentsJson).map(([o, p]) => bytesExtent(o, Uint8Array.from(readFileSync(p))));
    for (const kind of ${JSON.stringify(KINDS)}) {
      const fd = openSync(outDir + "/" + tag + "-" + kind, "w");
      const ctx = new BuildContext({ seed: ${JSON.stringify(SEED)}, epochSec: ${EPOCH} });
      await pump(extents, ${DISK_BYTES}, [new BoxSink(kind, fd, ctx, { workers: 1 })]);
      closeSync(fd);
    }
  `;
  const runs: [string, string[]][] = [
    ["plain", []],
    ["y2001", ["faketime", "2001-01-01 00:00:00"]],
    ["y2038", ["faketime", "2038-06-01 12:34:56"]],
  ];
  for (const [tag, pre] of runs) {
    const argv = [...pre, process.execPath, "--input-type=module", "-e", script, JSON.stringify(extentFiles), dir.path, tag];
    execFileSync(argv[0], argv.slice(1), { stdio: "pipe", cwd: dir.path });
    for (const k of KINDS) expect(sha256File(join(dir.path, `${tag}-${k}`)), `${tag} ${k}`).toBe(want[k]);
  }
  // faketime really changes the clock the process sees (so the comparison above means something).
  const seen = execFileSync("faketime", ["2001-01-01 00:00:00", process.execPath, "-e", "process.stdout.write(String(new Date().getUTCFullYear()))"], { encoding: "utf8" });
  expect(seen).toBe("2001");
});
