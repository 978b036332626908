/** VMDK streamOptimized writer and reader (VMware Virtual Disk Format 1.1). */
export { VmdkSink, type VmdkOptions, type SequentialOut } from "./sink.js";
export { type VmdkAdapterType, VMDK_EXTENT_FILE_NAME } from "./descriptor.js";
export { openVmdk, type VmdkImage } from "./reader.js";
