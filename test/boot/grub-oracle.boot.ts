/**
 * Oracle: the boot harness's install-grub-bios.sh, which patches GRUB's real
 * boot.img and a grub-mkimage core.img into a raw GPT image by hand, the way
 * grub-bios-setup does for a hard disk. mkdisk's `biosBoot` must produce the
 * very same bytes (whole image compared) from the same core.img, for several
 * placements of the BIOS boot partition.
 *
 * Env (set by .ci/boot-tests.sh): MKDISK_BOOT_HARNESS = the harness directory,
 * GRUB_I386_PC = GRUB's i386-pc directory (boot.img and modules).
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDisk } from "../../src/build.js";
import { run, runOk, tempDir } from "../helpers/tools.js";

const harness = process.env.MKDISK_BOOT_HARNESS;
const grubDir = process.env.GRUB_I386_PC;

/** The core.img install-grub-bios.sh builds: same early config, prefix, module list. */
function mkCoreImg(dir: string, espNumber: number, out: string): void {
  const early = join(dir, "early.cfg");
  writeFileSync(early, "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n");
  runOk("grub-mkimage", [
    "-O", "i386-pc", "-d", grubDir!, "-c", early, "-p", `(hd0,gpt${espNumber})/grub`, "-o", out,
    "biosdisk", "part_gpt", "part_msdos", "fat", "ext2", "normal", "linux", "boot", "configfile", "echo", "test", "search", "serial", "terminal",
  ]);
}

/** Rows (16 bytes) that differ, as hex, at most `max`. */
function hexDiff(a: Buffer, b: Buffer, max = 12): string {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`sizes differ: ${a.length} vs ${b.length}`);
  for (let off = 0; off < Math.min(a.length, b.length) && out.length < max; off += 16) {
    const x = a.subarray(off, off + 16);
    const y = b.subarray(off, off + 16);
    if (!x.equals(y)) out.push(`0x${off.toString(16).padStart(8, "0")}  mkdisk ${x.toString("hex")}  script ${y.toString("hex")}`);
  }
  return out.join("\n");
}

const CASES: { name: string; alignment?: string; partitions: object[] }[] = [
  { name: "esp, bios-boot, root (the boot-test layout)", partitions: [{ type: "esp", size: "64M" }, { type: "bios-boot", size: "1M" }, { type: "root", size: "32M" }] },
  { name: "bios-boot first, 4K alignment", alignment: "4K", partitions: [{ type: "bios-boot", size: "200K" }, { type: "esp", size: "40M" }, { type: "linux-generic", size: "1M" }] },
  { name: "large bios-boot after a data partition", partitions: [{ type: "linux-generic", size: "3M" }, { type: "esp", size: "34M" }, { type: "bios-boot", size: "4M" }] },
];

describe("biosBoot = install-grub-bios.sh (GRUB boot.img + grub-mkimage core.img)", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    if (!harness || !grubDir) throw new Error("MKDISK_BOOT_HARNESS and GRUB_I386_PC must be set (run .ci/boot-tests.sh)");
    tmp = tempDir("mkdisk-grub-");
  });
  afterAll(() => tmp?.cleanup());

  for (const [k, c] of CASES.entries()) {
    it(c.name, async () => {
      const dir = join(tmp.path, `c${k}`);
      runOk("mkdir", ["-p", dir]);
      const espNumber = c.partitions.findIndex((p) => (p as { type: string }).type === "esp") + 1;
      mkCoreImg(dir, espNumber, join(dir, "core.img"));
      copyFileSync(join(grubDir!, "boot.img"), join(dir, "boot.img"));
      const layout = { seed: "3b0c54de-1e5f-4d7a-9c2b-6a8e0f1d2c3b", ...(c.alignment ? { alignment: c.alignment } : {}), partitions: c.partitions };
      const ours = join(dir, "mkdisk.img");
      const ref = join(dir, "script.img");
      await buildDisk({ layout: { ...layout, biosBoot: { bootImage: "boot.img", coreImage: "core.img" } }, layoutDir: dir, outputs: [{ format: "raw", path: ours }] });
      await buildDisk({ layout, outputs: [{ format: "raw", path: ref }] });
      const r = run(join(harness!, "install-grub-bios.sh"), [ref, grubDir!]);
      expect(r.status, r.stderr).toBe(0);
      const a = readFileSync(ours);
      const b = readFileSync(ref);
      expect(a.equals(b), hexDiff(a, b)).toBe(true);
      expect(runOk("sgdisk", ["-v", ours])).toMatch(/No problems found/);
    });
  }
});
