/**
 * Deterministic streaming gzip (RFC 1952) with fflate's `Gzip` class.
 *
 * Member header (10 bytes): ID1 ID2 = 1f 8b, CM = 8 (deflate), FLG = 0 (no
 * name, comment or extra field), MTIME = 0 (we pass mtime: 0; fflate's default
 * would be the current time), XFL = 0 (what fflate writes for level 6),
 * OS = 3 (Unix; fflate always writes 3). Trailer: CRC-32 and ISIZE (size mod 2^32).
 *
 * fflate's streaming deflater decides where blocks end from how much input it
 * has buffered, so its output depends on how the input is cut into pushes.
 * `FixedChunkGzip` therefore re-cuts the input into CHUNK_BYTES pieces at fixed
 * offsets before pushing: the compressed bytes are a function of the input
 * bytes alone, whatever sizes the caller writes in. The level is pinned to
 * the qcow2/VMDK compressors' DEFLATE_LEVEL (src/io/deflate-pool.ts; a test
 * keeps the two equal; not imported, so this file needs nothing from node:).
 */
import { Gzip } from "fflate";

/** Input piece size handed to fflate (its own "common chunk size"). */
export const GZIP_CHUNK_BYTES = 1 << 16;
export const GZIP_OS_UNIX = 3;
/** Pinned: changing it changes every box. */
export const GZIP_LEVEL = 6;

export class FixedChunkGzip {
  private readonly gz: Gzip;
  private readonly chunk = new Uint8Array(GZIP_CHUNK_BYTES);
  private used = 0;
  private finished = false;

  /** `onData` receives compressed bytes (fflate's buffers; the receiver may keep them). */
  constructor(onData: (bytes: Uint8Array) => void) {
    this.gz = new Gzip({ level: GZIP_LEVEL, mtime: 0 }, (data) => {
      if (data.length > 0) onData(data);
    });
  }

  push(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, GZIP_CHUNK_BYTES - this.used);
      this.chunk.set(bytes.subarray(done, done + n), this.used);
      this.used += n;
      done += n;
      if (this.used === GZIP_CHUNK_BYTES) {
        // fflate copies the pushed bytes into its own window, so the chunk buffer can be reused.
        this.gz.push(this.chunk, false);
        this.used = 0;
      }
    }
  }

  /** Pushes the last (possibly empty or short) piece and writes the trailer. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.gz.push(this.chunk.subarray(0, this.used), true);
    this.used = 0;
  }
}
