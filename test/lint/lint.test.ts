/** `mkdisk lint` finds each listed artifact in a test tree, and nothing in a clean one. */
import { spawnSync } from "node:child_process";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lintTree, RULES } from "../../src/lint/index.js";
import { globToRegExp } from "../../src/lint/rules.js";
import { scanTree } from "../../src/tree/scan.js";
import { runOk, tempDir } from "../helpers/tools.js";

const ROOT = resolve(__dirname, "../..");
let tmp: ReturnType<typeof tempDir>;
const EPOCH = 1662046009;

function put(root: string, path: string, content: string | Uint8Array): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  utimesSync(p, EPOCH - 100, EPOCH - 100);
}

const pyc = (flags: number) => {
  const b = new Uint8Array(32);
  b.set([0xcb, 0x0d, 0x0d, 0x0a], 0); // a CPython 3.11 magic
  new DataView(b.buffer).setUint32(4, flags, true);
  return b;
};

const DIRTY: Record<string, string | Uint8Array> = {
  "/var/cache/ldconfig/aux-cache": "x",
  "/var/lib/pacman/local/bash-5.2-1/desc": "%NAME%\nbash\n\n%INSTALLDATE%\n1700000000\n",
  "/efi/loader/random-seed": "r",
  "/boot/loader/random-seed": "r",
  "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
  "/var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
  "/var/log/dpkg.log": "2026-01-01 install\n",
  "/var/log/apt/history.log": "Start-Date: 2026\n",
  "/var/log/pacman.log": "[2026-01-01] installed\n",
  "/etc/ssh/ssh_host_ed25519_key": "KEY",
  "/etc/ssh/ssh_host_ed25519_key.pub": "PUB",
  "/usr/lib/python3/dist-packages/foo/__pycache__/bar.cpython-311.pyc": pyc(0),
};

beforeAll(() => {
  tmp = tempDir();
  for (const [p, c] of Object.entries(DIRTY)) put(join(tmp.path, "dirty"), p, c);
  // Clean look-alikes: an empty machine-id, checked-hash bytecode, a pacman desc without INSTALLDATE.
  put(join(tmp.path, "clean"), "/etc/machine-id", "");
  put(join(tmp.path, "clean"), "/usr/lib/python3/__pycache__/ok.cpython-311.pyc", pyc(3));
  put(join(tmp.path, "clean"), "/var/lib/pacman/local/x-1/desc", "%NAME%\nx\n");
  put(join(tmp.path, "clean"), "/etc/hostname", "h\n");
  for (const d of ["clean", "dirty"]) {
    // directories were created now: give them old times too
    runOk("find", [join(tmp.path, d), "-type", "d", "-exec", "touch", "-h", "-d", "@" + (EPOCH - 100), "{}", "+"]);
  }
});
afterAll(() => tmp.cleanup());

describe("lint", () => {
  it("finds every listed artifact, with a fix for each", () => {
    const f = lintTree(scanTree(join(tmp.path, "dirty")), { epochSec: EPOCH });
    const paths = f.map((x) => x.path).sort();
    expect(paths).toEqual(Object.keys(DIRTY).sort());
    for (const x of f) expect(x.fix.length).toBeGreaterThan(0);
    // Every rule in the table is exercised by this tree except the systemd seed.
    const used = new Set(f.map((x) => x.rule));
    for (const r of RULES) if (r.id !== "systemd-random-seed") expect(used.has(r.id), r.id).toBe(true);
  });

  it("finds nothing in a clean tree, and reports files newer than the epoch", () => {
    expect(lintTree(scanTree(join(tmp.path, "clean")), { epochSec: EPOCH })).toEqual([]);
    put(join(tmp.path, "clean"), "/etc/new", "n");
    utimesSync(join(tmp.path, "clean/etc/new"), EPOCH + 10, EPOCH + 10);
    const f = lintTree(scanTree(join(tmp.path, "clean")), { epochSec: EPOCH });
    expect(f.map((x) => x.rule)).toEqual(["newer-than-epoch"]);
    expect(f[0].message).toContain("/etc/new");
  });

  it("matches globs by component", () => {
    expect(globToRegExp("/etc/ssh/ssh_host_*_key").test("/etc/ssh/ssh_host_rsa_key")).toBe(true);
    expect(globToRegExp("/etc/ssh/ssh_host_*_key").test("/etc/ssh/ssh_host_rsa_key.pub")).toBe(false);
    expect(globToRegExp("/**/__pycache__/*.pyc").test("/a/b/__pycache__/c.pyc")).toBe(true);
    expect(globToRegExp("/**/__pycache__/*.pyc").test("/__pycache__/c.pyc")).toBe(true);
  });

  it("exits 1 with findings and 0 without, through the CLI", () => {
    const cli = join(ROOT, "dist/mkdisk.js");
    const dirty = spawnSync(process.execPath, [cli, "lint", "--rootfs", join(tmp.path, "dirty"), "--source-date-epoch", String(EPOCH), "--json"], { encoding: "utf8" });
    expect(dirty.status).toBe(1);
    expect(JSON.parse(dirty.stdout).findings.length).toBe(Object.keys(DIRTY).length);
    const clean = spawnSync(process.execPath, [cli, "lint", "--rootfs", join(tmp.path, "clean"), "--source-date-epoch", "4102444800"], { encoding: "utf8" });
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain("no findings");
    // A tar of the dirty tree: the same findings, as the build would read it.
    const tar = join(tmp.path, "dirty.tar.gz");
    runOk("tar", ["--format=pax", "-C", join(tmp.path, "dirty"), "-czf", tar, "."]);
    const fromTar = spawnSync(process.execPath, [cli, "lint", "--rootfs", tar, "--source-date-epoch", String(EPOCH), "--json"], { encoding: "utf8" });
    expect(fromTar.status, fromTar.stderr).toBe(1);
    expect(JSON.parse(fromTar.stdout).findings).toEqual(JSON.parse(dirty.stdout).findings);
  });
});
