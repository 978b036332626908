#!/usr/bin/env node
// Builds the bundled example disk (examples/basic) and prints its SHA-256.
//
// A git checkout does not keep owners or exact modes (they follow the cloning
// user and umask), so the example rootfs is first staged into a temporary
// directory with fixed modes (directories 0755, files 0644, executables 0755);
// the layout sets "ownership": "root". Times newer than the layout's
// sourceDateEpoch are clamped, so checkout times do not matter either.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "examples/basic/rootfs");
const stage = mkdtempSync(join(tmpdir(), "mkdisk-example-"));
const out = join(root, "out/example.img");

function normalize(p) {
  const st = lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(p, 0o755);
    for (const n of readdirSync(p)) normalize(join(p, n));
  } else chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
}

try {
  cpSync(src, join(stage, "root"), { recursive: true, verbatimSymlinks: true });
  normalize(join(stage, "root"));
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(
    process.execPath,
    [join(root, "dist/mkdisk.js"), "--rootfs", join(stage, "root"), "--layout", join(root, "examples/basic/layout.json"), "-o", out, "--force", "--json"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
  const result = JSON.parse(r.stdout);
  for (const o of result.outputs) console.log(`${o.sha256}  ${o.path.startsWith(root) ? o.path.slice(root.length + 1) : o.path}`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
