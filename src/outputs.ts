/** Output format → ImageSink. */
import type { BuildContext } from "./context/index.js";
import { RawSink, writeFully } from "./io/raw.js";
import type { ImageSink } from "./io/sink.js";
import type { OutputFormat } from "./layout/schema.js";
import type { SequentialOut } from "./vmdk/index.js";
import { dirname } from "node:path";
import { createHash } from "node:crypto";
import { MkdiskError } from "./bin/errors.js";
import type { MachineOptions } from "./ovf/index.js";

export interface SinkRequest {
  readonly format: OutputFormat;
  readonly compress?: boolean;
  readonly clusterSize?: number;
  /** The output path: packaged formats (boxes, OVA) keep their scratch disk image in its directory. */
  readonly path?: string;
  /** Virtual machine settings for the packaged formats (OVF, Vagrantfile). */
  readonly machine?: MachineOptions;
}

/** Sequential writes to a file descriptor at its current position. */
export function fdStream(fd: number): SequentialOut {
  return { write: (bytes) => writeFully(fd, bytes, null) };
}

/**
 * Sequential writes to a Node stream (stdout), waiting for 'drain' when its
 * buffer is full so memory stays bounded, and hashing what passes.
 */
export class StreamOut implements SequentialOut {
  private readonly hash = createHash("sha256");
  private failure: Error | undefined;
  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on("error", (e: Error) => (this.failure ??= e));
  }
  async write(bytes: Uint8Array): Promise<void> {
    this.check();
    this.hash.update(bytes);
    if (!this.stream.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off("drain", done);
          this.stream.off("error", done);
          resolve();
        };
        this.stream.on("drain", done);
        this.stream.on("error", done);
      });
    }
    this.check();
  }
  /** Waits until everything written has been handed to the operating system; returns the SHA-256. */
  async end(): Promise<string> {
    await new Promise<void>((resolve) => this.stream.write(new Uint8Array(0), () => resolve()));
    this.check();
    return this.hash.digest("hex");
  }
  private check(): void {
    if (this.failure) throw new MkdiskError("E_OUTPUT", `writing to the output stream failed: ${this.failure.message}`, "-");
  }
}

/**
 * The writer for a format. Writers other than raw are loaded on first use, so
 * a raw build does not pay for loading the qcow2, VMDK, OVF and deflate code.
 */
export async function createSink(o: SinkRequest, fd: number, ctx: BuildContext, workers?: number): Promise<ImageSink> {
  switch (o.format) {
    case "raw":
      return new RawSink(fd);
    case "qcow2": {
      const { Qcow2Sink } = await import("./qcow2/index.js");
      return new Qcow2Sink(fd, { clusterBytes: o.clusterSize, compress: o.compress, workers });
    }
    case "vmdk": {
      const { VmdkSink } = await import("./vmdk/index.js");
      return new VmdkSink(fdStream(fd), { ctx, workers });
    }
    case "vagrant-libvirt":
    case "vagrant-virtualbox":
    case "ova": {
      const { BoxSink } = await import("./ovf/index.js");
      return new BoxSink(o.format, fd, ctx, {
        machine: o.machine, workers, compress: o.compress, clusterBytes: o.clusterSize, scratchDir: o.path ? dirname(o.path) || "." : undefined,
      });
    }
  }
}
