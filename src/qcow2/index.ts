/** qcow2 v3 image writer and reader (qemu docs/interop/qcow2.txt). */
export { Qcow2Sink, type Qcow2Options } from "./sink.js";
export { Qcow2Header, QCOW2_MAGIC, QCOW2_VERSION } from "./header.js";
export { openQcow2, type Qcow2Image, type ReadAt } from "./reader.js";
