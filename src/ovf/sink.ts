/**
 * Writers (file I/O) for OVA files and Vagrant boxes. This is the only file
 * of src/ovf that touches node: modules; everything it writes is planned by
 * package.ts, tar.ts and gzip.ts.
 *
 * A tar header needs its member's size before the data, and neither a qcow2
 * (header written last) nor a compressed VMDK has a size before it is
 * written. So the disk image is first written to a scratch file, then copied
 * into the archive in one sequential pass (1 MiB reads, through gzip for
 * boxes). The scratch file is created beside the output (`scratchDir`) and
 * unlinked at once: it never has a name another process could see, and its
 * space is freed when it is closed or the process ends, whatever happens.
 * While the VMDK is written, its SHA-256 (for the OVA manifest) is computed
 * from the same bytes; qcow2 needs no digest (boxes carry no manifest).
 *
 * Two entry points:
 *   BoxSink    an ImageSink: a build pumps the disk into it like into any sink;
 *              finish() writes the package to the output fd.
 *   writeBox   packages an existing qcow2 / streamOptimized VMDK file.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fail, MkdiskError } from "../bin/errors.js";
import type { BuildContext } from "../context/index.js";
import { openTempOutput } from "../io/output.js";
import { writeFully } from "../io/raw.js";
import type { ImageSink } from "../io/sink.js";
import type { Window } from "../io/windows.js";
import { isAllZero } from "../io/zero.js";
import { Qcow2Sink } from "../qcow2/index.js";
import { VmdkSink } from "../vmdk/index.js";
import { FixedChunkGzip } from "./gzip.js";
import { resolveMachine, type Machine, type MachineOptions } from "./machine.js";
import { diskFormatOf, planPackage, type PackageKind, type PackagePlan } from "./package.js";
import { encodeUstarHeader, TAR_BLOCK_BYTES, tarArchiveBytes, tarPaddingBytes } from "./tar.js";

const COPY_BYTES = 1 << 20;
const OUT_BUFFER_BYTES = 1 << 20;
/** Grain size used to measure populatedSize (the VMDK grain, 64 KiB). */
const POPULATED_UNIT_BYTES = 1 << 16;

export interface BoxOptions {
  readonly machine?: MachineOptions;
  /** Compression threads for the VMDK grains / qcow2 clusters; output does not depend on it. */
  readonly workers?: number;
  /** vagrant-libvirt: compress the qcow2 clusters (default false; the box is gzipped anyway). */
  readonly compress?: boolean;
  /** vagrant-libvirt: qcow2 cluster size (default 64 KiB). */
  readonly clusterBytes?: number;
  /** Where the scratch disk image lives while the package is written; default os.tmpdir(). Use the output's directory. */
  readonly scratchDir?: string;
}

let scratchCounter = 0;

/** A read-write file that has no name: created, then unlinked at once. */
function openScratch(dir: string): number {
  const path = join(dir, `.mkdisk-scratch-${process.pid}-${scratchCounter++}`);
  let fd: number;
  try {
    fd = openSync(path, "wx+", 0o600);
  } catch (e) {
    throw new MkdiskError("E_OUTPUT", `cannot create a scratch file for the disk image: ${(e as Error).message}`, dir);
  }
  try {
    unlinkSync(path);
  } catch (e) {
    closeSync(fd);
    throw new MkdiskError("E_OUTPUT", `cannot unlink the scratch file: ${(e as Error).message}`, path);
  }
  return fd;
}

/** Sequential writes to an fd through a 1 MiB buffer. */
class BufferedOut {
  private readonly buf = new Uint8Array(OUT_BUFFER_BYTES);
  private used = 0;
  positionBytes = 0;
  constructor(private readonly fd: number) {}
  write(bytes: Uint8Array): void {
    if (bytes.length >= OUT_BUFFER_BYTES) {
      this.flush();
      writeFully(this.fd, bytes, this.positionBytes);
      this.positionBytes += bytes.length;
      return;
    }
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, OUT_BUFFER_BYTES - this.used);
      this.buf.set(bytes.subarray(done, done + n), this.used);
      this.used += n;
      done += n;
      if (this.used === OUT_BUFFER_BYTES) this.flush();
    }
  }
  flush(): void {
    if (this.used === 0) return;
    writeFully(this.fd, this.buf.subarray(0, this.used), this.positionBytes);
    this.positionBytes += this.used;
    this.used = 0;
  }
}

const ZERO_BLOCK = new Uint8Array(TAR_BLOCK_BYTES);

/**
 * Writes the planned archive to `outFd` from offset 0: each member's header,
 * bytes (or the disk file, read from `diskFd` at 0), block padding; then the
 * end blocks and record padding; gzip-compressed when the plan says so.
 */
export function writePackage(plan: PackagePlan, diskFd: number, outFd: number, mtimeSec: number): void {
  const out = new BufferedOut(outFd);
  const gz = plan.gzip ? new FixedChunkGzip((b) => out.write(b)) : undefined;
  const emit = (b: Uint8Array) => (gz ? gz.push(b) : out.write(b));
  let tarBytes = 0;
  const put = (b: Uint8Array) => {
    emit(b);
    tarBytes += b.length;
  };
  const zeros = (n: number) => {
    while (n > 0) {
      const k = Math.min(n, ZERO_BLOCK.length);
      put(ZERO_BLOCK.subarray(0, k));
      n -= k;
    }
  };
  for (const m of plan.members) {
    put(encodeUstarHeader({ name: m.name, sizeBytes: m.sizeBytes }, { mtimeSec }));
    if (m.bytes) put(m.bytes);
    else copyFile(diskFd, m.sizeBytes, put, m.name);
    zeros(tarPaddingBytes(m.sizeBytes));
  }
  const total = tarArchiveBytes(plan.members.map((m) => m.sizeBytes));
  zeros(total - tarBytes);
  gz?.finish();
  out.flush();
}

function copyFile(fd: number, sizeBytes: number, put: (b: Uint8Array) => void, name: string): void {
  let pos = 0;
  while (pos < sizeBytes) {
    // A fresh buffer per read: gzip and the output buffer copy, but keep it simple and safe.
    const want = Math.min(COPY_BYTES, sizeBytes - pos);
    const b = new Uint8Array(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, b, got, want - got, pos + got);
      if (n === 0) fail("E_INTERNAL", `the disk image ended at ${pos + got} bytes, expected ${sizeBytes}`, name);
      got += n;
    }
    put(b);
    pos += want;
  }
}

/**
 * An ImageSink writing a Vagrant box or an OVA: the disk goes to a scratch
 * qcow2 / VMDK, finish() packages it into `outFd`.
 */
export class BoxSink implements ImageSink {
  readonly format: PackageKind;
  readonly alignBytes: number;
  private readonly machine: Machine;
  private readonly scratchFd: number;
  private readonly inner: ImageSink;
  private readonly hash: Hash | undefined;
  private scratchBytes = 0;
  private capacityBytes = -1;
  private populatedBytes = 0;
  private closed = false;

  constructor(readonly kind: PackageKind, private readonly outFd: number, private readonly ctx: BuildContext, opts: BoxOptions = {}) {
    this.format = kind;
    // Options are checked before any byte is written.
    this.machine = resolveMachine(opts.machine, ctx);
    this.scratchFd = openScratch(opts.scratchDir ?? tmpdir());
    if (diskFormatOf(kind) === "qcow2") {
      this.inner = new Qcow2Sink(this.scratchFd, { compress: opts.compress, clusterBytes: opts.clusterBytes, workers: opts.workers });
    } else {
      this.hash = kind === "ova" ? createHash("sha256") : undefined;
      this.inner = new VmdkSink(
        {
          write: (bytes) => {
            writeFully(this.scratchFd, bytes, this.scratchBytes);
            this.scratchBytes += bytes.length;
            this.hash?.update(bytes);
          },
        },
        { ctx, workers: opts.workers, adapterType: "ide" },
      );
    }
    this.alignBytes = Math.max(this.inner.alignBytes, POPULATED_UNIT_BYTES);
  }

  async begin(totalBytes: number): Promise<void> {
    this.capacityBytes = totalBytes;
    try {
      await this.inner.begin(totalBytes);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  async write(w: Window): Promise<void> {
    const d = w.data;
    for (let i = 0; i < d.length; i += POPULATED_UNIT_BYTES) {
      const end = Math.min(i + POPULATED_UNIT_BYTES, d.length);
      if (!isAllZero(d, i, end)) this.populatedBytes += end - i;
    }
    try {
      await this.inner.write(w);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  async finish(): Promise<void> {
    try {
      await this.inner.finish();
      const fileSizeBytes = fstatSync(this.scratchFd).size;
      if (this.hash && fileSizeBytes !== this.scratchBytes) fail("E_INTERNAL", `VMDK scratch holds ${fileSizeBytes} bytes, ${this.scratchBytes} were written`, this.kind);
      const plan = planPackage(this.kind, this.machine, {
        capacityBytes: this.capacityBytes,
        fileSizeBytes,
        populatedBytes: diskFormatOf(this.kind) === "vmdk" ? this.populatedBytes : undefined,
        sha256Hex: this.hash?.digest("hex"),
      });
      writePackage(plan, this.scratchFd, this.outFd, this.ctx.fsTimeSec);
    } finally {
      this.close();
    }
  }

  async abort(): Promise<void> {
    try {
      await this.inner.abort?.();
    } finally {
      this.close();
    }
  }

  /** Closes the scratch file (its space is released; it never had a visible name). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.scratchFd);
    } catch {
      /* already closed */
    }
  }
}

export interface WriteBoxOptions {
  readonly ctx: BuildContext;
  /** The .box / .ova to write (through a temporary file renamed into place). */
  readonly outPath: string;
  readonly force?: boolean;
  readonly machine?: MachineOptions;
}

/** Virtual size from a qcow2 header (size, u64 BE at 24) or a VMDK sparse header (capacity in sectors, u64 LE at 12). */
function diskCapacity(fd: number, format: "qcow2" | "vmdk", path: string): number {
  const h = new Uint8Array(512);
  const n = readSync(fd, h, 0, 512, 0);
  const d = new DataView(h.buffer);
  if (format === "qcow2") {
    if (n < 32 || d.getUint32(0, false) !== 0x514649fb) fail("E_IMAGE", `not a qcow2 image (no "QFI\\xfb" magic); vagrant-libvirt boxes hold qcow2`, path); // "QFI\xfb"
    return Number(d.getBigUint64(24, false));
  }
  if (n < 20 || d.getUint32(0, true) !== 0x564d444b) fail("E_IMAGE", `not a sparse VMDK (no "KDMV" magic); this package holds a streamOptimized VMDK`, path); // "KDMV"
  return Number(d.getBigUint64(12, true)) * 512;
}

/**
 * Packages an existing disk image: a qcow2 for "vagrant-libvirt", a
 * streamOptimized VMDK for "vagrant-virtualbox" and "ova". The ids in the OVF
 * come from `ctx`: pass the context the VMDK was written with so the OVF's
 * disk uuid equals the VMDK's ddb.uuid. populatedSize is not written (the
 * image is not decoded).
 */
export function writeBox(kind: PackageKind, diskPath: string, opts: WriteBoxOptions): void {
  const machine = resolveMachine(opts.machine, opts.ctx);
  let fd: number;
  try {
    fd = openSync(diskPath, "r");
  } catch (e) {
    throw new MkdiskError("E_IMAGE", `cannot open: ${(e as Error).message}`, diskPath);
  }
  try {
    const capacityBytes = diskCapacity(fd, diskFormatOf(kind), diskPath);
    const fileSizeBytes = fstatSync(fd).size;
    let sha256Hex: string | undefined;
    if (kind === "ova") {
      const h = createHash("sha256");
      copyFile(fd, fileSizeBytes, (b) => h.update(b), diskPath);
      sha256Hex = h.digest("hex");
    }
    const plan = planPackage(kind, machine, { capacityBytes, fileSizeBytes, sha256Hex });
    const t = openTempOutput(opts.outPath, opts.force ?? false);
    try {
      writePackage(plan, fd, t.fd, opts.ctx.fsTimeSec);
      t.commit();
    } catch (e) {
      t.abort();
      throw e;
    }
  } finally {
    closeSync(fd);
  }
}
