#!/usr/bin/env node
// The raw writer's block-copy path against a plain copy of the same bytes.
// Usage: node bench/raw-copy.mjs [TREE]   (default: /usr/lib, a tree of real files)
import { rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { listFiles, race, table } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const tree = process.argv[2] ?? "/usr/lib";
const work = mkdtempSync(join(tmpdir(), "mkdisk-bench-"));
const files = listFiles(tree);
const bytes = files.reduce((a, f) => a + f.size, 0);
const list = join(work, "files.txt");
(await import("node:fs")).writeFileSync(list, files.map((f) => f.path).join("\0"));
// Warm the page cache once so every contender reads from memory.
(await import("node:child_process")).spawnSync("bash", ["-c", `xargs -0 cat < ${list} > /dev/null`]);
const results = race(
  [
    { name: "cat (copy floor)", cmd: `xargs -0 cat < ${list} > ${work}/cat.out` },
    { name: "mkdisk raw writer", cmd: `node ${here}/raw-copy-worker.mjs ${tree} ${work}/mkdisk.img` },
  ],
  5,
  () => rmSync(join(work, "cat.out"), { force: true }) || rmSync(join(work, "mkdisk.img"), { force: true }),
);
process.stdout.write(table(`raw block copy: ${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB from ${tree}`, results, "cat (copy floor)"));
rmSync(work, { recursive: true, force: true });
