/** Output format → ImageSink. */
import type { BuildContext } from "./context/index.js";
import { RawSink, writeFully } from "./io/raw.js";
import type { ImageSink } from "./io/sink.js";
import type { OutputFormat } from "./layout/schema.js";
import { Qcow2Sink } from "./qcow2/index.js";
import { VmdkSink, type SequentialOut } from "./vmdk/index.js";
import { dirname } from "node:path";
import { BoxSink, type MachineOptions } from "./ovf/index.js";

export interface SinkRequest {
  readonly format: OutputFormat;
  readonly compress?: boolean;
  readonly clusterSize?: number;
  /** The output path: packaged formats (boxes, OVA) keep their scratch disk image in its directory. */
  readonly path?: string;
  /** Virtual machine settings for the packaged formats (OVF, Vagrantfile). */
  readonly machine?: MachineOptions;
}

/** Sequential writes to a file descriptor at its current position (a file or stdout). */
export function fdStream(fd: number): SequentialOut {
  return { write: (bytes) => writeFully(fd, bytes, null) };
}

export function createSink(o: SinkRequest, fd: number, ctx: BuildContext, workers?: number): ImageSink {
  switch (o.format) {
    case "raw":
      return new RawSink(fd);
    case "qcow2":
      return new Qcow2Sink(fd, { clusterBytes: o.clusterSize, compress: o.compress, workers });
    case "vmdk":
      return new VmdkSink(fdStream(fd), { ctx, workers });
    case "vagrant-libvirt":
    case "vagrant-virtualbox":
    case "ova":
      return new BoxSink(o.format, fd, ctx, {
        machine: o.machine, workers, compress: o.compress, clusterBytes: o.clusterSize, scratchDir: o.path ? dirname(o.path) || "." : undefined,
      });
  }
}
