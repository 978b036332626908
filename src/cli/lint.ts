/** `mkdisk lint --rootfs DIR [--source-date-epoch N] [--json]`. Exit 0 clean, 1 findings. */
import { MkdiskError } from "../bin/errors.js";
import { lintTree } from "../lint/index.js";
import { scanRootfs } from "../tree/index.js";
import { epochFrom, parseCommandArgs } from "./args.js";

export const LINT_HELP = `Usage: mkdisk lint --rootfs DIR [--source-date-epoch N] [--json]

Points at content known to make images differ between builds (caches, logs,
random seeds, machine ids, SSH host keys, timestamped Python bytecode, files
newer than SOURCE_DATE_EPOCH), each with a suggested fix.
Exit status: 0 nothing found, 1 findings, other values as for a build.
`;

export function lintMain(argv: string[]): number {
  const p = parseCommandArgs(
    "lint",
    argv,
    {
      rootfs: { type: "string", short: "r" },
      "source-date-epoch": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    false,
  );
  if (p.values.help) {
    process.stdout.write(LINT_HELP);
    return 0;
  }
  if (!p.values.rootfs) throw new MkdiskError("E_USAGE", "--rootfs DIR is required (see mkdisk lint --help)");
  const epochSec = epochFrom("lint", p.values["source-date-epoch"] ?? process.env.SOURCE_DATE_EPOCH);
  const scanned = scanRootfs(p.values.rootfs); // a directory or a tar, as a build takes it
  let findings;
  try {
    findings = lintTree(scanned.tree, { epochSec });
  } finally {
    scanned.cleanup();
  }
  if (p.values.json) process.stdout.write(JSON.stringify({ findings }, null, 2) + "\n");
  else {
    for (const f of findings) process.stdout.write(`${f.path}: [${f.rule}] ${f.message}\n  fix: ${f.fix}\n`);
    process.stdout.write(findings.length ? `${findings.length} finding(s)\n` : "no findings\n");
  }
  return findings.length ? 1 : 0;
}
