#!/usr/bin/env node
// Does the C tool chain reproduce its own output? Builds the same tree twice
// with each tool, from two copies made in opposite orders on tmpfs (where
// readdir returns entries in creation order), with every knob the tools offer
// for determinism pinned, and reports whether the images are identical and how
// many bytes differ. mkdisk runs the same experiment as the control.
// Writes bench/results/c-tools-repro.md. Needs root (mounts a tmpfs).
//
// Usage: node bench/c-tools-repro.mjs   (uses the cached bench trees: run npm run bench once)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, "..", "dist/mkdisk.js");
const cache = join(here, ".cache");
const SEED = "0e9a6fe0-68f6-408c-bbeb-136054d20445";
const UUID = "4b1f6c3e-2a5d-4c8e-9f10-112233445566";
const EPOCH = 1662046009;

function sh(cmd, env = {}) {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Copies src into dst entry by entry, in ascending or descending name order at every level. */
function orderedCopy(src, dst, descending) {
  mkdirSync(dst);
  const names = readdirSync(src, { withFileTypes: true }).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  if (descending) names.reverse();
  for (const e of names) {
    const s = join(src, e.name);
    const d = join(dst, e.name);
    if (e.isDirectory()) orderedCopy(s, d, descending);
    else sh(`cp -a --no-dereference ${JSON.stringify(s)} ${JSON.stringify(d)}`);
  }
  sh(`touch -r ${JSON.stringify(src)} ${JSON.stringify(dst)} && chmod --reference=${JSON.stringify(src)} ${JSON.stringify(dst)} && chown --reference=${JSON.stringify(src)} ${JSON.stringify(dst)}`);
}

const sha = (f) => sh(`sha256sum ${f}`).split(" ")[0];
const differingBytes = (a, b) => Number(sh(`cmp -l ${a} ${b} | wc -l`).trim());

const trees = { minbase: join(cache, "minbase"), esp: join(cache, "esp") };
for (const [k, t] of Object.entries(trees)) if (!existsSync(t)) throw new Error(`bench tree ${k} missing: run npm run bench first`);

const work = mkdtempSync(join(tmpdir(), "mkdisk-repro-"));
const mnt = join(work, "tmpfs");
mkdirSync(mnt);
sh(`mount -t tmpfs -o size=2g tmpfs ${mnt}`);
const rows = [];
try {
  for (const [name, tree] of Object.entries(trees)) {
    orderedCopy(tree, join(mnt, `${name}-asc`), false);
    orderedCopy(tree, join(mnt, `${name}-desc`), true);
  }
  const layout = (parts) => {
    const p = join(work, `l${rows.length}.json`);
    writeFileSync(p, JSON.stringify({ seed: SEED, sourceDateEpoch: EPOCH, partitions: parts }));
    return p;
  };
  const experiments = [
    {
      what: "ext4, minbase tree",
      tool: "mke2fs -d (-U, -E hash_seed=, E2FSPROGS_FAKE_TIME, SOURCE_DATE_EPOCH)",
      build: (src, out) => sh(`mke2fs -q -F -t ext4 -b 4096 -U ${UUID} -E hash_seed=${UUID} -d ${src} ${out} 1G`, { E2FSPROGS_FAKE_TIME: String(EPOCH), SOURCE_DATE_EPOCH: String(EPOCH) }),
      tree: "minbase",
    },
    {
      what: "ext4, minbase tree",
      tool: "mkdisk",
      build: (src, out) => sh(`node ${cli} --rootfs ${src} --layout ${layout([{ type: "root", format: "ext4", size: "1G" }])} -o ${out}`),
      tree: "minbase",
    },
    {
      what: "FAT32, ESP tree",
      tool: "mkfs.vfat -i + mcopy -s -p -Q -m (SOURCE_DATE_EPOCH)",
      build: (src, out) => sh(`mkfs.vfat -F 32 -i 12345678 -C ${out} 524288 >/dev/null && MTOOLS_SKIP_CHECK=1 mcopy -i ${out} -s -p -Q -m ${src}/* ::/`, { SOURCE_DATE_EPOCH: String(EPOCH) }),
      tree: "esp",
    },
    {
      what: "FAT32, ESP tree",
      tool: "mkdisk",
      build: (src, out) => sh(`node ${cli} --rootfs ${src} --layout ${layout([{ type: "esp", format: "vfat", size: "512M", copyFiles: ["/:/"] }])} -o ${out}`),
      tree: "esp",
    },
  ];
  for (const x of experiments) {
    const a = join(work, "a.img");
    const b = join(work, "b.img");
    const c = join(work, "c.img");
    rmSync(a, { force: true }); rmSync(b, { force: true }); rmSync(c, { force: true });
    x.build(join(mnt, `${x.tree}-asc`), a);
    x.build(join(mnt, `${x.tree}-asc`), c); // same copy, again
    x.build(join(mnt, `${x.tree}-desc`), b);
    rows.push({ ...x, again: sha(a) === sha(c) ? "identical" : `${differingBytes(a, c)} bytes differ`, copies: sha(a) === sha(b) ? "identical" : `${differingBytes(a, b)} bytes differ` });
  }
} finally {
  spawnSync("umount", [mnt]);
  rmSync(work, { recursive: true, force: true });
}
const lines = [
  "# Can the C tools reproduce their own images?",
  "",
  "Each tool builds the same tree three times: twice from one copy, once from a copy made in the opposite order (tmpfs, so readdir order differs). Every determinism option the tool has is pinned.",
  "",
  "| image | tool | same copy, again | other-order copy |",
  "|---|---|---|---|",
  ...rows.map((r) => `| ${r.what} | ${r.tool} | ${r.again} | ${r.copies} |`),
  "",
];
process.stdout.write(lines.join("\n"));
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results/c-tools-repro.md"), lines.join("\n"));
