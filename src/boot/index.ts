export {
  installGrubBios, bootKernelSector, grubCoreRegion, GrubBootBlocklist,
  BOOT_IMG_BYTES, MBR_BOOT_CODE_BYTES, GRUB_SECTOR_BYTES, BOOT_MACHINE_KERNEL_SECTOR, BOOT_MACHINE_DRIVE_CHECK, DISKBOOT_FIRST_BLOCKLIST,
  type GrubBiosImages, type GrubBiosTarget, type GrubBiosInstall,
} from "./grub-bios.js";
export { planBiosBoot, BIOS_BOOT_TYPE_GUID, type PlannedBiosBoot, type PlacedPartitionInfo } from "./plan.js";
