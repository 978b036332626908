/**
 * `mkdisk lint --rootfs DIR|TAR`: points at content that makes images differ
 * between builds even though mkdisk itself is deterministic (rules.ts), and at
 * files newer than SOURCE_DATE_EPOCH (they are clamped; a file whose content
 * embeds its own time will still differ).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { contentOf, type Tree, type TreeNode } from "../tree/types.js";
import { walkTree } from "../tree/select.js";
import { globToRegExp, RULES, type LintFinding } from "./rules.js";

const compiled = RULES.map((r) => ({ rule: r, res: r.paths.map(globToRegExp) }));

/** The first bytes of a file's content (for a tar rootfs, from the member's data in the archive). */
function head(node: TreeNode, bytes = 4096): Uint8Array {
  const { path, fileOffsetBytes } = contentOf(node);
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(Math.min(bytes, node.sizeBytes));
    const n = readSync(fd, buf, 0, buf.length, fileOffsetBytes);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export interface LintOptions {
  readonly epochSec?: number;
  /** How many "newer than the epoch" paths to list by name (the rest are counted). */
  readonly maxNewerListed?: number;
}

export function lintTree(tree: Tree, opts: LintOptions = {}): LintFinding[] {
  const findings: LintFinding[] = [];
  const newer: string[] = [];
  for (const n of walkTree(tree.root)) {
    if (opts.epochSec !== undefined && n.mtime.sec > opts.epochSec) newer.push(n.path);
    if (n.type !== "file" && n.type !== "symlink") continue;
    for (const { rule, res } of compiled) {
      if (!res.some((re) => re.test(n.path))) continue;
      if (rule.check) {
        if (n.type !== "file") continue;
        let h: Uint8Array;
        try {
          h = head(n);
        } catch {
          continue;
        }
        if (!rule.check(h, n.path)) continue;
      }
      findings.push({ rule: rule.id, path: n.path, message: rule.why, fix: rule.fix(n.path) });
    }
  }
  if (newer.length > 0) {
    const max = opts.maxNewerListed ?? 5;
    findings.push({
      rule: "newer-than-epoch",
      path: newer[0],
      message: `${newer.length} entries are newer than SOURCE_DATE_EPOCH (${opts.epochSec}); their times are clamped, but content that embeds a build time will still differ: ${newer.slice(0, max).join(", ")}${newer.length > max ? ", …" : ""}`,
      fix: "build the tree with SOURCE_DATE_EPOCH set so tools stamp that time, or check these files for embedded times",
    });
  }
  return findings;
}

export { RULES, type LintFinding } from "./rules.js";
