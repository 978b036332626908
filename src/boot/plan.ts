/**
 * Where GRUB goes on a planned disk: the first partition of type bios-boot
 * receives core.img, the protective MBR receives boot.img's boot code.
 * Pure arithmetic over the placed partitions; called by layout/plan.ts.
 */
import { fail } from "../bin/errors.js";
import type { PlannedRegion } from "../io/extent.js";
import { GRUB_SECTOR_BYTES, grubCoreRegion, installGrubBios, type GrubBiosImages } from "./grub-bios.js";

/** GPT type GUID of a BIOS boot partition ("Hah!IdontNeedEFI"). */
export const BIOS_BOOT_TYPE_GUID = "21686148-6449-6e6f-744e-656564454649";

export interface PlacedPartitionInfo {
  readonly typeGuid: string;
  readonly format?: string;
  readonly startLba: number;
  readonly sizeBytes: number;
}

export interface PlannedBiosBoot {
  /** 0-based index of the partition that holds core.img. */
  readonly partitionIndex: number;
  /** 440 bytes for the protective MBR's BootCode. */
  readonly mbrBootCode: Uint8Array;
  /** The BIOS boot partition's content (core.img, then zeros). */
  readonly region: PlannedRegion;
}

export function planBiosBoot(images: GrubBiosImages, partitions: readonly PlacedPartitionInfo[], sectorBytes: number): PlannedBiosBoot {
  if (sectorBytes !== GRUB_SECTOR_BYTES) {
    fail("E_UNSUPPORTED", `BIOS boot with GRUB needs 512-byte sectors; the layout has sectorSize ${sectorBytes}`, "biosBoot");
  }
  const i = partitions.findIndex((p) => p.typeGuid.toLowerCase() === BIOS_BOOT_TYPE_GUID);
  if (i < 0) fail("E_LAYOUT", `biosBoot needs a partition of type "bios-boot" (1M is usual) to hold core.img`, "biosBoot");
  const p = partitions[i];
  if (p.format !== undefined) fail("E_LAYOUT", `the bios-boot partition holds core.img and takes no "format"`, `partitions[${i}].format`);
  const inst = installGrubBios(images, { partitionStartLba: p.startLba, partitionSectors: p.sizeBytes / sectorBytes });
  return { partitionIndex: i, mbrBootCode: inst.mbrBootCode, region: grubCoreRegion(inst, p.sizeBytes) };
}
