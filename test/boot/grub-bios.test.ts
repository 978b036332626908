/**
 * GRUB-for-BIOS install (src/boot): the patched fields land at GRUB's offsets
 * and nothing else changes (synthetic boot.img/core.img pre-filled with
 * non-zero bytes), bad images are refused with coded errors, and a whole image
 * built with `biosBoot` keeps a protective MBR that sgdisk and sfdisk accept.
 *
 * The byte-for-byte comparison with real GRUB images patched by the shared
 * harness's install-grub-bios.sh, and the boots themselves, run from
 * .ci/boot-tests.sh (test/boot/*.boot.ts): they need GRUB's i386-pc files.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { buildDisk } from "../../src/build.js";
import { BuildContext } from "../../src/context/index.js";
import { installGrubBios, bootKernelSector, planBiosBoot, type GrubBiosImages } from "../../src/boot/index.js";
import { planDisk } from "../../src/layout/plan.js";
import { parseLayout } from "../../src/layout/schema.js";
import type { Extent } from "../../src/io/extent.js";
import { runOk, tempDir } from "../helpers/tools.js";

/** A boot.img look-alike: 0xD1 everywhere, GRUB's jmp at 0x66. */
function fakeBoot(): Uint8Array {
  const b = new Uint8Array(512).fill(0xd1);
  b[0x66] = 0xeb;
  b[0x67] = 0x05;
  return b;
}

/** A core.img look-alike of `bytes` bytes whose diskboot blocklist says (sectors - 1) at segment 0x820. */
function fakeCore(bytes: number): Uint8Array {
  const c = new Uint8Array(bytes).fill(0xc7);
  const sectors = Math.ceil(bytes / 512);
  const d = new DataView(c.buffer);
  d.setBigUint64(0x1f4, 2n, true);
  d.setUint16(0x1fc, sectors - 1, true);
  d.setUint16(0x1fe, 0x820, true);
  return c;
}

const images = (boot = fakeBoot(), core = fakeCore(149693)): GrubBiosImages => ({ bootImage: boot, coreImage: core, bootImageName: "boot.img", coreImageName: "core.img" });

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MkdiskError) return `${e.code} ${e.message}`;
    throw e;
  }
  return "no error";
}

describe("installGrubBios", () => {
  it("patches kernel_sector (0x5C), the drive check (0x66) and the first blocklist (0x1F4) and nothing else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 34, max: 2 ** 40 }), fc.integer({ min: 1025, max: 512 * 300 }), (start, coreBytes) => {
        const boot = fakeBoot();
        const core = fakeCore(coreBytes);
        const sectors = Math.ceil(coreBytes / 512);
        const r = installGrubBios(images(boot, core), { partitionStartLba: start, partitionSectors: 2048 });
        expect(r.mbrBootCode.length).toBe(440);
        expect(r.coreSectors).toBe(sectors);
        expect(r.core.length).toBe(sectors * 512);
        const mbr = new Uint8Array(512);
        mbr.set(r.mbrBootCode);
        expect(bootKernelSector(mbr)).toBe(start);
        expect([...r.mbrBootCode.subarray(0x66, 0x68)]).toEqual([0x90, 0x90]);
        for (let i = 0; i < 440; i++) if (i < 0x5c || i >= 0x68 || (i >= 0x64 && i < 0x66)) expect(r.mbrBootCode[i]).toBe(boot[i]);
        const d = new DataView(r.core.buffer, r.core.byteOffset);
        expect(Number(d.getBigUint64(0x1f4, true))).toBe(start + 1);
        expect(d.getUint16(0x1fc, true)).toBe(sectors - 1);
        expect(d.getUint16(0x1fe, true)).toBe(0x820);
        expect(Buffer.compare(r.core.subarray(0, 0x1f4), core.subarray(0, 0x1f4))).toBe(0);
        expect(Buffer.compare(r.core.subarray(0x200, coreBytes), core.subarray(0x200))).toBe(0);
        expect(r.core.subarray(coreBytes).every((x) => x === 0)).toBe(true);
        // inputs untouched
        expect(boot[0x66]).toBe(0xeb);
        expect(core[0x1f4]).toBe(2);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a boot.img of the wrong size or without the drive-check jump, naming the file", () => {
    expect(code(() => installGrubBios(images(new Uint8Array(511)), { partitionStartLba: 2048, partitionSectors: 2048 }))).toMatch(/^E_LAYOUT biosBoot.bootImage: boot.img is 511 bytes/);
    const b = fakeBoot();
    b[0x66] = 0x90;
    expect(code(() => installGrubBios(images(b), { partitionStartLba: 2048, partitionSectors: 2048 }))).toMatch(/^E_LAYOUT .*boot.img is not GRUB's i386-pc boot.img: expected .*0xeb at 0x66, got 0x90/);
  });

  it("refuses a core.img whose blocklist does not describe it, or that is too small", () => {
    const c = fakeCore(4096);
    c[0x1fc] = 3;
    expect(code(() => installGrubBios(images(undefined, c), { partitionStartLba: 2048, partitionSectors: 2048 }))).toMatch(/^E_LAYOUT .*core.img is not a core.img .*len at 0x1f4 is 3, expected 7/);
    expect(code(() => installGrubBios(images(undefined, new Uint8Array(512)), { partitionStartLba: 2048, partitionSectors: 2048 }))).toMatch(/^E_LAYOUT .*at least two sectors/);
  });

  it("refuses a core.img larger than the BIOS boot partition with E_FIT", () => {
    expect(code(() => installGrubBios(images(), { partitionStartLba: 2048, partitionSectors: 292 }))).toMatch(/^E_FIT .*core.img needs 293 sectors .* has 292/);
    expect(installGrubBios(images(), { partitionStartLba: 2048, partitionSectors: 293 }).coreSectors).toBe(293);
  });

  it("planBiosBoot picks the first bios-boot partition and refuses 4096-byte sectors", () => {
    const bios = "21686148-6449-6e6f-744e-656564454649";
    const parts = [
      { typeGuid: "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", format: "vfat", startLba: 2048, sizeBytes: 1 << 20 },
      { typeGuid: bios, startLba: 4096, sizeBytes: 1 << 20 },
      { typeGuid: bios, startLba: 6144, sizeBytes: 1 << 20 },
    ];
    const p = planBiosBoot(images(), parts, 512);
    expect(p.partitionIndex).toBe(1);
    const mbr = new Uint8Array(512);
    mbr.set(p.mbrBootCode);
    expect(bootKernelSector(mbr)).toBe(4096);
    expect(code(() => planBiosBoot(images(), parts, 4096))).toMatch(/^E_UNSUPPORTED biosBoot/);
    expect(code(() => planBiosBoot(images(), parts.slice(0, 1), 512))).toMatch(/^E_LAYOUT biosBoot: biosBoot needs a partition of type "bios-boot"/);
  });
});

describe("layout biosBoot", () => {
  const base = { seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445", partitions: [{ type: "esp", size: "8M" }, { type: "bios-boot", size: "1M" }] };

  it("parses the two paths and checks the partition", () => {
    expect(parseLayout({ ...base, biosBoot: { bootImage: "b.img", coreImage: "/abs/c.img" } }).biosBoot).toEqual({ bootImage: "b.img", coreImage: "/abs/c.img" });
    expect(code(() => parseLayout({ ...base, biosBoot: { bootImage: "b.img" } }))).toMatch(/^E_LAYOUT biosBoot.coreImage: "coreImage" is required/);
    expect(code(() => parseLayout({ ...base, biosBoot: { bootImage: "b", coreImage: "c", stage2: "x" } }))).toMatch(/^E_LAYOUT biosBoot.stage2: unknown field/);
    expect(code(() => parseLayout({ ...base, biosBoot: "grub" }))).toMatch(/^E_LAYOUT biosBoot: expected an object/);
    expect(code(() => parseLayout({ ...base, partitions: [base.partitions[0]], biosBoot: { bootImage: "b", coreImage: "c" } }))).toMatch(/^E_LAYOUT biosBoot: .*"bios-boot"/);
    expect(code(() => parseLayout({ ...base, partitions: [{ type: "bios-boot", format: "vfat", size: "40M" }], biosBoot: { bootImage: "b", coreImage: "c" } }))).toMatch(
      /^E_LAYOUT partitions\[0\].format: the bios-boot partition holds core.img/,
    );
  });

  it("planDisk puts boot.img in the MBR and core.img at the start of the bios-boot partition", () => {
    const layout = parseLayout({ ...base, biosBoot: { bootImage: "b", coreImage: "c" } });
    const plan = planDisk(layout, undefined, new BuildContext({ seed: base.seed }), { biosBoot: images() });
    const exts: Extent[] = [...plan.extents()];
    const start = plan.partitions[1].startLba;
    const head = exts[0];
    expect(head.offsetBytes).toBe(0);
    const mbr = (head.source as { bytes: Uint8Array }).bytes.subarray(0, 512);
    expect(bootKernelSector(mbr)).toBe(start);
    expect(mbr[0x1c2]).toBe(0xee);
    expect([mbr[510], mbr[511]]).toEqual([0x55, 0xaa]);
    expect([...mbr.subarray(0x1b8, 0x1be)]).toEqual([0, 0, 0, 0, 0, 0]);
    const core = exts.find((e) => e.offsetBytes === start * 512)!;
    expect(core.lengthBytes).toBe(293 * 512);
    const d = (core.source as { bytes: Uint8Array }).bytes;
    expect(Number(new DataView(d.buffer, d.byteOffset).getBigUint64(0x1f4, true))).toBe(start + 1);
    expect(code(() => planDisk(parseLayout({ ...base, sectorSize: 4096, biosBoot: { bootImage: "b", coreImage: "c" } }), undefined, new BuildContext({ seed: base.seed }), { biosBoot: images() }))).toMatch(
      /^E_UNSUPPORTED/,
    );
  });

  describe("whole image (oracles: sgdisk -v, sfdisk --json)", () => {
    let tmp: ReturnType<typeof tempDir>;
    beforeAll(() => {
      tmp = tempDir();
      mkdirSync(join(tmp.path, "grub"));
      writeFileSync(join(tmp.path, "grub/boot.img"), fakeBoot());
      writeFileSync(join(tmp.path, "grub/core.img"), fakeCore(20000));
    });
    afterAll(() => tmp.cleanup());

    it("keeps a valid protective MBR and GPT; relative paths resolve against the layout directory", async () => {
      const img = join(tmp.path, "d.img");
      await buildDisk({ layout: { ...base, biosBoot: { bootImage: "grub/boot.img", coreImage: join(tmp.path, "grub/core.img") } }, layoutDir: tmp.path, outputs: [{ format: "raw", path: img }] });
      const v = runOk("sgdisk", ["-v", img]);
      expect(v).toMatch(/No problems found/);
      const pt = JSON.parse(runOk("sfdisk", ["--json", img])).partitiontable;
      expect(pt.label).toBe("gpt");
      const bytes = readFileSync(img);
      const start = pt.partitions[1].start as number;
      expect(bytes.readBigUInt64LE(0x5c)).toBe(BigInt(start));
      expect(bytes.readBigUInt64LE(start * 512 + 0x1f4)).toBe(BigInt(start + 1));
      expect(bytes.subarray(start * 512 + 40 * 512, (start + 2048) * 512).every((x) => x === 0)).toBe(true);
      // the protective MBR record itself is untouched: one 0xEE entry from LBA 1, signature 0xAA55
      expect(bytes[0x1c2]).toBe(0xee);
      expect(bytes.readUInt32LE(0x1c6)).toBe(1);
      expect(bytes.readUInt16LE(0x1fe)).toBe(0xaa55);
    });

    it("a missing image file is a coded layout error naming the field", async () => {
      const err = await buildDisk({ layout: { ...base, biosBoot: { bootImage: "nope.img", coreImage: "grub/core.img" } }, layoutDir: tmp.path, outputs: [{ format: "raw", path: join(tmp.path, "e.img") }] }).catch((e) => e);
      expect(err).toBeInstanceOf(MkdiskError);
      expect((err as MkdiskError).code).toBe("E_LAYOUT");
      expect((err as MkdiskError).message).toMatch(/^biosBoot.bootImage: cannot read .*nope.img/);
    });
  });
});
