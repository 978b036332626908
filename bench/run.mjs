#!/usr/bin/env node
// npm run bench: mkdisk side by side with the C tools doing the same work, and
// with a plain copy of the same bytes, in one run, alternating, several rounds.
// Prints a Markdown table of medians, ratios and peak RSS, and writes it to
// bench/results/latest.md with the machine's description.
//
// Inputs are prepared reproducibly and cached in bench/.cache:
//   minbase: debootstrap --variant=minbase bookworm (Debian's archive)
//   large:   minbase plus a kernel with its modules, systemd and python,
//            unpacked from Debian's packages (versions recorded in the results)
//   esp:     an ESP-like tree: a 12 MiB and a 48 MiB blob (kernel and initrd
//            stand-ins, fixed pseudo-random content) plus 300 small files
//   small:   200 000 small files (generated, fixed content)
//   e2e-root, e2e-large: esp/ and root/ (minbase or large) for whole disks
// Usage: node bench/run.mjs [--rounds N] [--only ext4,large,fat32,e2e,qcow2,e2e-large,qcow2-large,scale]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem, tmpdir, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { listFiles, race, table } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const cli = join(root, "dist/mkdisk.js");
const cache = join(here, ".cache");
const { values: opt } = parseArgs({ options: { rounds: { type: "string", default: "5" }, only: { type: "string" } } });
const rounds = Number(opt.rounds);
const only = opt.only ? new Set(opt.only.split(",")) : undefined;
const want = (k) => !only || only.has(k);
mkdirSync(cache, { recursive: true });

function sh(cmd) {
  const r = spawnSync("bash", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function prepareMinbase() {
  const dir = join(cache, "minbase");
  if (existsSync(join(dir, ".done"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  console.error("bench: debootstrap --variant=minbase bookworm (once, cached)…");
  sh(`debootstrap --variant=minbase bookworm ${dir} http://deb.debian.org/debian >/dev/null`);
  writeFileSync(join(dir, ".done"), "");
  return dir;
}

function prepareEsp() {
  const dir = join(cache, "esp");
  if (existsSync(join(dir, ".done"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "EFI/BOOT"), { recursive: true });
  mkdirSync(join(dir, "loader/entries"), { recursive: true });
  // Fixed pseudo-random content (incompressible like a kernel), from a seeded generator.
  const blob = (path, bytes, seed) => {
    const b = Buffer.alloc(bytes);
    let x = seed >>> 0;
    for (let i = 0; i < bytes; i += 4) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b.writeUInt32LE(x, i);
    }
    writeFileSync(path, b);
  };
  blob(join(dir, "vmlinuz"), 12 << 20, 1);
  blob(join(dir, "initrd.img"), 48 << 20, 2);
  blob(join(dir, "EFI/BOOT/BOOTX64.EFI"), 100 << 10, 3);
  for (let i = 0; i < 300; i++) {
    const d = join(dir, "extra", `d${i % 10}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `file-${i}.conf`), `entry ${i}\n`.repeat(1 + (i % 50)));
  }
  writeFileSync(join(dir, "loader/loader.conf"), "timeout 3\n");
  writeFileSync(join(dir, ".done"), "");
  return dir;
}

/** minbase + kernel and modules, systemd, python: the distribution-sized tree. */
const LARGE_PACKAGES = ["linux-image-amd64", "systemd", "python3"];
function prepareLarge() {
  const dir = join(cache, "large");
  if (existsSync(join(dir, ".done"))) return dir;
  const base = prepareMinbase();
  rmSync(dir, { recursive: true, force: true });
  const debs = join(cache, "debs");
  rmSync(debs, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  console.error("bench: unpacking a kernel, systemd and python from Debian's packages (once, cached)…");
  // The metapackages' dependencies, one level (the real kernel image, python3.11 …).
  const names = new Set();
  for (const p of LARGE_PACKAGES) {
    names.add(p);
    for (const line of sh(`apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances ${p}`).split("\n")) {
      const m = /^\s+Depends: ([a-z0-9][a-z0-9.+-]+)$/.exec(line);
      if (m && /^(linux-image|python3|libpython3|systemd|libsystemd)/.test(m[1])) names.add(m[1]);
    }
  }
  sh(`cd ${debs} && apt-get download ${[...names].sort().join(" ")} 2>/dev/null`);
  sh(`cp -a ${base} ${dir} && rm -f ${dir}/.done`);
  const versions = [];
  for (const f of readdirSync(debs).sort()) {
    sh(`dpkg-deb -x ${join(debs, f)} ${dir}`);
    versions.push(f.replace(/\.deb$/, ""));
  }
  writeFileSync(join(cache, "large.packages"), versions.join("\n") + "\n");
  writeFileSync(join(dir, ".done"), "");
  return dir;
}

/** 200 000 small files in 200 directories, 0 to 4 KiB each, fixed content. */
function prepareSmall() {
  const dir = join(cache, "small");
  if (existsSync(join(dir, ".done"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  console.error("bench: generating 200 000 small files (once, cached)…");
  for (let d = 0; d < 200; d++) {
    const sub = join(dir, `d${String(d).padStart(3, "0")}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 1000; f++) {
      const n = d * 1000 + f;
      writeFileSync(join(sub, `file-${n}.txt`), `${n}\n`.repeat((n * 7919) % 700));
    }
  }
  writeFileSync(join(dir, ".done"), "");
  return dir;
}

const work = mkdtempSync(join(tmpdir(), "mkdisk-bench-"));
const out = [];
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
out.push(`# mkdisk benchmarks\n\nMachine: ${machine}. Warm page cache, ${rounds} rounds alternating, medians; "best" is the fastest round (on this kind of VM some rounds are much slower than others for reasons outside the contenders: see the README).\n`);

function layout(path, parts, extra = {}) {
  writeFileSync(path, JSON.stringify({ seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445", sourceDateEpoch: 1662046009, size: "auto", partitions: parts, ...extra }));
  return path;
}
const fileList = (tree) => {
  const list = join(work, `list-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(list, listFiles(tree).map((f) => f.path).join("\0"));
  sh(`xargs -0 cat < ${list} > /dev/null`); // warm
  return list;
};
const floor = (tree) => ({ name: "cat (copy floor)", cmd: `xargs -0 cat < ${fileList(tree)} > ${work}/floor.out` });
// What any Node program pays before disk-image work: starting Node, and the
// same copy as `cat` done from Node (for jobs the C tools finish in about
// the time Node takes to start).
const nodeFloors = (tree) => [
  { name: "node -e 0 (Node's start alone)", cmd: "node -e 0" },
  { name: "Node copy of the same files", cmd: `node ${join(here, "node-copy.mjs")} ${fileList(tree)} ${work}/node-floor.out` },
];
// Before each contender: remove earlier outputs and flush the page cache's
// dirty data, so no one pays for writing back another contender's output
// (an fsync on ext4 waits for the whole journal transaction).
const clean = () => {
  for (const f of readdirSync(work)) if (/\.(img|qcow2|vmdk|out)$/.test(f)) rmSync(join(work, f), { force: true });
  sh("sync");
};
function treeMiB(tree) {
  return (listFiles(tree).reduce((a, f) => a + f.size, 0) / 2 ** 20).toFixed(0);
}

try {
  const minbase = want("ext4") || want("e2e") ? prepareMinbase() : undefined;
  const esp = want("fat32") || want("e2e") ? prepareEsp() : undefined;

  const ext4Race = (tree, size, title) => {
    const L = layout(join(work, `ext4-${size}.json`), [{ type: "root", format: "ext4", size, copyFiles: ["/:/"] }]);
    const res = race([
      floor(tree),
      { name: "mkdisk ext4", cmd: `node ${cli} --rootfs ${tree} --layout ${L} -o ${work}/m.img` },
      { name: "mke2fs -d", cmd: `mke2fs -q -F -t ext4 -b 4096 -d ${tree} ${work}/c.img ${size}` },
    ], rounds, clean);
    out.push(table(title, res, "mke2fs -d"));
  };
  if (want("ext4")) ext4Race(minbase, "1G", `ext4: Debian minbase (${listFiles(minbase).length} files, ${treeMiB(minbase)} MiB), 1 GiB filesystem`);
  if (want("large")) {
    const large = prepareLarge();
    ext4Race(large, "2G", `ext4: minbase + kernel, modules, systemd, python (${listFiles(large).length} files, ${treeMiB(large)} MiB), 2 GiB filesystem`);
  }
  if (want("scale")) {
    // Memory and time must follow the tree, not the disk: the same tree in a
    // 2 GiB and a 20 GiB filesystem, and 200 000 small files.
    const large = prepareLarge();
    ext4Race(large, "20G", `scaling: the large tree (${treeMiB(large)} MiB) in a 20 GiB filesystem`);
    const small = prepareSmall();
    ext4Race(small, "4G", `scaling: 200 000 small files (${treeMiB(small)} MiB), 4 GiB filesystem`);
  }
  if (want("fat32")) {
    const L = layout(join(work, "esp.json"), [{ type: "esp", format: "vfat", size: "512M", copyFiles: ["/:/"] }]);
    const res = race([
      floor(esp),
      ...nodeFloors(esp),
      { name: "mkdisk fat32", cmd: `node ${cli} --rootfs ${esp} --layout ${L} -o ${work}/m.img` },
      { name: "mkfs.vfat + mcopy", cmd: `mkfs.vfat -F 32 -i 12345678 -C ${work}/c.img 524288 >/dev/null && MTOOLS_SKIP_CHECK=1 mcopy -i ${work}/c.img -s -p -Q -m ${esp}/* ::/` },
    ], rounds, clean);
    out.push(table(`FAT32: ESP-like tree (${listFiles(esp).length} files, ${treeMiB(esp)} MiB), 512 MiB filesystem`, res, "mkfs.vfat + mcopy"));
  }
  // Whole disks: an ESP from the esp tree and a root from minbase ("e2e",
  // "qcow2"), then the same with the large tree ("e2e-large", "qcow2-large").
  const disk = (key, title, rootTree, rootMiB) => {
    const e2e = want(key === "minbase" ? "e2e" : "e2e-large");
    const conv = want(key === "minbase" ? "qcow2" : "qcow2-large");
    if (!e2e && !conv) return;
    const stage = join(cache, key === "minbase" ? "e2e-root" : "e2e-large");
    if (!existsSync(join(stage, ".done"))) {
      rmSync(stage, { recursive: true, force: true });
      mkdirSync(stage);
      sh(`cp -a ${rootTree()} ${stage}/root && cp -a ${prepareEsp()} ${stage}/esp && touch ${stage}/.done`);
    }
    const parts = [
      { type: "esp", format: "vfat", size: "512M", copyFiles: ["/esp:/"] },
      { type: "root", format: "ext4", size: `${rootMiB}M`, copyFiles: ["/root:/"] },
    ];
    const L = layout(join(work, `disk-${key}.json`), parts);
    const cPipeline = (fmt) =>
      [
        `truncate -s $((1069056 + 512*1048576 + ${rootMiB}*1048576)) ${work}/c.img`,
        `printf 'label: gpt\\nstart=2048, size=1048576, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\\nsize=${rootMiB * 2048}, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\\n' | sfdisk -q ${work}/c.img`,
        `mkfs.vfat -F 32 -i 12345678 -C ${work}/esp.out 524288 >/dev/null`,
        `MTOOLS_SKIP_CHECK=1 mcopy -i ${work}/esp.out -s -p -Q -m ${stage}/esp/* ::/`,
        `mke2fs -q -F -t ext4 -b 4096 -d ${stage}/root ${work}/root.out ${rootMiB}M`,
        `dd if=${work}/esp.out of=${work}/c.img bs=1M seek=1 conv=notrunc,sparse status=none`,
        `dd if=${work}/root.out of=${work}/c.img bs=1M seek=513 conv=notrunc,sparse status=none`,
        ...(fmt === "qcow2" ? [`qemu-img convert -f raw -O qcow2 ${work}/c.img ${work}/c.qcow2`] : []),
      ].join(" && ");
    if (e2e) {
      const res = race([
        floor(stage),
        { name: "mkdisk raw", cmd: `node ${cli} --rootfs ${stage} --layout ${L} -o ${work}/m.img` },
        { name: "C pipeline raw", cmd: cPipeline("raw") },
        { name: "mkdisk qcow2", cmd: `node ${cli} --rootfs ${stage} --layout ${L} --format qcow2 -o ${work}/m.qcow2` },
        { name: "C pipeline qcow2", cmd: cPipeline("qcow2") },
      ], rounds, clean);
      out.push(table(`end to end: ESP + ${title} root (${treeMiB(stage)} MiB, ${listFiles(stage).length} files), raw and qcow2`, res, "C pipeline raw"));
    }
    if (conv) {
      sh(`node ${cli} --rootfs ${stage} --layout ${L} -o ${work}/src.raw --force`);
      const res = race([
        { name: "cp --sparse (copy floor)", cmd: `cp --sparse=always ${work}/src.raw ${work}/floor.out` },
        { name: "qemu-img convert qcow2", cmd: `qemu-img convert -f raw -O qcow2 ${work}/src.raw ${work}/q.qcow2` },
        { name: "mkdisk convert qcow2", cmd: `node ${cli} convert ${work}/src.raw -O qcow2 ${work}/m.qcow2` },
        { name: "qemu-img convert -c", cmd: `qemu-img convert -c -f raw -O qcow2 ${work}/src.raw ${work}/qc.qcow2` },
        { name: "mkdisk convert qcow2 -c", cmd: `node ${cli} convert ${work}/src.raw -O qcow2 --compress ${work}/mc.qcow2` },
        { name: "qemu-img convert vmdk", cmd: `qemu-img convert -f raw -O vmdk -o subformat=streamOptimized ${work}/src.raw ${work}/q.vmdk` },
        { name: "mkdisk convert vmdk", cmd: `node ${cli} convert ${work}/src.raw -O vmdk ${work}/m.vmdk` },
      ], Math.max(1, Math.min(rounds, 3)), clean);
      rmSync(join(work, "src.raw"));
      out.push(table(`image formats: converting the end-to-end raw disk (ESP + ${title} root)`, res, "qemu-img convert qcow2"));
    }
  };
  disk("minbase", "minbase", prepareMinbase, 1024);
  disk("large", "large-tree", prepareLarge, 2048);
  if (existsSync(join(cache, "large.packages")) && (want("large") || want("scale") || want("e2e-large") || want("qcow2-large"))) {
    out.push(`The large tree's packages: ${readFileSync(join(cache, "large.packages"), "utf8").trim().split("\n").join(", ")}.\n`);
  }
  const text = out.join("\n");
  process.stdout.write(text);
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results/latest.md"), text);
} finally {
  rmSync(work, { recursive: true, force: true });
}
