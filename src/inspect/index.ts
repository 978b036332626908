/**
 * `mkdisk inspect IMAGE`: the partition table and, per partition, what
 * filesystem it holds and its identity. Raw images are read directly; qcow2
 * and VMDK through readers.ts.
 */
import { closeSync, openSync, readSync, fstatSync } from "node:fs";
import { MkdiskError } from "../bin/errors.js";
import { readGpt, type ReadAt } from "../gpt/read.js";
import { detectFormat } from "../convert.js";
import { openRandomReader } from "../readers.js";
import { probeFs, type FsInfo } from "./fs.js";

export interface InspectResult {
  readonly format: string;
  readonly virtualBytes: number;
  readonly table: "gpt";
  readonly diskGuid: string;
  readonly sectorBytes: number;
  readonly problems: readonly string[];
  readonly partitions: readonly {
    number: number; type: string; typeGuid: string; uuid: string; label: string;
    startLba: number; sizeBytes: number; attributes: number[]; filesystem: FsInfo;
  }[];
}

export interface RandomReader {
  readonly virtualBytes: number;
  readAt: ReadAt;
  close(): void;
}

export function openRawReader(path: string): RandomReader {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new MkdiskError("E_IMAGE", `cannot open: ${(e as Error).message}`, path);
  }
  const size = fstatSync(fd).size;
  return {
    virtualBytes: size,
    readAt(off, len) {
      const n = Math.max(0, Math.min(len, size - off));
      const b = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const r = readSync(fd, b, done, n - done, off + done);
        if (r === 0) break;
        done += r;
      }
      return b.subarray(0, done);
    },
    close: () => closeSync(fd),
  };
}

export function openAnyImage(path: string): { format: string; reader: RandomReader } {
  const format = detectFormat(path);
  return { format, reader: format === "raw" ? openRawReader(path) : openRandomReader(path, format) };
}

export function inspectImage(path: string): InspectResult {
  const { format, reader } = openAnyImage(path);
  try {
    const gpt = readGpt(reader.readAt, reader.virtualBytes);
    return {
      format,
      virtualBytes: reader.virtualBytes,
      table: "gpt",
      diskGuid: gpt.diskGuid,
      sectorBytes: gpt.sectorBytes,
      problems: gpt.problems,
      partitions: gpt.partitions.map((p) => {
        const start = p.startLba * gpt.sectorBytes;
        const sizeBytes = (p.endLba - p.startLba + 1) * gpt.sectorBytes;
        const bits: number[] = [];
        for (let b = 0; b < 64; b++) if ((p.attributes >> BigInt(b)) & 1n) bits.push(b);
        return {
          number: p.number, type: p.typeName ?? p.typeGuid, typeGuid: p.typeGuid, uuid: p.uuid, label: p.label,
          startLba: p.startLba, sizeBytes, attributes: bits,
          filesystem: probeFs((o, l) => reader.readAt(start + o, Math.min(l, sizeBytes - o)), sizeBytes),
        };
      }),
    };
  } finally {
    reader.close();
  }
}
