/** Trees, layouts and builds shared by the diff tests. */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, lstatSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildDisk } from "../../src/build.js";

export const ROOT = resolve(__dirname, "../..");
export const CLI = join(ROOT, "dist/mkdisk.js");

/** Every file and directory time, in whole seconds (restorable exactly after an edit). */
export const TREE_TIME_SEC = 1_700_000_000;

export const FILES: Record<string, string> = {
  "etc/hostname": "example\n",
  "etc/motd": "Welcome to the example image. Have a nice day.\n",
  "etc/os-release": 'NAME="Example"\nID=example\n',
  "usr/bin/hello": "#!/bin/sh\necho hello\n",
  "usr/share/doc/example/README": "An example tree for mkdisk diff.\n".repeat(200),
  "var/log/.keep": "",
  "boot/loader/loader.conf": "timeout 3\ndefault example.conf\n",
  "boot/loader/entries/example.conf": "title Example\nlinux /vmlinuz\n",
  "efi/EFI/Linux/README.txt": "Unified kernel images go here.\n",
};

export function makeTree(dir: string): void {
  for (const [rel, content] of Object.entries(FILES)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  setTimes(dir);
}

/** Sets every entry's mtime (and atime) to `sec`, children before parents. */
export function setTimes(dir: string, sec = TREE_TIME_SEC): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) setTimes(p, sec);
    else utimesSync(p, sec, sec);
  }
  utimesSync(dir, sec, sec);
}

/** The examples/basic layout, with a fixed filesystem label on the root so that its GPT label can change alone. */
export function exampleLayout(rootLabel = "root"): Record<string, unknown> {
  return {
    seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
    size: "auto",
    ownership: "root",
    partitions: [
      { type: "esp", format: "vfat", size: "64M", copyFiles: ["/boot:/", "/efi:/"] },
      { type: "bios-boot", size: "1M" },
      { type: "root", format: "ext4", size: "64M", label: rootLabel, fsLabel: "root", copyFiles: ["/:/"], excludeFiles: ["/boot/", "/efi/"] },
      { type: "swap", format: "swap", size: "16M" },
    ],
  };
}

/** Far in the future, so that file times are not clamped. */
export const EPOCH = 4102444800;

export async function build(layout: unknown, rootfs: string, out: string): Promise<void> {
  await buildDisk({ layout, rootfs, outputs: [{ format: "raw", path: out }], sourceDateEpoch: EPOCH, force: true });
}

export interface DiffJson {
  identical: boolean;
  differences: { area: string; what: string; detail?: string; startBytes: number; endBytes: number }[];
  truncated: boolean;
}

/** Runs `mkdisk diff A B --json` (optionally under /usr/bin/time or with node flags). */
export function diffCli(a: string, b: string, opts: { nodeArgs?: string[]; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), CLI, "diff", a, b, "--json"], {
    encoding: "utf8",
    timeout: opts.timeoutMs,
    maxBuffer: 256 << 20,
  });
  return r;
}
