/**
 * `mkdisk verify --manifest FILE --rootfs DIR`: rebuilds the image the
 * manifest describes (same layout, seed, epoch, formats) into a temporary
 * directory and compares tree digest, disk, partition and output SHA-256.
 * Exit 0 when everything matches, 1 when anything differs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MkdiskError } from "../bin/errors.js";
import { buildDisk } from "../build.js";
import { compareManifests, parseManifestJson } from "../manifest/index.js";
import type { OutputFormat } from "../layout/schema.js";

export const VERIFY_HELP = `Usage: mkdisk verify --manifest FILE --rootfs DIR [--ownership-manifest F] [--json]

Rebuilds the image described by a build manifest (mkdisk --manifest) from
DIR and compares: input tree digest, whole-disk and per-partition SHA-256,
and each output's SHA-256. Exit status: 0 identical, 1 different.
`;

export async function verifyMain(argv: string[]): Promise<number> {
  let p;
  try {
    p = parseArgs({
      args: argv,
      strict: true,
      options: {
        manifest: { type: "string", short: "m" },
        rootfs: { type: "string", short: "r" },
        "ownership-manifest": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new MkdiskError("E_USAGE", `${(e as Error).message} (see mkdisk verify --help)`);
  }
  if (p.values.help) {
    process.stdout.write(VERIFY_HELP);
    return 0;
  }
  if (!p.values.manifest) throw new MkdiskError("E_USAGE", "--manifest FILE is required (see mkdisk verify --help)");
  let text: string;
  try {
    text = readFileSync(p.values.manifest, "utf8");
  } catch (e) {
    throw new MkdiskError("E_LAYOUT", `cannot read: ${(e as Error).message}`, p.values.manifest);
  }
  const want = parseManifestJson(text, p.values.manifest);
  const dir = mkdtempSync(join(tmpdir(), "mkdisk-verify-"));
  try {
    const got = await buildDisk({
      layout: want.layout,
      rootfs: p.values.rootfs,
      seed: want.seed,
      sourceDateEpoch: want.sourceDateEpoch ?? undefined,
      ownershipManifest: p.values["ownership-manifest"],
      outputs: want.outputs.map((o, i) => ({ format: o.format as OutputFormat, path: join(dir, `out${i}.${o.format}`) })),
      manifest: true,
    });
    const diffs = compareManifests(want, got.manifest!);
    const same = want.disk.sha256 === got.manifest!.disk.sha256 && want.outputs.every((o) => got.manifest!.outputs.find((q) => q.format === o.format)?.sha256 === o.sha256);
    if (p.values.json) process.stdout.write(JSON.stringify({ identical: same, differences: diffs }, null, 2) + "\n");
    else if (same) process.stdout.write(`identical: disk ${want.disk.sha256}\n`);
    else process.stdout.write(`DIFFERENT:\n${diffs.map((d) => "  " + d).join("\n")}\n`);
    return same ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
