/**
 * The virtual machine an OVF descriptor or Vagrant box describes: user
 * options with their defaults, checked, plus the identifiers derived from the
 * build seed. Nothing here reads a clock or a random source.
 *
 * Identifiers (BuildContext.namedUuid = derive(seed, "mkdisk:" + purpose)):
 *   machine UUID   namedUuid("ovf-machine-uuid")    vbox:Machine/@uuid
 *   disk UUID      namedUuid("vmdk-ddb-uuid")        DiskSection Disk/@vbox:uuid and
 *                                                    vbox:Machine .../Image/@uuid; the
 *                                                    same purpose the VMDK writer uses
 *                                                    for ddb.uuid, so the OVF names the
 *                                                    disk by the id the disk carries
 *   MAC address    "080027" + the first 3 bytes of namedUuid("ovf-mac")
 *                  (08:00:27 is the prefix VirtualBox uses for its NICs)
 */
import { fail } from "../bin/errors.js";
import { formatUuid, type Uuid } from "../bin/guid.js";
import type { BuildContext } from "../context/index.js";

export type Firmware = "bios" | "efi";
export type DiskController = "ide" | "sata";

export interface MachineOptions {
  /** Machine name (VirtualSystem id, vbox:Machine name). Default "mkdisk". 1-64 characters, no control characters. */
  readonly name?: string;
  /** VirtualBox guest OS type id (OS_TYPES). Default "Linux_64". */
  readonly osType?: string;
  /** Virtual CPUs, 1-64. Default 2. */
  readonly cpus?: number;
  /** Memory in MiB, 4-1048576. Default 1024. */
  readonly memoryMiB?: number;
  /** Default "bios". */
  readonly firmware?: Firmware;
  /** Controller the disk hangs on. Default "sata" (AHCI); "ide" is PIIX4. */
  readonly controller?: DiskController;
}

export interface Machine {
  readonly name: string;
  /** `name` restricted to [A-Za-z0-9._-] (others, and a leading ".", become "_"): the stem of OVA member names. */
  readonly fileStem: string;
  readonly osType: string;
  /** CIM_OperatingSystem OsType value for OperatingSystemSection/@ovf:id. */
  readonly cimOsId: number;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly firmware: Firmware;
  readonly controller: DiskController;
  readonly machineUuid: Uuid;
  readonly diskUuid: Uuid;
  /** 12 upper-case hex digits, no separators (VirtualBox's and Vagrant's base_mac form). */
  readonly macAddress: string;
}

/**
 * VirtualBox guest OS type ids this module accepts, with the CIM OsType
 * value (CIM_OperatingSystem.OsType, as VirtualBox's OVF reader maps them)
 * written to OperatingSystemSection/@ovf:id. VirtualBox itself takes the
 * precise type from vbox:OSType and vbox:Machine/@OSType.
 */
export const OS_TYPES: Readonly<Record<string, number>> = {
  Linux: 36,
  Linux_64: 101,
  Linux26: 99,
  Linux26_64: 100,
  Debian: 95,
  Debian_64: 96,
  Ubuntu: 93,
  Ubuntu_64: 94,
  RedHat: 79,
  RedHat_64: 80,
  Oracle: 108,
  Oracle_64: 109,
  OpenSUSE: 82,
  OpenSUSE_64: 83,
  Fedora: 36,
  Fedora_64: 101,
  ArchLinux: 36,
  ArchLinux_64: 101,
  Gentoo: 36,
  Gentoo_64: 101,
  Other: 1,
  Other_64: 102,
};

export const DEFAULT_MACHINE = {
  name: "mkdisk",
  osType: "Linux_64",
  cpus: 2,
  memoryMiB: 1024,
  firmware: "bios" as Firmware,
  controller: "sata" as DiskController,
};

/** The VirtualBox MAC prefix (08:00:27). */
export const VBOX_MAC_PREFIX = "080027";

function intIn(v: unknown, lo: number, hi: number, where: string, code: "E_USAGE" | "E_LAYOUT"): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < lo || v > hi) fail(code, `expected a whole number from ${lo} to ${hi}, got ${JSON.stringify(v)}`, where);
  return v;
}

/**
 * Checks machine settings, with defaults filled in; `where` prefixes each
 * field's location. The layout parser calls it (E_LAYOUT at
 * outputs[i].machine); resolveMachine calls it for library callers (E_USAGE).
 */
export function checkMachine(opts: MachineOptions | undefined, where = "machine", code: "E_USAGE" | "E_LAYOUT" = "E_USAGE") {
  const o = opts ?? {};
  const name = o.name ?? DEFAULT_MACHINE.name;
  if (typeof name !== "string" || name.length === 0 || [...name].length > 64) fail(code, `machine name must be 1-64 characters`, `${where}.name`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) fail(code, `machine name must not contain control characters`, `${where}.name`);
  const osType = o.osType ?? DEFAULT_MACHINE.osType;
  if (!Object.prototype.hasOwnProperty.call(OS_TYPES, osType)) {
    fail(code, `unknown VirtualBox OS type ${JSON.stringify(osType)}; use one of ${Object.keys(OS_TYPES).join(", ")}`, `${where}.osType`);
  }
  const firmware = o.firmware ?? DEFAULT_MACHINE.firmware;
  if (firmware !== "bios" && firmware !== "efi") fail(code, `firmware must be "bios" or "efi", got ${JSON.stringify(firmware)}`, `${where}.firmware`);
  const controller = o.controller ?? DEFAULT_MACHINE.controller;
  if (controller !== "ide" && controller !== "sata") fail(code, `controller must be "ide" or "sata", got ${JSON.stringify(controller)}`, `${where}.controller`);
  const cpus = intIn(o.cpus ?? DEFAULT_MACHINE.cpus, 1, 64, `${where}.cpus`, code);
  const memoryMiB = intIn(o.memoryMiB ?? DEFAULT_MACHINE.memoryMiB, 4, 1 << 20, `${where}.memoryMiB`, code);
  return { name, osType, firmware, controller, cpus, memoryMiB };
}

export function resolveMachine(opts: MachineOptions | undefined, ctx: BuildContext): Machine {
  const { name, osType, firmware, controller, cpus, memoryMiB } = checkMachine(opts);
  const mac = ctx.namedUuid("ovf-mac");
  return {
    name,
    fileStem: name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\./, "_"),
    osType,
    cimOsId: OS_TYPES[osType],
    cpus,
    memoryMiB,
    firmware,
    controller,
    machineUuid: ctx.namedUuid("ovf-machine-uuid"),
    diskUuid: ctx.namedUuid("vmdk-ddb-uuid"),
    macAddress: VBOX_MAC_PREFIX + Array.from(mac.subarray(0, 3), (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase(),
  };
}

/** `{xxxxxxxx-...}`: the braced form VirtualBox settings use for ids. */
export function bracedUuid(u: Uuid): string {
  return `{${formatUuid(u)}}`;
}
