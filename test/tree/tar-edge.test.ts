/**
 * Unusual tar archives, each checked against GNU tar: what GNU tar extracts
 * (as root, numeric owners, xattrs) and mkdisk then scans from the extracted
 * directory must equal mkdisk's tree from the archive itself. Archives GNU
 * tar cannot write are built header by header here; the ones it refuses to
 * extract, or that mkdisk cannot represent, must give a coded error.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { walkTree } from "../../src/tree/select.js";
import { scanTree } from "../../src/tree/scan.js";
import { scanTar } from "../../src/tree/tar.js";
import type { Tree } from "../../src/tree/types.js";
import { runOk, tempDir } from "../helpers/tools.js";

const t = tempDir("mkdisk-tar-edge-");
afterAll(() => t.cleanup());

interface Hdr {
  name: string | Buffer;
  type?: string;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  link?: string;
  magic?: Buffer;
  raw?: [number, Buffer][];
  signedChecksum?: boolean;
}

/** One 512-byte header; POSIX ustar magic unless `magic` says otherwise. */
function header(h: Hdr): Buffer {
  const b = Buffer.alloc(512);
  const put = (off: number, s: string | Buffer) => (typeof s === "string" ? Buffer.from(s) : s).copy(b, off);
  const oct = (v: number, len: number) => v.toString(8).padStart(len - 1, "0") + "\0";
  put(0, h.name);
  put(100, oct(h.mode ?? 0o644, 8));
  put(108, oct(h.uid ?? 0, 8));
  put(116, oct(h.gid ?? 0, 8));
  put(124, oct(h.size ?? 0, 12));
  put(136, oct(h.mtime ?? 1_600_000_000, 12));
  b[156] = (h.type ?? "0").charCodeAt(0);
  put(157, h.link ?? "");
  put(257, h.magic ?? Buffer.from("ustar\x0000", "latin1"));
  for (const [off, v] of h.raw ?? []) v.copy(b, off);
  b.fill(0x20, 148, 156);
  let sum = 0;
  let signed = 0;
  for (const x of b) {
    sum += x;
    signed += x > 127 ? x - 256 : x;
  }
  // Old writers summed signed chars; it differs once a byte is >= 0x80.
  if (h.signedChecksum && signed === sum) throw new Error("signedChecksum needs a byte >= 0x80 in the header");
  put(148, (h.signedChecksum ? signed : sum).toString(8).padStart(6, "0") + "\0 ");
  return b;
}
const pad = (d: Buffer) => Buffer.concat([d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
const member = (h: Hdr, data = Buffer.alloc(0)) => Buffer.concat([header({ ...h, size: data.length }), pad(data)]);
function pax(records: [string, string | Buffer][]): Buffer {
  const body = Buffer.concat(
    records.map(([k, v]) => {
      const kv = Buffer.concat([Buffer.from(`${k}=`), typeof v === "string" ? Buffer.from(v) : v, Buffer.from("\n")]);
      let n = kv.length + 2;
      while (String(n).length + 1 + kv.length !== n) n++;
      return Buffer.concat([Buffer.from(`${n} `), kv]);
    }),
  );
  return member({ name: "./PaxHeaders/x", type: "x" }, body);
}
const END = Buffer.alloc(1024);

function write(name: string, ...parts: Buffer[]): string {
  const p = join(t.path, name);
  writeFileSync(p, Buffer.concat([...parts, END]));
  return p;
}

/** Everything mkdisk uses from a tree, as comparable rows (hard-link groups by first path; contents by bytes). */
function rows(tree: Tree): string[] {
  const groups = new Map<number, string>();
  return [...walkTree(tree.root)].map((n) => {
    const g = n.hardlinkGroup === undefined ? "" : (groups.get(n.hardlinkGroup) ?? (groups.set(n.hardlinkGroup, n.path), n.path));
    return [n.path, n.type, n.mode.toString(8), n.uid, n.gid, n.sizeBytes, n.mtime.sec, n.mtime.nsec, n.linkTarget ? Buffer.from(n.linkTarget).toString() : "", g, (n.xattrs ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString()}`).join(",")].join("|");
  });
}

/** mkdisk's tree from the archive equals its tree from GNU tar's extraction of it (the root's own row aside when the archive has no "./"). */
function agreesWithGnuTar(archive: string, hasRoot = false): string[] {
  const out = `${archive}.x`;
  mkdirSync(out);
  runOk("tar", ["-xpf", archive, "-C", out, "--numeric-owner", "--acls", "--xattrs", "--xattrs-include=*"]);
  const want = rows(scanTree(out));
  const tree = scanTar(archive);
  try {
    const got = rows(tree);
    expect(hasRoot ? got : got.slice(1)).toEqual(hasRoot ? want : want.slice(1));
    return got;
  } finally {
    tree.cleanup();
  }
}

function tarError(archive: string): MkdiskError {
  try {
    scanTar(archive).cleanup();
  } catch (e) {
    expect(e).toBeInstanceOf(MkdiskError);
    return e as MkdiskError;
  }
  throw new Error(`${archive} was accepted`);
}

describe("tar rootfs: archives GNU tar reads, read the same", () => {
  it("GNU format headers keep atime and ctime where ustar has its name prefix", () => {
    const gnu = Buffer.from("ustar  \0", "latin1");
    const times = (n: number) => [[345, Buffer.from(n.toString(8).padStart(11, "0") + "\0")] as [number, Buffer], [357, Buffer.from(n.toString(8).padStart(11, "0") + "\0")] as [number, Buffer]];
    const a = write("gnu-times.tar", member({ name: "etc/", type: "5", mode: 0o755, magic: gnu, raw: times(1_700_000_000) }), member({ name: "etc/hostname", magic: gnu, raw: times(1_700_000_001) }, Buffer.from("host\n")));
    const got = agreesWithGnuTar(a);
    expect(got.map((r) => r.split("|")[0])).toEqual(["/", "/etc", "/etc/hostname"]);
  });

  it("GNU headers whose atime field (where ustar has its prefix) holds binary: tar -G with an atime before 1970", () => {
    const src = join(t.path, "gnu-g-src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "x");
    runOk("touch", ["-a", "-d", "@-100", join(src, "f")]);
    const a = join(t.path, "gnu-g.tar");
    runOk("tar", ["--format=gnu", "-G", "-C", src, "-cf", a, "f"]);
    expect(readFileSync(a)[345]).toBe(0xff); // a base-256 negative atime where ustar has its name prefix
    expect(agreesWithGnuTar(a).map((r) => r.split("|")[0])).toEqual(["/", "/f"]);
  });

  it("links, directories, devices and fifos carry no data, whatever their size field says", () => {
    const a = write("sized.tar", header({ name: "s", type: "2", link: "target", size: 1024 }), header({ name: "d/", type: "5", mode: 0o755, size: 512 }), member({ name: "hidden" }, Buffer.from("found\n")));
    expect(agreesWithGnuTar(a).map((r) => r.split("|")[0])).toEqual(["/", "/d", "/hidden", "/s"]);
  });

  it("an empty xattr value is a value", () => {
    const src = join(t.path, "emptyx-src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "x");
    runOk("setfattr", ["-n", "user.empty", join(src, "f")]);
    const a = join(t.path, "emptyx.tar");
    runOk("tar", ["--format=posix", "--xattrs", "-C", src, "-cf", a, "f"]);
    expect(agreesWithGnuTar(a)[1]).toMatch(/\|user\.empty=$/);
  });

  it("a chain of hard links is one inode", () => {
    const a = write("chain.tar", member({ name: "A" }, Buffer.from("data")), member({ name: "B", type: "1", link: "A" }), member({ name: "C", type: "1", link: "B" }));
    const got = agreesWithGnuTar(a);
    expect(got.filter((r) => r.split("|")[9] === "/A")).toHaveLength(3);
  });

  it("a regular member whose name ends in a slash is a directory (ustar and v7)", () => {
    const a = write("slash.tar", member({ name: "d3/", mode: 0o750 }), member({ name: "d3/f" }, Buffer.from("x")), member({ name: "d4/", type: "\0", mode: 0o700, magic: Buffer.alloc(8) }), member({ name: "d5/", type: "7", mode: 0o711 }));
    const got = agreesWithGnuTar(a);
    expect(got.find((r) => r.startsWith("/d5|"))).toMatch(/^\/d5\|dir\|711\|/);
    expect(got.find((r) => r.startsWith("/d3|"))).toMatch(/^\/d3\|dir\|750\|/);
    expect(got.find((r) => r.startsWith("/d4|"))).toMatch(/^\/d4\|dir\|700\|/);
  });

  it("negative times: GNU base-256 headers, and pax times with fractions", () => {
    const src = join(t.path, "neg-src");
    mkdirSync(src);
    writeFileSync(join(src, "old"), "old\n");
    runOk("touch", ["-d", "@-100", join(src, "old")]);
    const gnu = join(t.path, "neg-gnu.tar");
    runOk("tar", ["--format=gnu", "-C", src, "-cf", gnu, "old"]);
    expect(readFileSync(gnu)[136]).toBe(0xff); // a negative base-256 mtime
    expect(agreesWithGnuTar(gnu)[1]).toContain("|-100|0|");
    const cases: [string, string][] = [["-1.5", "|-2|500000000|"], ["-0.25", "|-1|750000000|"], ["-86400.000000001", "|-86401|999999999|"], ["12.5", "|12|500000000|"]];
    for (const [i, [mtime, want]] of cases.entries()) {
      const a = write(`pax-mtime-${i}.tar`, pax([["mtime", mtime]]), member({ name: "f" }, Buffer.from("x")));
      expect(agreesWithGnuTar(a)[1], mtime).toContain(want);
    }
  });

  it("xattr names GNU tar percent-encodes are decoded", () => {
    const src = join(t.path, "pct-src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "x");
    runOk("setfattr", ["-n", "user.a=b", "-v", "1", join(src, "f")]);
    runOk("setfattr", ["-n", "user.p%q", "-v", "2", join(src, "f")]);
    const a = join(t.path, "pct.tar");
    runOk("tar", ["--format=posix", "--xattrs", "-C", src, "-cf", a, "f"]);
    expect(readFileSync(a).includes(Buffer.from("SCHILY.xattr.user.a%3Db"))).toBe(true);
    expect(agreesWithGnuTar(a)[1]).toMatch(/\|user\.a=b=1,user\.p%q=2$/);
  });

  it("symlinks are 0777 whatever their header says; signed header checksums are accepted", () => {
    const a = write("sym.tar", member({ name: "s", type: "2", link: "target", mode: 0o644 }), member({ name: Buffer.from("caf\u00e9"), signedChecksum: true }, Buffer.from("x")));
    const got = agreesWithGnuTar(a);
    expect(got.find((r) => r.startsWith("/s|"))).toMatch(/^\/s\|symlink\|777\|/);
  });

  it("ACLs kept as text (tar --acls, GNU tar's lines and bsdtar's commas) become the ACL xattrs", () => {
    const src = join(t.path, "acl-src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "f"), "x");
    writeFileSync(join(src, "plain"), "y");
    runOk("setfacl", ["-m", "u:1234:rwx,g:55:r-x", join(src, "f")]);
    runOk("setfacl", ["-d", "-m", "u:1234:r-x", join(src, "d")]);
    const withAcl = (rs: string[]) => rs.filter((r) => r.includes("system.posix_acl_"));
    for (const [name, cmd] of [
      ["gnu-acl.tar", ["tar", "--acls", "--format=posix"]],
      ["bsd-acl.tar", ["bsdtar", "--acls", "--format=pax"]],
    ] as const) {
      const a = join(t.path, name);
      runOk(cmd[0], [...cmd.slice(1), "-C", src, "-cf", a, "d", "f", "plain"]);
      expect(readFileSync(a).includes(Buffer.from("SCHILY.acl.access")), name).toBe(true);
      expect(readFileSync(a).includes(Buffer.from("SCHILY.xattr.system.posix_acl")), name).toBe(false);
      const got = agreesWithGnuTar(a);
      // /d's default ACL and /f's access ACL; /plain's and /d's mode-only access ACLs are not stored
      expect(withAcl(got).map((r) => r.split("|")[0]), name).toEqual(["/d", "/f"]);
    }
    const acl = (name: string, text: string, type = "0", path = "f") => tarError(write(name, pax([["SCHILY.acl.access", text]]), member({ name: path, type, link: type === "2" ? "t" : undefined }))).message;
    expect(acl("nomask.tar", "user::rw-,user:5:r--,group::r--,other::r--")).toMatch(/need a mask:: entry/);
    expect(acl("twouser.tar", "user::rw-,user::r--,group::r--,other::r--")).toMatch(/exactly one user:: entry/);
    expect(acl("twice.tar", "user::rw-,user:5:r--,user:5:rw-,group::r--,mask::rw-,other::r--")).toMatch(/names someone twice/);
    expect(acl("onsymlink.tar", "user::rw-,user:5:r--,group::r--,mask::r--,other::r--", "2", "s")).toMatch(/a symlink cannot have an ACL/);
    const dflt = write("default-on-file.tar", pax([["SCHILY.acl.default", "user::rwx,group::r-x,other::r-x"]]), member({ name: "f" }));
    expect(tarError(dflt).message).toMatch(/only a directory can have a default ACL/);
    const named = write("named-acl.tar", pax([["SCHILY.acl.access", "user::rw-\nuser:someone:r--\ngroup::r--\nmask::r--\nother::r--\n"]]), member({ name: "f" }));
    expect(tarError(named).message).toMatch(/names "someone" without a numeric id/);
  });

  it("concatenated gzip members are read", () => {
    const one = readFileSync(write("part.tar", member({ name: "f" }, Buffer.from("x"))));
    const a = join(t.path, "concat.tar.gz");
    writeFileSync(a, Buffer.concat([gzipSync(one.subarray(0, 1024)), gzipSync(one.subarray(1024))]));
    agreesWithGnuTar(a);
  });
});

describe("tar rootfs: archives mkdisk refuses, with a coded error", () => {
  it("GNU sparse members in pax form (tar --sparse --format=posix), every version", () => {
    const src = join(t.path, "sparse-src");
    mkdirSync(src);
    runOk("sh", ["-c", `printf a > ${src}/s && truncate -s 3M ${src}/s && printf b >> ${src}/s`]);
    for (const v of ["0.0", "0.1", "1.0"]) {
      const a = join(t.path, `sparse-${v}.tar`);
      runOk("tar", ["-S", "--format=posix", `--sparse-version=${v}`, "-C", src, "-cf", a, "s"]);
      const e = tarError(a);
      expect(e.code, v).toBe("E_UNSUPPORTED");
      expect(e.message).toMatch(/GNU sparse member .*without --sparse/);
    }
  });

  it("a corrupt or cut gzip stream", () => {
    const tar = readFileSync(write("gz-src.tar", member({ name: "f" }, Buffer.from("hello\n"))));
    const gz = gzipSync(tar);
    const crc = Buffer.from(gz);
    crc[crc.length - 6] ^= 1; // the CRC-32
    writeFileSync(join(t.path, "crc.tar.gz"), crc);
    expect(tarError(join(t.path, "crc.tar.gz")).message).toMatch(/CRC-32/);
    writeFileSync(join(t.path, "cut.tar.gz"), gz.subarray(0, gz.length - 4)); // no ISIZE
    expect(tarError(join(t.path, "cut.tar.gz")).code).toBe("E_TREE");
    const second = Buffer.concat([gzipSync(tar.subarray(0, 512)), gzipSync(tar.subarray(512))]);
    second[second.length - 3] ^= 1; // the second member's length
    writeFileSync(join(t.path, "len.tar.gz"), second);
    expect(tarError(join(t.path, "len.tar.gz")).message).toMatch(/member 2 has the wrong length/);
  });

  it("a NUL in a pax link target or path", () => {
    const a = write("nul-link.tar", pax([["linkpath", Buffer.from("tgt\0junk")]]), member({ name: "s", type: "2" }));
    expect(tarError(a).message).toMatch(/pax link target contains a NUL byte/);
    const b = write("nul-path.tar", pax([["path", Buffer.from("a\0b")]]), member({ name: "x" }));
    expect(tarError(b).message).toMatch(/pax path contains a NUL byte/);
  });

  it("pax numbers that are not plain decimal, and a root member that is not a directory", () => {
    for (const [k, v] of [["uid", "0x10"], ["gid", " 7"], ["size", "1e3"], ["uid", "12abc"]]) {
      const a = write(`pax-${k}-${v.trim()}.tar`, pax([[k, v]]), member({ name: "f" }));
      expect(tarError(a).message, `${k}=${v}`).toMatch(new RegExp(`bad pax ${k}`));
    }
    const a = write("root-file.tar", member({ name: "./" , type: "0" }, Buffer.from("x")));
    // "./" with a trailing slash is a directory; "." without one is a file member for the root
    expect(() => scanTar(a).cleanup()).not.toThrow();
    const b = write("root-file2.tar", member({ name: ".", type: "0" }, Buffer.from("x")));
    expect(tarError(b).message).toMatch(/root member \("\.\/"\) is a file, not a directory/);
  });

  it("negative numbers where only a time may be negative", () => {
    const neg = Buffer.alloc(8, 0xff);
    const a = write("neg-uid.tar", member({ name: "f", raw: [[108, neg]] }));
    expect(tarError(a).message).toMatch(/uid field: negative number/);
  });
});
