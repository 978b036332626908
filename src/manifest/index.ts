/**
 * The build manifest (`--manifest FILE`): everything needed to rebuild an
 * image and check it, as canonical JSON.
 *
 *   { "mkdisk": version, "layout": the layout as given, "seed", "sourceDateEpoch",
 *     "tree": { sha256, entries, bytes },           input tree digest (tree-digest.ts)
 *     "disk": { sizeBytes, sha256, partitions: [{ number, label, uuid, startLba, sizeBytes, sha256 }] },
 *     "ownership": "preserve" | "root", "ownershipManifestSha256": of the file's bytes, when one was used,
 *     "biosBoot": { bootImageSha256, coreImageSha256 }, when the layout installs GRUB for BIOS,
 *     "outputs": [{ format, sha256, compress?, clusterSize?, machine? }] }
 *
 * Disk and partition digests are of the raw disk bytes, whatever container
 * the outputs use. Output paths are not recorded: they do not affect bytes.
 */
import { fail } from "../bin/errors.js";
import { formatUuid } from "../bin/guid.js";
import type { DiskPlan } from "../layout/plan.js";

export const MANIFEST_VERSION = 1;

export interface BuildManifest {
  manifestVersion: number;
  mkdisk: string;
  layout: unknown;
  seed: string;
  sourceDateEpoch: number | null;
  tree: { sha256: string; entries: number; bytes: number } | null;
  disk: {
    sizeBytes: number;
    sha256: string;
    partitions: { number: number; label: string; uuid: string; startLba: number; sizeBytes: number; sha256: string }[];
  };
  /** How owners were taken from the tree (verify rebuilds the same way). */
  ownership?: "preserve" | "root";
  /** SHA-256 of the ownership manifest applied, if any (its path is not recorded). */
  ownershipManifestSha256?: string;
  /** SHA-256 of the GRUB images the layout's biosBoot named (their paths are in the layout). */
  biosBoot?: { bootImageSha256: string; coreImageSha256: string };
  outputs: ManifestOutput[];
}

/** An output as built: its digest and every option that changes its bytes. */
export interface ManifestOutput {
  format: string;
  sha256: string;
  compress?: boolean;
  clusterSize?: number;
  machine?: unknown;
}

export function partitionRanges(plan: DiskPlan): { name: string; startBytes: number; sizeBytes: number }[] {
  return plan.partitions.map((p) => ({ name: String(p.number), startBytes: p.startLba * plan.sectorBytes, sizeBytes: p.sizeBytes }));
}

export function makeManifest(args: {
  version: string;
  layout: unknown;
  seed: string;
  sourceDateEpoch: number | undefined;
  tree: BuildManifest["tree"];
  plan: DiskPlan;
  digest: { sha256: string; ranges: Record<string, string> };
  ownership: "preserve" | "root";
  ownershipManifestSha256?: string;
  biosBoot?: BuildManifest["biosBoot"];
  outputs: ManifestOutput[];
}): BuildManifest {
  return {
    manifestVersion: MANIFEST_VERSION,
    mkdisk: args.version,
    layout: args.layout,
    seed: args.seed,
    sourceDateEpoch: args.sourceDateEpoch ?? null,
    tree: args.tree,
    disk: {
      sizeBytes: args.plan.totalBytes,
      sha256: args.digest.sha256,
      partitions: args.plan.partitions.map((p) => ({
        number: p.number, label: p.label, uuid: formatUuid(p.uuid), startLba: p.startLba, sizeBytes: p.sizeBytes,
        sha256: args.digest.ranges[String(p.number)],
      })),
    },
    ownership: args.ownership,
    ...(args.ownershipManifestSha256 !== undefined ? { ownershipManifestSha256: args.ownershipManifestSha256 } : {}),
    ...(args.biosBoot ? { biosBoot: args.biosBoot } : {}),
    outputs: args.outputs,
  };
}

export function parseManifestJson(text: string, where: string): BuildManifest {
  let m: BuildManifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    fail("E_LAYOUT", `not valid JSON: ${(e as Error).message}`, where);
  }
  if (typeof m !== "object" || m === null || m.manifestVersion !== MANIFEST_VERSION || typeof m.seed !== "string" || !m.disk || !Array.isArray(m.outputs)) {
    fail("E_LAYOUT", `not an mkdisk build manifest (version ${MANIFEST_VERSION})`, where);
  }
  return m;
}

/** Differences between two manifests, as human lines (empty = same). */
export function compareManifests(want: BuildManifest, got: BuildManifest): string[] {
  const d: string[] = [];
  if (want.mkdisk !== got.mkdisk) d.push(`mkdisk version: manifest ${want.mkdisk}, this build ${got.mkdisk} (bytes may legitimately differ)`);
  if (want.tree && got.tree && want.tree.sha256 !== got.tree.sha256) {
    d.push(`input tree differs: ${want.tree.entries} entries / ${want.tree.bytes} bytes in the manifest, ${got.tree.entries} / ${got.tree.bytes} now`);
  }
  for (const k of ["bootImageSha256", "coreImageSha256"] as const) {
    if (want.biosBoot && got.biosBoot && want.biosBoot[k] !== got.biosBoot[k]) {
      d.push(`GRUB ${k === "bootImageSha256" ? "boot.img" : "core.img"} differs: ${want.biosBoot[k]} in the manifest, ${got.biosBoot[k]} now`);
    }
  }
  if (want.disk.sizeBytes !== got.disk.sizeBytes) d.push(`disk size: ${want.disk.sizeBytes} vs ${got.disk.sizeBytes}`);
  for (const p of want.disk.partitions) {
    const q = got.disk.partitions.find((x) => x.number === p.number);
    if (!q) d.push(`partition ${p.number} (${p.label}) missing`);
    else if (q.sha256 !== p.sha256) d.push(`partition ${p.number} (${p.label}) content differs: ${p.sha256} vs ${q.sha256}`);
  }
  const partDiff = d.some((x) => x.startsWith("partition "));
  if (want.disk.sha256 !== got.disk.sha256 && !partDiff) d.push(`disk bytes differ outside the partitions (partition table or gaps)`);
  for (const o of want.outputs) {
    const q = got.outputs.find((x) => x.format === o.format);
    if (q && q.sha256 !== o.sha256) d.push(`${o.format} output: ${o.sha256} vs ${q.sha256}`);
  }
  return d;
}

export { treeDigest } from "./tree-digest.js";
