#!/usr/bin/env node
// Where a build's time goes: runs the phases of buildDisk one by one on a tree
// and prints milliseconds for each (module loading, scan, plan with the ext4
// hole scan, metadata generation, the copy pump with a raw sink and the
// build's background flushes, the final fsync), and
// the heap after planning. No assertions; for the README's performance notes.
//
// Usage: node bench/phases.mjs TREE [SIZE] [FORMAT] [HELPERS]   (one partition of SIZE, default 1G:
// FORMAT ext4, the default, as a root partition; vfat as an ESP; HELPERS reader
// threads for the hole scan besides the main one, default 1)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [tree, size = "1G", format = "ext4", helpers = "1"] = process.argv.slice(2);
if (!tree || !["ext4", "vfat"].includes(format)) throw new Error("usage: node bench/phases.mjs TREE [SIZE] [ext4|vfat]");
const dist = new URL("../dist/", import.meta.url);
const t = [performance.now()];
const f = [process.resourceUsage().minorPageFault];
const mark = () => { t.push(performance.now()); f.push(process.resourceUsage().minorPageFault); };
const { scanRootfs } = await import(new URL("tree/index.js", dist));
const { planDisk } = await import(new URL("layout/plan.js", dist));
const { parseLayout } = await import(new URL("layout/schema.js", dist));
const { makeContext } = await import(new URL("build.js", dist));
const { fileDataRuns } = await import(new URL("io/holes.js", dist));
const { pump } = await import(new URL("io/pump.js", dist));
const { RawSink } = await import(new URL("io/raw.js", dist));
const { openTempOutput, flushingProgress } = await import(new URL("io/output.js", dist));
mark();
const raw = { seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445", sourceDateEpoch: 1662046009, partitions: [{ type: format === "vfat" ? "esp" : "root", format, size, copyFiles: ["/:/"] }] };
const layout = parseLayout(raw);
const { ReaderPool } = await import(new URL("io/readers.js", dist));
const readers = new ReaderPool(Number(helpers)); // as a build does: helpers boot during the scan
const holes = fileDataRuns(readers);
const scanned = scanRootfs(tree, { onFile: format === "ext4" ? holes.early : undefined });
mark();
let holeMs = 0;
const timed = (n) => {
  const a = performance.now();
  const r = holes.readDataRuns(n);
  holeMs += performance.now() - a;
  return r;
};
timed.prefetch = (files) => {
  const a = performance.now();
  holes.readDataRuns.prefetch(files);
  holeMs += performance.now() - a;
};
const plan = planDisk(layout, scanned.tree, makeContext(layout, raw), { readDataRuns: timed });
holes.close();
readers.close();
mark();
const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
const extents = [...plan.extents()];
mark();
const dir = mkdtempSync(join(tmpdir(), "mkdisk-phases-"));
try {
  // As a build writes: background flushes during the pump, fsync at the end.
  const out = openTempOutput(join(dir, "disk.img"), false);
  await pump(extents, plan.totalBytes, [new RawSink(out.fd)], flushingProgress([out]));
  mark();
  await out.settle();
  out.commit();
  mark();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const names = ["load modules", "scan tree", "plan (incl. hole scan)", "generate metadata", "pump (read + write)", "final fsync"];
for (let i = 0; i < names.length; i++) console.log(`${names[i].padEnd(24)} ${(t[i + 1] - t[i]).toFixed(0).padStart(6)} ms ${String(f[i + 1] - f[i]).padStart(7)} page faults`);
console.log(`${"  of which hole scan".padEnd(24)} ${holeMs.toFixed(0).padStart(6)} ms`);
console.log(`${"heap after planning".padEnd(24)} ${heapMiB.toFixed(0).padStart(6)} MiB`);
