/**
 * Tar headers and gzip framing against GNU tar and gzip: checksums, the
 * ustar fields, the base-256 size form for members of 8 GiB and more, and
 * gzip output that does not depend on how the input was cut.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { gunzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { DEFLATE_LEVEL } from "../../src/io/deflate-pool.js";
import { FixedChunkGzip, GZIP_LEVEL } from "../../src/ovf/gzip.js";
import { encodeUstarHeader, tarArchiveBytes, TAR_RECORD_BYTES, USTAR_MAX_OCTAL_SIZE } from "../../src/ovf/tar.js";
import { run, runOk, tempDir } from "../helpers/tools.js";
import { content } from "./support.js";

const dir = tempDir("mkdisk-tar-");
afterAll(() => dir.cleanup());

function gzipAll(pieces: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  const g = new FixedChunkGzip((b) => out.push(b.slice()));
  for (const p of pieces) g.push(p);
  g.finish();
  return Buffer.concat(out);
}

describe("ustar headers", () => {
  it("GNU tar lists them with the fixed owner, mode and time", () => {
    const data = new TextEncoder().encode("hello\n");
    const parts = [encodeUstarHeader({ name: "a/b.txt", sizeBytes: data.length }, { mtimeSec: 1662046009 }), data];
    const used = 512 + 512;
    const tar = new Uint8Array(tarArchiveBytes([data.length]));
    tar.set(parts[0], 0);
    tar.set(parts[1], 512);
    expect(tar.length).toBe(TAR_RECORD_BYTES);
    expect(tar.subarray(used).every((b) => b === 0)).toBe(true);
    const p = join(dir.path, "one.tar");
    writeFileSync(p, tar);
    const r = run("tar", ["--numeric-owner", "--full-time", "-tvf", p], { env: { ...process.env, TZ: "UTC" } });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("-rw-r--r-- 0/0               6 2022-09-01 15:26:49 a/b.txt\n");
    expect(runOk("tar", ["-tvf", p])).toMatch(/^-rw-r--r-- root\/root /);
    expect(runOk("tar", ["-xOf", p, "a/b.txt"])).toBe("hello\n");
  });

  it("sizes of 8 GiB and more use base-256, which GNU tar and bsdtar (what Vagrant unpacks boxes with) read", () => {
    for (const size of [USTAR_MAX_OCTAL_SIZE, USTAR_MAX_OCTAL_SIZE + 1, 3 * 2 ** 40 + 5]) {
      const h = encodeUstarHeader({ name: "big.vmdk", sizeBytes: size }, { mtimeSec: 0 });
      expect(h[124]).toBe(size > USTAR_MAX_OCTAL_SIZE ? 0x80 : 0x37);
      const p = join(dir.path, `big-${size}.tar`);
      // Header only: tar lists the member, then reports the archive is truncated.
      writeFileSync(p, h);
      const r = run("tar", ["--numeric-owner", "-tvf", p]);
      const fields = r.stdout.trim().split(/\s+/);
      expect(fields.slice(0, 3)).toEqual(["-rw-r--r--", "0/0", String(size)]);
      expect(fields[5]).toBe("big.vmdk");
      expect(r.stderr).not.toMatch(/checksum|invalid|Archive contains/i);
      const b = run("bsdtar", ["-tvf", p]);
      expect(b.stdout.trim().split(/\s+/)[4]).toBe(String(size));
      expect(b.stderr).not.toMatch(/checksum|invalid/i);
    }
  });

  it("refuses names longer than 100 bytes, non-ASCII and unsafe names", () => {
    const c = (name: string) => {
      try {
        encodeUstarHeader({ name, sizeBytes: 0 }, { mtimeSec: 0 });
      } catch (e) {
        return (e as MkdiskError).code;
      }
      return undefined;
    };
    expect(c("x".repeat(100))).toBeUndefined();
    expect(c("x".repeat(101))).toBe("E_FORMAT");
    expect(c("é.ovf")).toBe("E_FORMAT");
    expect(c("../x")).toBe("E_FORMAT");
    expect(c("/x")).toBe("E_FORMAT");
    expect(c("a b")).toBe("E_FORMAT");
  });

  it("writes every byte (property: encoding is a pure function of the fields)", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9.-]{0,40}$/), fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 33 - 1 }), (name, size, mtime) => {
        const a = encodeUstarHeader({ name, sizeBytes: size }, { mtimeSec: mtime });
        const b = encodeUstarHeader({ name, sizeBytes: size }, { mtimeSec: mtime });
        expect(Buffer.compare(a, b)).toBe(0);
        let sum = 0;
        for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : a[i];
        expect(parseInt(Buffer.from(a.subarray(148, 154)).toString(), 8)).toBe(sum);
      }),
      { numRuns: 200 },
    );
  });
});

describe("gzip", () => {
  it("the level is the one the image compressors use", () => {
    expect(GZIP_LEVEL).toBe(DEFLATE_LEVEL);
  });

  it("header: no name, mtime 0, OS 3 (Unix); gzip -t accepts it and it decompresses to the input", () => {
    const input = content(300_000, 9);
    const gz = gzipAll([input]);
    expect(Array.from(gz.subarray(0, 10))).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const p = join(dir.path, "x.gz");
    writeFileSync(p, gz);
    expect(run("gzip", ["-t", p]).status).toBe(0);
    expect(Buffer.compare(gunzipSync(gz), input)).toBe(0);
  });

  it("the same bytes however the input is cut (property)", () => {
    const input = content(400_000, 5);
    const reference = gzipAll([input]);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: input.length }), { maxLength: 20 }), (cuts) => {
        const at = [...new Set([0, ...cuts, input.length])].sort((a, b) => a - b);
        const pieces = at.slice(1).map((end, i) => input.subarray(at[i], end));
        expect(Buffer.compare(gzipAll(pieces), reference)).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  it("empty input is a valid gzip member", () => {
    const gz = gzipAll([]);
    const p = join(dir.path, "empty.gz");
    writeFileSync(p, gz);
    expect(run("gzip", ["-t", p]).status).toBe(0);
    expect(gunzipSync(gz).length).toBe(0);
  });
});
