/**
 * `mkdisk verify --manifest FILE --rootfs DIR`: rebuilds the image the
 * manifest describes (same layout, seed, epoch, formats) into a temporary
 * directory and compares tree digest, disk, partition and output SHA-256.
 * Exit 0 when everything matches, 1 when anything differs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MkdiskError } from "../bin/errors.js";
import { buildDisk } from "../build.js";
import { scratchDirectory } from "../io/output.js";
import { compareManifests, parseManifestJson } from "../manifest/index.js";
import { parseCommandArgs } from "./args.js";
import type { OutputFormat } from "../layout/schema.js";
import type { MachineOptions } from "../ovf/index.js";
import { diffImages, type DiffResult } from "../diff/index.js";
import { createHash } from "node:crypto";

export const VERIFY_HELP = `Usage: mkdisk verify --manifest FILE --rootfs DIR [--ownership-manifest F]
                     [--layout-dir DIR] [--image IMAGE] [--json]

Rebuilds the image described by a build manifest (mkdisk --manifest) from
DIR, with the manifest's layout, seed, epoch, ownership mode and output
options, and compares: input tree digest, whole-disk and per-partition
SHA-256, and each output's SHA-256. When the build used an ownership
manifest, give the same file with --ownership-manifest (its SHA-256 is
checked). Relative paths in the recorded layout (biosBoot's GRUB images)
are resolved against --layout-dir (default: the current directory); their
SHA-256 are checked too. With --image (the published image: raw, qcow2 or VMDK), a
disagreement is explained structurally, as mkdisk diff does.
Exit status: 0 identical, 1 different.
`;

export async function verifyMain(argv: string[]): Promise<number> {
  const p = parseCommandArgs(
    "verify",
    argv,
    {
      manifest: { type: "string", short: "m" },
      rootfs: { type: "string", short: "r" },
      "ownership-manifest": { type: "string" },
      image: { type: "string" },
      "layout-dir": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    false,
  );
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
  const ownershipManifest = p.values["ownership-manifest"];
  const notes: string[] = [];
  if (want.ownershipManifestSha256 !== undefined) {
    if (ownershipManifest === undefined) {
      throw new MkdiskError("E_USAGE", `the build applied an ownership manifest (SHA-256 ${want.ownershipManifestSha256}); give it with --ownership-manifest`);
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(ownershipManifest);
    } catch (e) {
      throw new MkdiskError("E_LAYOUT", `cannot read the ownership manifest: ${(e as Error).message}`, ownershipManifest);
    }
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== want.ownershipManifestSha256) notes.push(`ownership manifest differs: ${want.ownershipManifestSha256} in the manifest, ${sha} given`);
  }
  const scratch = scratchDirectory("mkdisk-verify-");
  const dir = scratch.path;
  try {
    const rawPath = join(dir, "rebuilt.img");
    const outputs = want.outputs.map((o, i) => ({
      format: o.format as OutputFormat, path: join(dir, `out${i}.${o.format}`),
      compress: o.compress, clusterSize: o.clusterSize, machine: o.machine as MachineOptions | undefined,
    }));
    // A raw copy to explain differences with, unless the manifest already has one.
    const explainWith = p.values.image !== undefined ? outputs.find((o) => o.format === "raw")?.path ?? rawPath : undefined;
    if (explainWith === rawPath) outputs.push({ format: "raw", path: rawPath, compress: undefined, clusterSize: undefined, machine: undefined });
    const got = await buildDisk({
      layout: want.layout,
      rootfs: p.values.rootfs,
      seed: want.seed,
      sourceDateEpoch: want.sourceDateEpoch ?? undefined,
      ownership: want.ownership,
      ownershipManifest,
      layoutDir: p.values["layout-dir"],
      outputs,
      manifest: true,
    });
    const diffs = [...notes, ...compareManifests(want, got.manifest!)];
    const same = want.disk.sha256 === got.manifest!.disk.sha256 && want.outputs.every((o, i) => got.manifest!.outputs[i]?.sha256 === o.sha256);
    let explained: DiffResult | undefined;
    if (explainWith !== undefined && !same) explained = diffImages(p.values.image!, explainWith);
    if (p.values.json) process.stdout.write(JSON.stringify({ identical: same, differences: diffs, image: explained }, null, 2) + "\n");
    else if (same) process.stdout.write(`identical: disk ${want.disk.sha256}\n`);
    else {
      process.stdout.write(`DIFFERENT:\n${diffs.map((d) => "  " + d).join("\n")}\n`);
      if (explained) {
        process.stdout.write(`${p.values.image} against the rebuild:\n`);
        if (explained.identical) process.stdout.write("  the disk images are identical (the difference is in the container)\n");
        for (const d of explained.differences) process.stdout.write(`  ${d.area}: ${d.what}${d.detail ? ` (${d.detail})` : ""} [bytes ${d.startBytes}..${d.endBytes}]\n`);
        if (explained.truncated) process.stdout.write("  … more differences not examined\n");
      }
    }
    return same ? 0 : 1;
  } finally {
    scratch.remove();
  }
}
