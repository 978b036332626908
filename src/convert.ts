/**
 * Converting an existing image: raw (any file), qcow2 and VMDK inputs through
 * readers of our own, into raw, qcow2 or VMDK, in one pass. All-zero clusters
 * are detected by content, so a dense raw file converts as compactly as a
 * sparse one.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { fail, MkdiskError } from "./bin/errors.js";
import { BuildContext } from "./context/index.js";
import type { Extent } from "./io/extent.js";
import { kindOf } from "./io/filekind.js";
import { abortAll, commitAll, flushingProgress, namingOutput, openTempOutput } from "./io/output.js";
import { pump } from "./io/pump.js";
import type { OutputFormat } from "./layout/schema.js";
import { createSink } from "./outputs.js";
import { clusterBytesFor } from "./qcow2/plan.js";
import type { ImageSink } from "./io/sink.js";
import { openImageReader } from "./readers.js";

export interface ConvertOptions {
  readonly input: string;
  readonly output: string;
  readonly format: OutputFormat;
  readonly compress?: boolean;
  readonly clusterSize?: number;
  /** Seed for VMDK ids (CID, ddb.uuid); default: derived from nothing (fixed). */
  readonly seed?: string;
  readonly force?: boolean;
  readonly workers?: number;
}

export type InputFormat = "raw" | "qcow2" | "vmdk";

/** How a text VMDK descriptor starts. */
const DESCRIPTOR_FILE = "# Disk DescriptorFile";

export function detectFormat(path: string): InputFormat {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new MkdiskError("E_IMAGE", `cannot open: ${(e as Error).message}`, path);
  }
  // Images are read at random offsets: a pipe would block or fail; a directory is no image.
  // A block device's size is not its stat size (0) and Node cannot ask the kernel for it: copy it to a file.
  if (!st.isFile()) {
    const hint = st.isFIFO() ? " (images are read at random offsets: save it to a file first)" : st.isBlockDevice() ? " (copy the device to an image file first, e.g. with dd)" : "";
    fail("E_IMAGE", `is ${kindOf(st)}, not an image file${hint}`, path);
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new MkdiskError("E_IMAGE", `cannot open: ${(e as Error).message}`, path);
  }
  try {
    const b = Buffer.alloc(DESCRIPTOR_FILE.length);
    const n = readSync(fd, b, 0, b.length, 0);
    if (n >= 4 && b[0] === 0x51 && b[1] === 0x46 && b[2] === 0x49 && b[3] === 0xfb) return "qcow2"; // "QFI\xfb"
    if (n >= 4 && b[0] === 0x4b && b[1] === 0x44 && b[2] === 0x4d && b[3] === 0x56) return "vmdk"; // "KDMV"
    const t = Buffer.alloc(6);
    if (readSync(fd, t, 0, 6, 257) === 6 && t.toString("latin1", 0, 5) === "ustar") {
      fail("E_IMAGE", `a tar archive, not a disk image (an OVA or a Vagrant box is one): extract the disk from it first (tar -xf)`, path);
    }
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) fail("E_IMAGE", `gzip data, not a disk image (a Vagrant box or a compressed image?): decompress or extract it first`, path);
    if (n === b.length && b.toString("latin1") === DESCRIPTOR_FILE) {
      // monolithicFlat, twoGbMaxExtent*, vmfs: the data is in other files the descriptor names.
      fail("E_UNSUPPORTED", `a VMDK descriptor file (its data is in separate extent files); only single-file VMDKs are read: convert it to one first (e.g. qemu-img convert -O vmdk -o subformat=streamOptimized)`, path);
    }
    return "raw";
  } finally {
    closeSync(fd);
  }
}

export async function convertImage(opts: ConvertOptions): Promise<{ format: InputFormat; virtualBytes: number }> {
  const inFormat = detectFormat(opts.input);
  let extents: Iterable<Extent>;
  let virtualBytes: number;
  let close = () => {};
  if (inFormat === "raw") {
    virtualBytes = statSync(opts.input).size;
    extents = virtualBytes ? [{ offsetBytes: 0, lengthBytes: virtualBytes, source: { kind: "file", path: opts.input, fileOffsetBytes: 0 } }] : [];
  } else {
    const r = openImageReader(opts.input, inFormat);
    virtualBytes = r.virtualBytes;
    extents = r.extents();
    close = () => r.close();
  }
  const ctx = new BuildContext({ seed: opts.seed ?? "00000000-0000-4000-8000-000000000000" });
  const t = openTempOutput(opts.output, opts.force ?? false);
  let sink: ImageSink | undefined;
  try {
    // Convert has no cluster-size option: a disk too large for 64 KiB clusters gets larger ones, as qemu-img needs too.
    const qcow = opts.format === "qcow2" || opts.format === "vagrant-libvirt";
    const clusterSize = opts.clusterSize ?? (qcow ? clusterBytesFor(virtualBytes) : undefined);
    sink = await createSink({ format: opts.format, compress: opts.compress, clusterSize }, t.fd, ctx, opts.workers);
    await pump(extents, virtualBytes, [sink], flushingProgress([t]));
    await commitAll([t]);
  } catch (e) {
    await Promise.resolve(sink?.abort?.()).catch(() => {});
    await abortAll([t]);
    throw namingOutput(e, [opts.output]);
  } finally {
    close();
  }
  return { format: inFormat, virtualBytes };
}
