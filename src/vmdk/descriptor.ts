/**
 * The embedded descriptor of a streamOptimized VMDK, VMware Virtual Disk
 * Format 1.1 ("The Descriptor File"). Plain ASCII lines, '\n' ends.
 *
 * Nothing in it depends on the output path, the host or the clock: the CID
 * and ddb.uuid come from the build seed, the extent file name is fixed (a
 * monolithic stream-optimized file is its own extent: qemu and VirtualBox
 * read the grains from the file they opened, not from this name).
 */
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";
import type { Uuid } from "../bin/guid.js";
import { SECTOR_BYTES } from "./header.js";

export type VmdkAdapterType = "ide" | "lsilogic" | "buslogic" | "legacyESX";
export const VMDK_ADAPTER_TYPES: readonly VmdkAdapterType[] = ["ide", "lsilogic", "buslogic", "legacyESX"];
/** The extent name written in every descriptor. */
export const VMDK_EXTENT_FILE_NAME = "disk.vmdk";
export const VMDK_VIRTUAL_HW_VERSION = "4";
/** parentCID of a disk without a parent. */
export const CID_NOPARENT = 0xffffffff;

export interface Geometry {
  cylinders: number;
  heads: number;
  sectors: number;
}

/**
 * The geometry qemu writes: 63 sectors per track; 16 heads for IDE, 255 for
 * the SCSI adapters (what VMware uses for them); cylinders = size / (63 * heads * 512),
 * rounded down.
 */
export function vmdkGeometry(capacitySectors: number, adapter: VmdkAdapterType): Geometry {
  const heads = adapter === "ide" ? 16 : 255;
  return { cylinders: Math.floor(capacitySectors / (63 * heads)), heads, sectors: 63 };
}

/** CID: the first 4 bytes of a seed-derived UUID, never the "no parent" value. */
export function cidFromUuid(u: Uuid): number {
  const cid = ((u[0] << 24) | (u[1] << 16) | (u[2] << 8) | u[3]) >>> 0;
  return cid === CID_NOPARENT ? 0xfffffffe : cid;
}

/** ddb.uuid in VMware's form: 16 hex bytes, space separated, '-' after the 8th. */
export function formatDdbUuid(u: Uuid): string {
  const h = Array.from(u, (b) => b.toString(16).padStart(2, "0"));
  return `${h.slice(0, 8).join(" ")}-${h.slice(8).join(" ")}`;
}

export interface DescriptorFields {
  capacitySectors: number;
  cid: number;
  uuid: Uuid;
  adapterType: VmdkAdapterType;
}

export function descriptorText(f: DescriptorFields): string {
  if (!VMDK_ADAPTER_TYPES.includes(f.adapterType)) fail("E_USAGE", `unknown VMDK adapter type ${JSON.stringify(f.adapterType)}`, "vmdk.adapterType");
  const g = vmdkGeometry(f.capacitySectors, f.adapterType);
  return [
    "# Disk DescriptorFile",
    "version=1",
    `CID=${f.cid.toString(16).padStart(8, "0")}`,
    `parentCID=${CID_NOPARENT.toString(16)}`,
    'createType="streamOptimized"',
    "",
    "# Extent description",
    `RW ${f.capacitySectors} SPARSE "${VMDK_EXTENT_FILE_NAME}"`,
    "",
    "# The Disk Data Base",
    "#DDB",
    "",
    `ddb.virtualHWVersion = "${VMDK_VIRTUAL_HW_VERSION}"`,
    `ddb.geometry.cylinders = "${g.cylinders}"`,
    `ddb.geometry.heads = "${g.heads}"`,
    `ddb.geometry.sectors = "${g.sectors}"`,
    `ddb.adapterType = "${f.adapterType}"`,
    `ddb.uuid = "${formatDdbUuid(f.uuid)}"`,
    "",
  ].join("\n");
}

/** The descriptor bytes, zero-padded to whole sectors. */
export function encodeDescriptor(f: DescriptorFields): Uint8Array {
  const text = utf8(descriptorText(f));
  const out = new Uint8Array(Math.ceil(text.length / SECTOR_BYTES) * SECTOR_BYTES);
  out.set(text);
  return out;
}
