/** OVF descriptors, OVA packages and Vagrant boxes (libvirt, VirtualBox), byte-reproducible. */
export { BoxSink, writeBox, writePackage, type BoxOptions, type WriteBoxOptions } from "./sink.js";
export { PACKAGE_KINDS, diskFormatOf, planPackage, manifestText, type PackageKind, type PackageDisk, type PackagePlan, type PlannedMember } from "./package.js";
export { resolveMachine, DEFAULT_MACHINE, OS_TYPES, type Machine, type MachineOptions, type Firmware, type DiskController } from "./machine.js";
export { ovfEnvelope, encodeOvf, VMDK_STREAM_OPTIMIZED_URI, type DiskFacts } from "./descriptor.js";
export { vagrantMetadata, vagrantfile, type VagrantProvider } from "./vagrant.js";
export { el, textEl, serializeXml, encodeXml, escapeText, escapeAttr, type XmlElement, type XmlNode } from "./xml.js";
export { encodeUstarHeader, tarArchiveBytes, tarPaddingBytes, USTAR_MAX_OCTAL_SIZE } from "./tar.js";
export { FixedChunkGzip, GZIP_LEVEL } from "./gzip.js";
