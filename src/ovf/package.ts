/**
 * What goes into each package, in which order (pure: no I/O).
 *
 *   vagrant-libvirt     gzip(tar): metadata.json, Vagrantfile, box.img (qcow2)
 *   vagrant-virtualbox  gzip(tar): metadata.json, Vagrantfile, box.ovf,
 *                       box-disk001.vmdk (streamOptimized)
 *   ova                 tar (uncompressed, DSP0243 §5.3: the descriptor first):
 *                       <stem>.ovf, <stem>-disk001.vmdk, <stem>.mf
 *
 * The OVA manifest (.mf) has one line per other member, in member order:
 * `SHA256(<name>)= <64 lower-case hex digits>\n` (DSP0243 2.x manifest form,
 * read by VirtualBox 4.2 and later).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";
import { encodeOvf } from "./descriptor.js";
import type { Machine } from "./machine.js";
import { vagrantfile, vagrantMetadata } from "./vagrant.js";

export const PACKAGE_KINDS = ["vagrant-libvirt", "vagrant-virtualbox", "ova"] as const;
export type PackageKind = (typeof PACKAGE_KINDS)[number];

/** The disk image format each package holds. */
export function diskFormatOf(kind: PackageKind): "qcow2" | "vmdk" {
  return kind === "vagrant-libvirt" ? "qcow2" : "vmdk";
}

export interface PackageDisk {
  /** Virtual disk size in bytes. */
  readonly capacityBytes: number;
  /** Size of the disk image file in bytes. */
  readonly fileSizeBytes: number;
  /** Data-holding bytes of the virtual disk, for DiskSection/@ovf:populatedSize (optional). */
  readonly populatedBytes?: number;
  /** SHA-256 of the disk image file, lower-case hex; required for "ova" (manifest). */
  readonly sha256Hex?: string;
}

export interface PlannedMember {
  readonly name: string;
  readonly sizeBytes: number;
  /** The member's bytes; absent for the disk image, which is streamed from its file. */
  readonly bytes?: Uint8Array;
}

export interface PackagePlan {
  readonly kind: PackageKind;
  readonly gzip: boolean;
  readonly members: readonly PlannedMember[];
}

function bytesMember(name: string, bytes: Uint8Array): PlannedMember {
  return { name, sizeBytes: bytes.length, bytes };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function manifestText(entries: readonly { name: string; sha256Hex: string }[]): Uint8Array {
  return utf8(entries.map((e) => `SHA256(${e.name})= ${e.sha256Hex}\n`).join(""));
}

export function planPackage(kind: PackageKind, m: Machine, disk: PackageDisk): PackagePlan {
  switch (kind) {
    case "vagrant-libvirt":
      return {
        kind, gzip: true,
        members: [
          bytesMember("metadata.json", vagrantMetadata("libvirt", disk.capacityBytes)),
          bytesMember("Vagrantfile", vagrantfile("libvirt", m)),
          { name: "box.img", sizeBytes: disk.fileSizeBytes },
        ],
      };
    case "vagrant-virtualbox": {
      const vmdkName = "box-disk001.vmdk";
      const ovf = encodeOvf(m, { fileName: vmdkName, fileSizeBytes: disk.fileSizeBytes, capacityBytes: disk.capacityBytes, populatedBytes: disk.populatedBytes });
      return {
        kind, gzip: true,
        members: [
          bytesMember("metadata.json", vagrantMetadata("virtualbox", disk.capacityBytes)),
          bytesMember("Vagrantfile", vagrantfile("virtualbox", m)),
          bytesMember("box.ovf", ovf),
          { name: vmdkName, sizeBytes: disk.fileSizeBytes },
        ],
      };
    }
    case "ova": {
      if (disk.sha256Hex === undefined || !/^[0-9a-f]{64}$/.test(disk.sha256Hex)) fail("E_INTERNAL", `an OVA needs the disk's SHA-256`, "ova");
      const ovfName = `${m.fileStem}.ovf`;
      const vmdkName = `${m.fileStem}-disk001.vmdk`;
      const ovf = encodeOvf(m, { fileName: vmdkName, fileSizeBytes: disk.fileSizeBytes, capacityBytes: disk.capacityBytes, populatedBytes: disk.populatedBytes });
      const mf = manifestText([
        { name: ovfName, sha256Hex: hex(sha256(ovf)) },
        { name: vmdkName, sha256Hex: disk.sha256Hex },
      ]);
      return {
        kind, gzip: false,
        members: [bytesMember(ovfName, ovf), { name: vmdkName, sizeBytes: disk.fileSizeBytes }, bytesMember(`${m.fileStem}.mf`, mf)],
      };
    }
    default:
      return fail("E_USAGE", `unknown package kind ${JSON.stringify(kind)}`, "package");
  }
}
