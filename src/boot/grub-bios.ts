/**
 * GRUB for BIOS on a GPT disk, installed without grub-install, loop devices or
 * root: GRUB's `boot.img` goes into the protective MBR's boot code area and
 * `core.img` (made by `grub-mkimage -O i386-pc`) into the BIOS boot partition,
 * with the few fields patched that grub-bios-setup patches for a hard disk.
 * Pure: bytes in, bytes out. README.md in this folder lists every offset.
 *
 * Boot path: BIOS loads LBA 0 (boot.img) → boot.img reads one sector at
 * `kernel_sector` (the first sector of core.img = diskboot.img) → diskboot.img
 * reads the sectors its blocklist names (the rest of core.img) → GRUB's kernel.
 */
import { defineStruct } from "../bin/struct.js";
import { fail } from "../bin/errors.js";
import { r8, r64le, u64le, view } from "../bin/int.js";
import { bytesExtent, type PlannedRegion } from "../io/extent.js";

/** BIOS sector size GRUB's boot.img / diskboot.img count in (GRUB_DISK_SECTOR_SIZE). */
export const GRUB_SECTOR_BYTES = 512;
/** boot.img is exactly one sector. */
export const BOOT_IMG_BYTES = 512;
/** The part of boot.img that goes into the MBR: everything before the disk signature (UEFI 2.10 table 5-4 BootCode). */
export const MBR_BOOT_CODE_BYTES = 440;

/**
 * boot.img fields, GRUB 2 include/grub/i386/pc/boot.h (names as there) and
 * grub-core/boot/i386/pc/boot.S. Only the ones mkdisk reads or writes.
 *  off  len field
 *  0x00  2  jmp short after_BPB (0xEB xx)
 *  0x5C  8  GRUB_BOOT_MACHINE_KERNEL_SECTOR  u64le LBA of core.img's first sector
 *  0x64  1  GRUB_BOOT_MACHINE_BOOT_DRIVE     0xFF = use the drive the BIOS passed in DL
 *  0x66  2  GRUB_BOOT_MACHINE_DRIVE_CHECK    "jmp short" (0xEB 0x05) over the DL sanity check
 */
export const BOOT_MACHINE_KERNEL_SECTOR = 0x5c;
export const BOOT_MACHINE_BOOT_DRIVE = 0x64;
export const BOOT_MACHINE_DRIVE_CHECK = 0x66;
/** x86 `jmp short rel8` opcode. */
export const X86_JMP_SHORT = 0xeb;
/** x86 `nop` opcode. */
export const X86_NOP = 0x90;

/**
 * One diskboot.img blocklist entry (struct grub_pc_bios_boot_blocklist,
 * GRUB_BOOT_MACHINE_LIST_SIZE = 12). Little-endian. diskboot.img keeps its
 * first (and, for an embedded core.img, only) entry in the last 12 bytes of its
 * sector; entries grow downwards, a zero `len` ends the list.
 *  off len field
 *  0x0  8  start    LBA of the first sector to load
 *  0x8  2  len      sector count
 *  0xA  2  segment  real-mode segment to load them to (0x820 for an embedded core)
 */
export const GrubBootBlocklist = defineStruct("GrubBootBlocklist", 12, {
  start: { off: 0x0, type: "u64le" },
  len: { off: 0x8, type: "u16le" },
  segment: { off: 0xa, type: "u16le" },
});
/** Offset of the first blocklist inside core.img (= inside diskboot.img): 0x200 - 12. */
export const DISKBOOT_FIRST_BLOCKLIST = GRUB_SECTOR_BYTES - GrubBootBlocklist.sizeBytes; // 0x1F4

export interface GrubBiosImages {
  /** GRUB's boot.img (i386-pc), 512 bytes. */
  readonly bootImage: Uint8Array;
  /** A core.img built by `grub-mkimage -O i386-pc` (starts with diskboot.img). */
  readonly coreImage: Uint8Array;
  /** Names for error messages (the paths the layout gave). */
  readonly bootImageName: string;
  readonly coreImageName: string;
}

export interface GrubBiosTarget {
  /** First LBA of the BIOS boot partition (512-byte sectors). */
  readonly partitionStartLba: number;
  /** Size of the BIOS boot partition in 512-byte sectors. */
  readonly partitionSectors: number;
}

export interface GrubBiosInstall {
  /** 440 bytes for the protective MBR's BootCode field. */
  readonly mbrBootCode: Uint8Array;
  /** core.img, patched and zero-padded to whole sectors; goes at the start of the BIOS boot partition. */
  readonly core: Uint8Array;
  readonly coreSectors: number;
}

/**
 * Patches boot.img and core.img for a core.img embedded at
 * `partitionStartLba`. Refuses (E_LAYOUT, naming the file) images that do not
 * look like GRUB i386-pc images, and (E_FIT) a core.img larger than the partition.
 */
export function installGrubBios(img: GrubBiosImages, target: GrubBiosTarget, where = "biosBoot"): GrubBiosInstall {
  const { bootImage, coreImage } = img;
  const { partitionStartLba, partitionSectors } = target;
  if (!Number.isSafeInteger(partitionStartLba) || partitionStartLba < 1) fail("E_INTERNAL", `BIOS boot partition start LBA ${partitionStartLba}`, where);

  // boot.img: one sector whose drive check is still the unpatched jmp.
  if (bootImage.length !== BOOT_IMG_BYTES) {
    fail("E_LAYOUT", `${img.bootImageName} is ${bootImage.length} bytes; GRUB's i386-pc boot.img is exactly ${BOOT_IMG_BYTES}`, `${where}.bootImage`);
  }
  const bootView = view(bootImage);
  const check = r8(bootView, BOOT_MACHINE_DRIVE_CHECK);
  if (check !== X86_JMP_SHORT) {
    fail(
      "E_LAYOUT",
      `${img.bootImageName} is not GRUB's i386-pc boot.img: expected the boot-drive check jump 0x${X86_JMP_SHORT.toString(16)} at 0x${BOOT_MACHINE_DRIVE_CHECK.toString(16)}, got 0x${check.toString(16).padStart(2, "0")}`,
      `${where}.bootImage`,
    );
  }

  // core.img: diskboot.img's blocklist must describe the rest of the image.
  const coreSectors = Math.ceil(coreImage.length / GRUB_SECTOR_BYTES);
  if (coreSectors < 2) {
    fail("E_LAYOUT", `${img.coreImageName} is ${coreImage.length} bytes; a core.img from grub-mkimage -O i386-pc is at least two sectors`, `${where}.coreImage`);
  }
  if (coreSectors > partitionSectors) {
    fail(
      "E_FIT",
      `${img.coreImageName} needs ${coreSectors} sectors (${coreImage.length} bytes); the BIOS boot partition has ${partitionSectors}. Make the bios-boot partition larger (1M is usual)`,
      `${where}.coreImage`,
    );
  }
  const core = new Uint8Array(coreSectors * GRUB_SECTOR_BYTES); // zero padding to a whole sector
  core.set(coreImage, 0);
  const list = GrubBootBlocklist.decode(core, DISKBOOT_FIRST_BLOCKLIST);
  if (list.len !== coreSectors - 1) {
    fail(
      "E_LAYOUT",
      `${img.coreImageName} is not a core.img from grub-mkimage -O i386-pc: GrubBootBlocklist.len at 0x${DISKBOOT_FIRST_BLOCKLIST.toString(16)} is ${list.len}, expected ${coreSectors - 1} (its size in sectors minus diskboot.img)`,
      `${where}.coreImage`,
    );
  }
  // core.img's sectors 1..n follow diskboot.img directly.
  GrubBootBlocklist.encodeInto({ start: partitionStartLba + 1, len: list.len, segment: list.segment }, core, DISKBOOT_FIRST_BLOCKLIST);

  // boot.img → MBR boot code: kernel_sector, and the drive check turned into NOPs.
  const boot = new Uint8Array(BOOT_IMG_BYTES);
  boot.set(bootImage, 0);
  const bv = view(boot);
  u64le(bv, BOOT_MACHINE_KERNEL_SECTOR, partitionStartLba, "boot.img kernel_sector at 0x5c");
  boot[BOOT_MACHINE_DRIVE_CHECK] = X86_NOP;
  boot[BOOT_MACHINE_DRIVE_CHECK + 1] = X86_NOP;
  return { mbrBootCode: boot.subarray(0, MBR_BOOT_CODE_BYTES), core, coreSectors };
}

/** Reads the patched kernel_sector back (for tests and inspection). */
export function bootKernelSector(mbr: Uint8Array): number {
  return r64le(view(mbr), BOOT_MACHINE_KERNEL_SECTOR, "boot.img kernel_sector at 0x5c");
}

/** The planned content of the BIOS boot partition: core.img at its start, zeros after. */
export function grubCoreRegion(inst: GrubBiosInstall, partitionBytes: number): PlannedRegion {
  return { sizeBytes: partitionBytes, extents: () => [bytesExtent(0, inst.core)] };
}
