/** `mkdisk diff A B [--json]`: exit 0 identical, 1 different. */
import { MkdiskError } from "../bin/errors.js";
import { parseCommandArgs } from "./args.js";
import { diffImages } from "../diff/index.js";

export const DIFF_HELP = `Usage: mkdisk diff A B [--json]

Compares two images (raw, qcow2, VMDK, in any combination) in bounded memory
and names each difference as deep as it can: GPT field, filesystem structure,
file path and field, file content range, unallocated space.
Exit status: 0 identical, 1 different.
`;

export function diffMain(argv: string[]): number {
  const p = parseCommandArgs("diff", argv, { json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (p.values.help) {
    process.stdout.write(DIFF_HELP);
    return 0;
  }
  if (p.positionals.length !== 2) throw new MkdiskError("E_USAGE", "expected two images A and B (see mkdisk diff --help)");
  const r = diffImages(p.positionals[0], p.positionals[1]);
  if (p.values.json) process.stdout.write(JSON.stringify(r, null, 2) + "\n");
  else if (r.identical) process.stdout.write("identical\n");
  else {
    for (const d of r.differences) process.stdout.write(`${d.area}: ${d.what}${d.detail ? ` (${d.detail})` : ""} [bytes ${d.startBytes}..${d.endBytes}]\n`);
    if (r.truncated) process.stdout.write("… more differences not examined\n");
  }
  return r.identical ? 0 : 1;
}
