/**
 * Vagrant itself as the oracle (Debian's `vagrant` 2.3 and `vagrant-libvirt`):
 *   - `vagrant box add` accepts both boxes and `vagrant box list` shows them
 *     with the provider from their metadata.json;
 *   - `vagrant validate` in a project using the box loads the box's own
 *     Vagrantfile and checks every setting in it against the provider's
 *     config class (an unknown setting such as `libvirt.firmware` fails).
 *     The VirtualBox provider refuses to validate unless `VBoxManage` runs,
 *     and VirtualBox is not in Debian main, so that one case puts a stub
 *     VBoxManage (it only answers `--version`) first on PATH; the settings
 *     check is Vagrant's own code either way.
 * VAGRANT_HOME is a temporary directory; no network is used.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, runOk, tempDir } from "../helpers/tools.js";
import { ctxFor, writePackageFile } from "./support.js";

const dir = tempDir("mkdisk-vagrant-");
afterAll(() => dir.cleanup());
const env = { ...process.env, VAGRANT_HOME: join(dir.path, "home"), VAGRANT_CHECKPOINT_DISABLE: "1", VAGRANT_NO_COLOR: "1" };
const boxes = { libvirt: join(dir.path, "lv.box"), virtualbox: join(dir.path, "vb.box") };

beforeAll(async () => {
  const ctx = ctxFor();
  await writePackageFile("vagrant-libvirt", boxes.libvirt, { ctx, machine: { firmware: "efi" } });
  await writePackageFile("vagrant-virtualbox", boxes.virtualbox, { ctx });
});

function project(box: string): string {
  const p = join(dir.path, `proj-${box}`);
  mkdirSync(p, { recursive: true });
  writeFileSync(join(p, "Vagrantfile"), `Vagrant.configure("2") do |config|\n  config.vm.box = "${box}"\nend\n`);
  return p;
}

describe("vagrant", () => {
  it("box add accepts both boxes; box list shows their providers", () => {
    for (const [provider, path] of Object.entries(boxes)) {
      const r = run("vagrant", ["box", "add", "--name", `mkdisk-${provider}`, path], { env });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`Successfully added box 'mkdisk-${provider}' (v0) for '${provider}'`);
    }
    const list = runOk("vagrant", ["box", "list"], { env });
    expect(list).toMatch(/^mkdisk-libvirt\s+\(libvirt, 0\)$/m);
    expect(list).toMatch(/^mkdisk-virtualbox\s+\(virtualbox, 0\)$/m);
  });

  it("vagrant-libvirt validates the libvirt box's Vagrantfile", () => {
    const r = run("vagrant", ["validate"], { env: { ...env, VAGRANT_DEFAULT_PROVIDER: "libvirt" }, cwd: project("mkdisk-libvirt") });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("validated successfully");
  });

  it("the VirtualBox provider validates the virtualbox box's Vagrantfile", () => {
    const stub = join(dir.path, "stub");
    mkdirSync(stub, { recursive: true });
    writeFileSync(join(stub, "VBoxManage"), '#!/bin/sh\ncase "$1" in --version) echo "7.0.14r161095";; esac\nexit 0\n');
    chmodSync(join(stub, "VBoxManage"), 0o755);
    const r = run("vagrant", ["validate"], { env: { ...env, PATH: `${stub}:${process.env.PATH}`, VAGRANT_DEFAULT_PROVIDER: "virtualbox" }, cwd: project("mkdisk-virtualbox") });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("validated successfully");
  });
});
