// One mkdisk raw-writer run for bench/raw-copy.mjs: every file of TREE as a
// file extent (4 KiB aligned, back to back) into a sparse raw image at OUT.
import { closeSync, openSync } from "node:fs";
import { pump, RawSink } from "../dist/index.js";
import { listFiles } from "./lib.mjs";

const [tree, out] = process.argv.slice(2);
const files = listFiles(tree);
let pos = 0;
const extents = [];
for (const f of files) {
  if (f.size === 0) continue;
  extents.push({ offsetBytes: pos, lengthBytes: f.size, source: { kind: "file", path: f.path, fileOffsetBytes: 0 } });
  pos += Math.ceil(f.size / 4096) * 4096;
}
const fd = openSync(out, "w");
await pump(extents, pos, [new RawSink(fd)]);
closeSync(fd);
