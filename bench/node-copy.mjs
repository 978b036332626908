#!/usr/bin/env node
// The copy floor in Node: what `cat` of the files does (read each file once,
// append it to one output; no fsync), written in Node with large synchronous
// reads and writes. Against `cat` it shows what Node's start and its I/O
// calls cost before any disk-image work; the bench puts it beside jobs whose
// C tools finish in about the time Node takes to start.
//
// Usage: node bench/node-copy.mjs LIST OUT   (LIST: file paths separated by NUL bytes)
import { closeSync, openSync, readFileSync, readSync, writeSync } from "node:fs";

const [list, outPath] = process.argv.slice(2);
if (!list || !outPath) throw new Error("usage: node bench/node-copy.mjs LIST OUT");
const buf = Buffer.allocUnsafe(1 << 20);
const out = openSync(outPath, "w");
for (const path of readFileSync(list, "utf8").split("\0")) {
  if (!path) continue;
  const fd = openSync(path, "r");
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
    for (let done = 0; done < n; ) done += writeSync(out, buf, done, n - done);
  }
  closeSync(fd);
}
closeSync(out);
