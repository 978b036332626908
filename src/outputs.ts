/** Output format → ImageSink. */
import { fail } from "./bin/errors.js";
import type { BuildContext } from "./context/index.js";
import { RawSink } from "./io/raw.js";
import type { ImageSink } from "./io/sink.js";
import type { OutputFormat } from "./layout/schema.js";

export interface SinkRequest {
  readonly format: OutputFormat;
  readonly compress?: boolean;
  readonly clusterSize?: number;
}

export function createSink(o: SinkRequest, fd: number, _ctx: BuildContext, _workers?: number): ImageSink {
  switch (o.format) {
    case "raw":
      return new RawSink(fd);
    default:
      return fail("E_UNSUPPORTED", `output format "${o.format}" is not supported yet`);
  }
}
