/** `mkdisk inspect IMAGE [--json]`. */
import { MkdiskError } from "../bin/errors.js";
import { parseCommandArgs } from "./args.js";
import { inspectImage } from "../inspect/index.js";

export const INSPECT_HELP = `Usage: mkdisk inspect IMAGE [--json]

Prints the partition table (disk GUID, partitions with type, uuid, label,
start, size, attributes) and each filesystem's type, uuid, label, size,
features, times and hash seed. Reads raw, qcow2 and VMDK images.
`;

export function inspectMain(argv: string[]): number {
  const p = parseCommandArgs("inspect", argv, { json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (p.values.help) {
    process.stdout.write(INSPECT_HELP);
    return 0;
  }
  if (p.positionals.length !== 1) throw new MkdiskError("E_USAGE", "expected one IMAGE (see mkdisk inspect --help)");
  const r = inspectImage(p.positionals[0]);
  if (p.values.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    return 0;
  }
  const lines = [
    `image: ${r.format}, ${r.virtualBytes} bytes`,
    `table: GPT, disk GUID ${r.diskGuid}, ${r.sectorBytes}-byte sectors`,
    ...r.problems.map((x) => `problem: ${x}`),
  ];
  for (const q of r.partitions) {
    lines.push(`${q.number}: ${q.type} "${q.label}" uuid ${q.uuid} start ${q.startLba} size ${q.sizeBytes}${q.attributes.length ? ` attrs ${q.attributes.join(",")}` : ""}`);
    const f = q.filesystem;
    if (f.type === "unknown") continue;
    const parts = [`   ${f.type}`];
    if (f.uuid) parts.push(`uuid ${f.uuid}`);
    if (f.volumeId) parts.push(`volume id ${f.volumeId}`);
    if (f.label !== undefined) parts.push(`label "${f.label}"`);
    if (f.sizeBytes !== undefined) parts.push(`size ${f.sizeBytes}`);
    lines.push(parts.join(", "));
    if (f.features?.length) lines.push(`   features: ${f.features.join(" ")}`);
    if (f.hashSeed) lines.push(`   hash seed: ${f.hashSeed}`);
    if (f.times) lines.push(`   times: ${Object.entries(f.times).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    if (f.inodesUsed !== undefined) lines.push(`   inodes used: ${f.inodesUsed}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
