/**
 * The packaged formats through the library entry point: one buildDisk pass
 * writes raw, OVA and both boxes from a small rootfs; the disks inside equal
 * the raw image (qemu-img compare), the OVF passes xmllint and says EFI (the
 * layout has no biosBoot), and no scratch file is left in the output directory.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { buildDisk } from "../../src/build.js";
import { run, runOk, sha256File, tempDir } from "../helpers/tools.js";

const dir = tempDir("mkdisk-ovf-build-");
afterAll(() => dir.cleanup());

const LAYOUT = {
  seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
  sourceDateEpoch: 1662046009,
  size: "auto",
  partitions: [
    { type: "esp", format: "vfat", size: "40M", copyFiles: ["/boot:/"] },
    { type: "root", format: "ext4", size: "48M", copyFiles: ["/:/"], excludeFiles: ["/boot/"] },
  ],
  outputs: [{ format: "raw" }],
};

it("raw, ova and both boxes from one build", async () => {
  const root = join(dir.path, "root");
  mkdirSync(join(root, "boot/EFI/BOOT"), { recursive: true });
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "boot/EFI/BOOT/BOOTX64.EFI"), Buffer.alloc(5000, 1));
  writeFileSync(join(root, "etc/hostname"), "box\n");
  const outDir = join(dir.path, "out");
  mkdirSync(outDir);
  const p = (n: string) => join(outDir, n);
  const build = (suffix: string) =>
    buildDisk({
      layout: LAYOUT,
      rootfs: root,
      outputs: [
        { format: "raw", path: p(`disk${suffix}.img`) },
        { format: "ova", path: p(`disk${suffix}.ova`) },
        { format: "vagrant-libvirt", path: p(`disk${suffix}.libvirt.box`) },
        { format: "vagrant-virtualbox", path: p(`disk${suffix}.virtualbox.box`), machine: { name: "demo", cpus: 1 } },
      ],
      workers: 1,
    });
  const r = await build("");
  expect(r.outputs.map((o) => o.format)).toEqual(["raw", "ova", "vagrant-libvirt", "vagrant-virtualbox"]);
  expect(readdirSync(outDir).sort()).toEqual(["disk.img", "disk.libvirt.box", "disk.ova", "disk.virtualbox.box"]);

  const x = join(dir.path, "x");
  mkdirSync(x);
  runOk("tar", ["-xf", p("disk.ova"), "-C", x]);
  runOk("tar", ["-xzf", p("disk.libvirt.box"), "-C", x]);
  mkdirSync(join(x, "vb"));
  runOk("tar", ["-xzf", p("disk.virtualbox.box"), "-C", join(x, "vb")]);
  for (const [fmt, img] of [["vmdk", join(x, "mkdisk-disk001.vmdk")], ["qcow2", join(x, "box.img")], ["vmdk", join(x, "vb/box-disk001.vmdk")]]) {
    expect(run("qemu-img", ["check", "-f", fmt, img]).status).toBe(0);
    const cmp = run("qemu-img", ["compare", "-f", "raw", "-F", fmt, p("disk.img"), img]);
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
  }
  for (const ovf of [join(x, "mkdisk.ovf"), join(x, "vb/box.ovf")]) {
    const lint = run("xmllint", ["--noout", ovf]);
    expect({ status: lint.status, stderr: lint.stderr }).toEqual({ status: 0, stderr: "" });
    expect(runOk("xmllint", ["--xpath", 'string(//*[local-name()="Firmware"]/@type)', ovf]).trim()).toBe("EFI");
  }
  expect(runOk("xmllint", ["--xpath", 'string(//*[local-name()="Machine"]/@name)', join(x, "vb/box.ovf")]).trim()).toBe("demo");

  // A second build gives the same bytes for every output.
  const again = await build("2");
  again.outputs.forEach((o, i) => expect(o.sha256, o.format).toBe(r.outputs[i].sha256));
  expect(sha256File(p("disk2.ova"))).toBe(sha256File(p("disk.ova")));
});
