/**
 * The OVF descriptor: DMTF DSP0243 1.0 envelope for one virtual system with
 * one streamOptimized VMDK disk and one NAT NIC, plus the vbox:Machine
 * section VirtualBox reads for the settings OVF cannot say (firmware, boot
 * order, MAC, controller layout).
 *
 *   Envelope (ovf:version 1.0; namespaces ovf, rasd, vssd, xsi, vbox)
 *     References/File             href = the VMDK member, size = its bytes
 *     DiskSection/Disk            capacity (bytes), populatedSize, format = the
 *                                 streamOptimized URI, vbox:uuid = the disk id
 *     NetworkSection/Network      "NAT"
 *     VirtualSystem
 *       OperatingSystemSection    ovf:id = CIM OsType, vbox:OSType
 *       VirtualHardwareSection    System (virtualbox-2.2); Items 1 CPU, 2 memory,
 *                                 3 disk controller, 4 disk, 5 NIC
 *       vbox:Machine              settings version 1.16: Hardware, StorageControllers;
 *                                 the attached Image/@uuid equals Disk/@vbox:uuid
 *                                 (VirtualBox matches the two when importing)
 *
 * Items list their rasd: children in alphabetical order of local name, the
 * order of the CIM_ResourceAllocationSettingData schema's sequence.
 * No time stamp is written anywhere (vbox:Machine/@lastStateChange is optional
 * and left out).
 */
import { formatUuid } from "../bin/guid.js";
import { compareBytes, utf8 } from "../bin/text.js";
import { bracedUuid, type Machine } from "./machine.js";
import { el, encodeXml, textEl, type XmlElement } from "./xml.js";

export const OVF_NS = "http://schemas.dmtf.org/ovf/envelope/1";
export const RASD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
export const VSSD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";
export const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
export const VBOX_NS = "http://www.virtualbox.org/ovf/machine";
/** DiskSection Disk/@ovf:format of a streamOptimized VMDK. */
export const VMDK_STREAM_OPTIMIZED_URI = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";
/** vbox:Machine/@version: VirtualBox settings format 1.16 (VirtualBox 6.0 and later read it). */
export const VBOX_SETTINGS_VERSION = "1.16-linux";

/** CIM ResourceType values (CIM_ResourceAllocationSettingData.ResourceType). */
export const RESOURCE_TYPE = {
  processor: 3,
  memory: 4,
  ideController: 5,
  ethernetAdapter: 10,
  hardDisk: 17,
  otherStorageDevice: 20, // SATA (AHCI) controllers, as VirtualBox writes them
} as const;

export const DISK_ID = "vmdisk1";
export const FILE_ID = "file1";
export const NETWORK_NAME = "NAT";

export interface DiskFacts {
  /** Member name of the VMDK inside the package. */
  readonly fileName: string;
  /** Size of the VMDK file in bytes. */
  readonly fileSizeBytes: number;
  /** Virtual disk size in bytes. */
  readonly capacityBytes: number;
  /** Bytes of the virtual disk that hold data (non-zero grains × grain size); optional. */
  readonly populatedBytes?: number;
}

type Rasd = Record<string, string | number>;

/** An Item with its rasd: children sorted by local name. */
function item(fields: Rasd): XmlElement {
  const keys = Object.keys(fields).sort((a, b) => compareBytes(utf8(a), utf8(b)));
  return el("Item", {}, ...keys.map((k) => textEl(`rasd:${k}`, fields[k])));
}

function hardwareItems(m: Machine): XmlElement[] {
  const cpuText = m.cpus === 1 ? "1 virtual CPU" : `${m.cpus} virtual CPUs`;
  const memText = `${m.memoryMiB} MB of memory`;
  const controllerId = 3;
  const controller: Rasd =
    m.controller === "sata"
      ? { Address: 0, Caption: "sataController0", Description: "SATA Controller", ElementName: "sataController0", InstanceID: controllerId, ResourceSubType: "AHCI", ResourceType: RESOURCE_TYPE.otherStorageDevice }
      : { Address: 0, Caption: "ideController0", Description: "IDE Controller", ElementName: "ideController0", InstanceID: controllerId, ResourceSubType: "PIIX4", ResourceType: RESOURCE_TYPE.ideController };
  return [
    item({ Caption: cpuText, Description: "Number of virtual CPUs", ElementName: cpuText, InstanceID: 1, ResourceType: RESOURCE_TYPE.processor, VirtualQuantity: m.cpus }),
    item({ AllocationUnits: "byte * 2^20", Caption: memText, Description: "Memory Size", ElementName: memText, InstanceID: 2, ResourceType: RESOURCE_TYPE.memory, VirtualQuantity: m.memoryMiB }),
    item(controller),
    item({ AddressOnParent: 0, Caption: "disk1", Description: "Disk Image", ElementName: "disk1", HostResource: `ovf:/disk/${DISK_ID}`, InstanceID: 4, Parent: controllerId, ResourceType: RESOURCE_TYPE.hardDisk }),
    item({
      AutomaticAllocation: "true", Caption: `Ethernet adapter on '${NETWORK_NAME}'`, Connection: NETWORK_NAME, ElementName: `Ethernet adapter on '${NETWORK_NAME}'`,
      InstanceID: 5, ResourceSubType: "E1000", ResourceType: RESOURCE_TYPE.ethernetAdapter,
    }),
  ];
}

function vboxMachine(m: Machine): XmlElement {
  const is64 = m.osType.endsWith("_64");
  const storage =
    m.controller === "sata"
      ? { name: "SATA Controller", type: "AHCI", PortCount: 1, useHostIOCache: "false", Bootable: "true" }
      : { name: "IDE Controller", type: "PIIX4", PortCount: 2, useHostIOCache: "true", Bootable: "true" };
  return el(
    "vbox:Machine",
    { "ovf:required": "false", version: VBOX_SETTINGS_VERSION, uuid: bracedUuid(m.machineUuid), name: m.name, OSType: m.osType, snapshotFolder: "Snapshots" },
    textEl("ovf:Info", "Complete VirtualBox machine configuration in VirtualBox format"),
    el(
      "Hardware",
      {},
      el("CPU", { count: m.cpus }, el("PAE", { enabled: "true" }), is64 && el("LongMode", { enabled: "true" }), el("X2APIC", { enabled: "true" })),
      el("Memory", { RAMSize: m.memoryMiB }),
      m.firmware === "efi" && el("Firmware", { type: "EFI" }),
      el("Boot", {}, ...[1, 2, 3, 4].map((p) => el("Order", { position: p, device: p === 1 ? "HardDisk" : "None" }))),
      el("BIOS", {}, el("ACPI", { enabled: "true" }), el("IOAPIC", { enabled: "true" })),
      el("Network", {}, el("Adapter", { slot: 0, enabled: "true", MACAddress: m.macAddress, type: "82540EM" }, el("NAT"))),
      el("RTC", { localOrUTC: "UTC" }),
    ),
    el(
      "StorageControllers",
      {},
      el(
        "StorageController",
        storage,
        el("AttachedDevice", { type: "HardDisk", hotpluggable: "false", port: 0, device: 0 }, el("Image", { uuid: bracedUuid(m.diskUuid) })),
      ),
    ),
  );
}

/** The descriptor as an element tree. */
export function ovfEnvelope(m: Machine, disk: DiskFacts): XmlElement {
  return el(
    "Envelope",
    {
      xmlns: OVF_NS, "xmlns:ovf": OVF_NS, "xmlns:rasd": RASD_NS, "xmlns:vssd": VSSD_NS, "xmlns:xsi": XSI_NS, "xmlns:vbox": VBOX_NS,
      "ovf:version": "1.0", "xml:lang": "en-US",
    },
    el("References", {}, el("File", { "ovf:id": FILE_ID, "ovf:href": disk.fileName, "ovf:size": disk.fileSizeBytes })),
    el(
      "DiskSection",
      {},
      textEl("Info", "List of the virtual disks used in the package"),
      el("Disk", {
        "ovf:capacity": disk.capacityBytes, "ovf:diskId": DISK_ID, "ovf:fileRef": FILE_ID, "ovf:format": VMDK_STREAM_OPTIMIZED_URI,
        "ovf:populatedSize": disk.populatedBytes, "vbox:uuid": formatUuid(m.diskUuid),
      }),
    ),
    el("NetworkSection", {}, textEl("Info", "Logical networks used in the package"), el("Network", { "ovf:name": NETWORK_NAME }, textEl("Description", "Logical network used by this appliance."))),
    el(
      "VirtualSystem",
      { "ovf:id": m.name },
      textEl("Info", "A virtual machine"),
      textEl("Name", m.name),
      el(
        "OperatingSystemSection",
        { "ovf:id": m.cimOsId },
        textEl("Info", "The kind of installed guest operating system"),
        textEl("Description", m.osType),
        textEl("vbox:OSType", m.osType, { "ovf:required": "false" }),
      ),
      el(
        "VirtualHardwareSection",
        {},
        textEl("Info", "Virtual hardware requirements for a virtual machine"),
        el(
          "System",
          {},
          textEl("vssd:ElementName", "Virtual Hardware Family"),
          textEl("vssd:InstanceID", 0),
          textEl("vssd:VirtualSystemIdentifier", m.name),
          textEl("vssd:VirtualSystemType", "virtualbox-2.2"),
        ),
        ...hardwareItems(m),
      ),
      vboxMachine(m),
    ),
  );
}

/** The descriptor bytes (UTF-8). */
export function encodeOvf(m: Machine, disk: DiskFacts): Uint8Array {
  return encodeXml(ovfEnvelope(m, disk));
}
