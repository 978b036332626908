/**
 * A tar archive as a rootfs: GNU tar (the oracle) packs a directory in two
 * member orders, plain and gzip, pax and gnu formats; mkdisk's tree from each
 * equals its tree from the directory itself. Truncated and corrupt archives
 * give coded errors naming the member.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, symlinkSync, linkSync, writeFileSync, truncateSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { walkTree } from "../../src/tree/select.js";
import { scanTree } from "../../src/tree/scan.js";
import { scanTar } from "../../src/tree/tar.js";
import { contentOf, type Tree } from "../../src/tree/types.js";
import { runOk, tempDir } from "../helpers/tools.js";

let tmp: ReturnType<typeof tempDir>;
let src: string;

function readContent(n: ReturnType<typeof contentOf>, size: number): string {
  const fd = openSync(n.path, "r");
  try {
    const b = Buffer.alloc(size);
    readSync(fd, b, 0, size, n.fileOffsetBytes);
    return b.toString("hex");
  } finally {
    closeSync(fd);
  }
}

/** Everything mkdisk uses from a tree, as comparable rows. */
function rows(t: Tree): string[] {
  const groups = new Map<number, string>();
  return [...walkTree(t.root)].map((n) => {
    const g = n.hardlinkGroup === undefined ? "" : (groups.get(n.hardlinkGroup) ?? (groups.set(n.hardlinkGroup, n.path), n.path));
    return [
      n.path, n.type, n.mode.toString(8), n.uid, n.gid, n.sizeBytes, n.mtime.sec, n.mtime.nsec,
      n.linkTarget ? Buffer.from(n.linkTarget).toString() : "", n.rdevMajor ?? "", n.rdevMinor ?? "", g,
      n.type === "file" ? readContent(contentOf(n), n.sizeBytes) : "",
      (n.xattrs ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString("hex")}`).join(","),
    ].join("|");
  });
}

beforeAll(() => {
  tmp = tempDir();
  src = join(tmp.path, "root");
  mkdirSync(join(src, "etc/deep/er"), { recursive: true });
  mkdirSync(join(src, "dev"));
  writeFileSync(join(src, "etc/hostname"), "host\n");
  writeFileSync(join(src, "etc/deep/er/big"), Buffer.alloc(70000, 7));
  writeFileSync(join(src, "etc/empty"), "");
  writeFileSync(join(src, "a-very-long-name-" + "x".repeat(120)), "long");
  linkSync(join(src, "etc/hostname"), join(src, "hostname-link"));
  symlinkSync("etc/hostname", join(src, "sym"));
  runOk("mknod", [join(src, "dev/null"), "c", "1", "3"]);
  runOk("mkfifo", [join(src, "fifo")]);
  runOk("chmod", ["4755", join(src, "etc/empty")]);
  runOk("setfattr", ["-n", "user.test", "-v", "hello", join(src, "etc/hostname")]);
  // Whole-second times (ustar keeps seconds only; pax keeps nanoseconds).
  runOk("find", [src, "-exec", "touch", "-h", "-d", "@1600000000", "{}", "+"]);
});
afterAll(() => tmp.cleanup());

describe("tar rootfs", () => {
  it("gives the same tree as the directory, whatever the member order, format or compression", () => {
    const want = rows(scanTree(src));
    const list = runOk("sh", ["-c", `cd ${src} && find . -mindepth 1 | LC_ALL=C sort -r`]);
    writeFileSync(join(tmp.path, "rev.txt"), list);
    const archives: [string, string[]][] = [
      ["sorted.tar", ["--format=pax", "--xattrs", "--sort=name", "-cf"]],
      ["reverse.tar", ["--format=pax", "--xattrs", "--no-recursion", "-T", join(tmp.path, "rev.txt"), "-cf"]],
      ["gnu.tar.gz", ["--format=gnu", "--sort=name", "-czf"]],
    ];
    for (const [name, args] of archives) {
      const a = join(tmp.path, name);
      const members = args.includes("-T") ? [] : ["."];
      runOk("tar", ["-C", src, ...args.slice(0, -1), args[args.length - 1], a, ...members]);
      // the reverse list has no "." entry: the root's metadata comes from the first listed dir otherwise
      const t = scanTar(a);
      try {
        // GNU format carries no xattrs; pax carries them as SCHILY.xattr records.
        const strip = (r: string) => (name.startsWith("gnu") ? r.replace(/\|[^|]*$/, "|") : r);
        let got = rows(t);
        let exp = want.map(strip);
        const host = [...walkTree(scanTree(src).root)].find((n) => n.path === "/etc/hostname")!;
        expect(host.xattrs?.map((x) => `${x.name}=${Buffer.from(x.value)}`)).toEqual(["user.test=hello"]);
        if (name === "reverse.tar") {
          // No "." member: the root is synthesised (0755 root, time 0).
          got = got.slice(1);
          exp = exp.slice(1);
        }
        expect(got, name).toEqual(exp);
      } finally {
        t.cleanup();
      }
    }
  });

  it("refuses truncated and corrupt archives with a coded error naming the member", () => {
    const good = join(tmp.path, "sorted.tar");
    const size = statSync(good).size;
    const cut = join(tmp.path, "cut.tar");
    writeFileSync(cut, readFileSync(good).subarray(0, 512 * 7 + 100));
    expect(() => scanTar(cut)).toThrow(/truncated|member/);
    const bad = join(tmp.path, "bad.tar");
    const b = readFileSync(good);
    b[10] ^= 0xff; // inside the first header
    writeFileSync(bad, b);
    let err: unknown;
    try {
      scanTar(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MkdiskError);
    expect((err as MkdiskError).code).toBe("E_TREE");
    expect((err as Error).message).toMatch(/member 0 at byte 0: header checksum mismatch/);
    const notgz = join(tmp.path, "bad.tar.gz");
    writeFileSync(notgz, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    expect(() => scanTar(notgz)).toThrow(MkdiskError);
    expect(size).toBeGreaterThan(0);
  });

  it("refuses names and link targets that are not UTF-8, in every format, rather than rewrite them", () => {
    for (const [what, make] of [
      ["name", (d: string) => writeFileSync(Buffer.concat([Buffer.from(join(d, "a")), Buffer.from([0xff, 0xfe])]), "x")],
      ["long name", (d: string) => writeFileSync(Buffer.concat([Buffer.from(join(d, "l".repeat(120))), Buffer.from([0xff])]), "x")],
      ["link target", (d: string) => symlinkSync(Buffer.from([0x74, 0xff]), join(d, "link"))],
    ] as const) {
      for (const format of ["ustar", "gnu", "pax"]) {
        const d = join(tmp.path, `nonutf8-${what.replace(" ", "-")}-${format}`);
        mkdirSync(d);
        make(d);
        const tar = `${d}.tar`;
        const r = spawnSync("tar", [`--format=${format}`, "-C", d, "-cf", tar, "."]);
        if (r.status !== 0) continue; // ustar cannot hold a 120-byte name without a prefix split
        let err: unknown;
        try {
          scanTar(tar);
        } catch (e) {
          err = e;
        }
        expect(err, `${what} in ${format}`).toBeInstanceOf(MkdiskError);
        expect((err as MkdiskError).code).toBe("E_TREE");
        expect((err as Error).message).toMatch(/is not valid UTF-8 .*pass the unpacked directory instead/);
      }
    }
  });

  it("refuses a path that appears twice", () => {
    const d = join(tmp.path, "dup");
    mkdirSync(d);
    writeFileSync(join(d, "f"), "1");
    runOk("tar", ["-C", d, "-cf", join(tmp.path, "dup.tar"), "f", "f"]);
    expect(() => scanTar(join(tmp.path, "dup.tar"))).toThrow(/appears twice/);
  });
});
