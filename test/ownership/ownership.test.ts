/**
 * Ownership without root, end to end through whole-disk builds: "ownership":
 * "root" over a tree owned by an ordinary user, an ownership manifest that
 * creates device nodes, a setuid root binary and a capability on a file owned
 * by an ordinary user (read back through a kernel mount of the ext4
 * partition: stat, getcap, getfattr); a directory and a tar of it with members
 * in reverse order and pax xattr records give the same SHA-256; malformed
 * manifests and truncated or corrupt tar archives stop the CLI with a coded
 * error naming the line or member, and leave no output file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildDisk } from "../../src/build.js";
import { requireTool, run, runOk, sha256File, tempDir } from "../helpers/tools.js";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");

const LAYOUT = {
  seed: "6c0f3a5e-3d0e-4b8e-9a51-7f6f2d1a9c44",
  sourceDateEpoch: 1_700_000_000,
  size: "auto",
  partitions: [{ type: "root", format: "ext4", size: "32M", fsLabel: "root" }],
};

let tmp: ReturnType<typeof tempDir>;
let src: string;

/** Byte offset of the ext4 partition (the only one) from sfdisk --json. */
function rootOffsetBytes(img: string): number {
  const j = JSON.parse(runOk("sfdisk", ["--json", img]));
  const t = j.partitiontable;
  const p = t.partitions[0];
  return p.start * (t.sectorsize ?? 512);
}

function withPartition<T>(img: string, name: string, f: (mnt: string) => T): T {
  const mnt = join(tmp.path, `mnt-${name}`);
  mkdirSync(mnt, { recursive: true });
  runOk("mount", ["-o", `loop,ro,offset=${rootOffsetBytes(img)}`, img, mnt]);
  try {
    return f(mnt);
  } finally {
    runOk("umount", [mnt]);
  }
}

/** Also check the extracted partition with e2fsck (dd + e2fsck -fn). */
function fsckPartition(img: string, name: string): void {
  const part = join(tmp.path, `${name}.ext4`);
  const j = JSON.parse(runOk("sfdisk", ["--json", img]));
  const p = j.partitiontable.partitions[0];
  runOk("dd", [`if=${img}`, `of=${part}`, "bs=512", `skip=${p.start}`, `count=${p.size}`, "status=none", "conv=sparse"]);
  const r = run("e2fsck", ["-fn", part]);
  expect(r.status, r.stdout + r.stderr).toBe(0);
}

function statLine(p: string): string {
  return runOk("stat", ["-c", "%F %t %T %a %u %g", p]).trim();
}

function mkdisk(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { PATH: process.env.PATH } });
}

beforeAll(() => {
  for (const tool of ["sfdisk", "e2fsck", "getcap", "setcap", "getfattr", "setfattr", "tar", "stat"]) requireTool(tool);
  tmp = tempDir("mkdisk-owner-");
  src = join(tmp.path, "root");
  for (const d of ["etc", "dev", "usr/bin", "home/user"]) mkdirSync(join(src, d), { recursive: true });
  writeFileSync(join(src, "etc/hostname"), "owned\n");
  writeFileSync(join(src, "usr/bin/su"), "#!/bin/sh\necho su\n", { mode: 0o755 });
  writeFileSync(join(src, "usr/bin/ping"), "#!/bin/sh\necho ping\n", { mode: 0o755 });
  writeFileSync(join(src, "home/user/notes"), "mine\n");
  symlinkSync("../etc/hostname", join(src, "usr/hostname-link"));
  runOk("setfattr", ["-n", "user.comment", "-v", "kept", join(src, "etc/hostname")]);
  runOk("chown", ["-R", "-h", "1000:1000", src]);
  writeFileSync(join(tmp.path, "layout.json"), JSON.stringify(LAYOUT));
});
afterAll(() => tmp?.cleanup());

describe("ownership without root", () => {
  it('"ownership": "root" makes every entry 0:0 in the ext4 partition (modes kept)', async () => {
    const img = join(tmp.path, "root-owned.img");
    await buildDisk({ layout: { ...LAYOUT, ownership: "root" }, rootfs: src, outputs: [{ format: "raw", path: img }] });
    fsckPartition(img, "root-owned");
    withPartition(img, "root-owned", (mnt) => {
      const all = runOk("find", [mnt, "-mindepth", "1", "-printf", "%P %U %G %m\n"]).trim().split("\n");
      expect(all.length).toBeGreaterThanOrEqual(10);
      for (const line of all) expect(line).toMatch(/ 0 0 \d+$/);
      expect(statLine(join(mnt, "usr/bin/su"))).toBe("regular file 0 0 755 0 0");
      expect(runOk("getfattr", ["-n", "user.comment", "--only-values", join(mnt, "etc/hostname")])).toBe("kept");
    });
    // The source really is owned by uid 1000 (the build did not need it to be root's).
    expect(statSync(join(src, "usr/bin/su")).uid).toBe(1000);
  });

  it("an ownership manifest adds device nodes, a setuid root binary and a capability on a user's file", async () => {
    const manifest = join(tmp.path, "owners.txt");
    writeFileSync(
      manifest,
      [
        "# devices an unprivileged build cannot mknod",
        "/dev/console  type=char mode=0600 uid=0 gid=5 device=5,1",
        "/dev/null     type=char mode=0666 device=1,3",
        "/dev/sda      type=block mode=0660 gid=6 device=8,0",
        "/usr/bin/su   mode=4755 uid=0 gid=0",
        '/usr/bin/ping cap=cap_net_raw+ep xattr.security.selinux="system_u:object_r:ping_exec_t:s0"',
        "/run          type=dir mode=0755",
        "",
      ].join("\n"),
    );
    const img = join(tmp.path, "manifest.img");
    await buildDisk({ layout: LAYOUT, rootfs: src, ownershipManifest: manifest, outputs: [{ format: "raw", path: img }] });
    fsckPartition(img, "manifest");
    withPartition(img, "manifest", (mnt) => {
      expect(statLine(join(mnt, "dev/console"))).toBe("character special file 5 1 600 0 5");
      expect(statLine(join(mnt, "dev/null"))).toBe("character special file 1 3 666 0 0");
      expect(statLine(join(mnt, "dev/sda"))).toBe("block special file 8 0 660 0 6");
      expect(statLine(join(mnt, "usr/bin/su"))).toBe("regular file 0 0 4755 0 0");
      expect(statLine(join(mnt, "usr/bin/ping"))).toBe("regular file 0 0 755 1000 1000");
      expect(statLine(join(mnt, "run"))).toBe("directory 0 0 755 0 0");
      expect(statLine(join(mnt, "home/user/notes"))).toMatch(/ 1000 1000$/);
      expect(runOk("getcap", [join(mnt, "usr/bin/ping")]).trim()).toBe(`${join(mnt, "usr/bin/ping")} cap_net_raw=ep`);
      expect(runOk("getfattr", ["-n", "security.selinux", "--only-values", join(mnt, "usr/bin/ping")])).toBe("system_u:object_r:ping_exec_t:s0");
      expect(runOk("cat", [join(mnt, "usr/bin/su")])).toContain("echo su");
    });
  });

  it("a directory and a tar of it (reverse member order, pax xattrs) give the same image", async () => {
    // xattrs of every storage class on the source: in-inode, block, shared block, ACL, capability.
    const x = join(tmp.path, "xsrc");
    mkdirSync(join(x, "d/sub"), { recursive: true });
    writeFileSync(join(x, "d/cap"), "c");
    runOk("setcap", ["cap_net_raw+ep", join(x, "d/cap")]);
    runOk("setfattr", ["-n", "security.selinux", "-v", "0x" + Buffer.from("system_u:object_r:bin_t:s0\0").toString("hex"), join(x, "d/cap")]);
    runOk("setfacl", ["-m", "u:1234:rw,g:55:r", join(x, "d/cap")]);
    runOk("setfacl", ["-d", "-m", "u:1000:rx", join(x, "d/sub")]);
    for (let k = 0; k < 3; k++) {
      writeFileSync(join(x, `d/s${k}`), `${k}`);
      runOk("setfattr", ["-n", "user.blob", "-v", "0x" + Buffer.alloc(700, 0x5a).toString("hex"), join(x, `d/s${k}`)]);
    }
    writeFileSync(join(x, "big"), Buffer.alloc(100_000, 1));
    runOk("setfattr", ["-n", "user.t", "-v", "1", join(x, "big")]);
    runOk("setfattr", ["-n", "user.top", "-v", "root", x]);
    const list = runOk("sh", ["-c", `cd "${x}" && find . | LC_ALL=C sort -r`]);
    writeFileSync(join(tmp.path, "reversed-list"), list);
    const tarPath = join(tmp.path, "xsrc.tar");
    runOk("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "--no-recursion", "-C", x, "-cf", tarPath, "-T", join(tmp.path, "reversed-list")]);
    expect(readFileSync(tarPath).includes("SCHILY.xattr.user.blob")).toBe(true);
    const a = join(tmp.path, "from-dir.img");
    const b = join(tmp.path, "from-tar.img");
    await buildDisk({ layout: LAYOUT, rootfs: x, outputs: [{ format: "raw", path: a }] });
    await buildDisk({ layout: LAYOUT, rootfs: tarPath, outputs: [{ format: "raw", path: b }] });
    expect(sha256File(b)).toBe(sha256File(a));
    fsckPartition(a, "from-dir");
    withPartition(b, "from-tar", (mnt) => {
      const got = runOk("getfattr", ["-R", "-P", "-d", "-m", "-", "-e", "hex", "--absolute-names", mnt]).split(mnt).join("");
      const want = runOk("getfattr", ["-R", "-P", "-d", "-m", "-", "-e", "hex", "--absolute-names", x]).split(x).join("");
      const norm = (s: string) => s.split(/\n\n+/).map((c) => c.trim()).filter(Boolean).sort();
      expect(norm(got)).toEqual(norm(want));
    });
  });
});

describe("bad manifests and archives through the CLI: coded errors, no output file", () => {
  const layout = () => join(tmp.path, "layout.json");
  const expectNoOutput = (out: string) => {
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.path).filter((f) => f.endsWith(".mkdisk-tmp"))).toEqual([]);
  };

  const bad: Array<[string, string, RegExp]> = [
    ["unknown key", "/etc/hostname mode=0644\n/usr/bin/su colour=red\n", /:2: unknown key "colour"/],
    ["bad mode", "\n\n/etc/hostname mode=999\n", /:3: mode=999/],
    ["missing parent", "/nope/dev/x type=char device=1,3\n", /:1: cannot create \/nope\/dev\/x/],
    ["device without numbers", "/dev/x type=char\n", /:1: a char device needs device=/],
    ["path twice", "/etc/hostname mode=0600\n/etc/hostname uid=3\n", /:2: \/etc\/hostname is listed twice/],
    ["bad capability", "/usr/bin/ping cap=cap_fly+ep\n", /:1: unknown capability "cap_fly"/],
    ["relative path", "etc/hostname mode=0600\n", /:1: expected an absolute path/],
  ];
  for (const [what, text, msg] of bad) {
    it(`manifest: ${what}`, () => {
      const m = join(tmp.path, `bad-${what.replace(/\W/g, "-")}.txt`);
      writeFileSync(m, text);
      const out = join(tmp.path, `bad-manifest-${what.replace(/\W/g, "-")}.img`);
      const r = mkdisk(["--rootfs", src, "--layout", layout(), "--ownership-manifest", m, "-o", out]);
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(/E_LAYOUT/);
      expect(r.stderr).toContain(m);
      expect(r.stderr).toMatch(msg);
      expectNoOutput(out);
    });
  }

  it("truncated and corrupt tar archives name the member", () => {
    const x = join(tmp.path, "tsrc");
    mkdirSync(join(x, "etc"), { recursive: true });
    writeFileSync(join(x, "etc/a"), Buffer.alloc(20_000, 3));
    writeFileSync(join(x, "etc/b"), "b\n");
    const good = join(tmp.path, "t.tar");
    runOk("tar", ["--format=pax", "--xattrs", "-C", x, "-cf", good, "."]);
    const size = statSync(good).size;

    // Cut inside a member's data, and cut cleanly between members (no end-of-archive blocks).
    const truncated = join(tmp.path, "truncated.tar");
    writeFileSync(truncated, readFileSync(good).subarray(0, size - 512 * 20 - 1000));
    const atBoundary = join(tmp.path, "at-boundary.tar");
    writeFileSync(atBoundary, readFileSync(good).subarray(0, 512 * 4 + 3000));
    const corrupt = join(tmp.path, "corrupt.tar");
    const c = Buffer.from(readFileSync(good));
    // Find the second ustar header and damage its name (the checksum no longer matches).
    let hdr = -1;
    for (let off = 512, seen = 0; off < c.length; off += 512) {
      if (c.subarray(off + 257, off + 262).toString() === "ustar" && ++seen === 2) {
        hdr = off;
        break;
      }
    }
    expect(hdr).toBeGreaterThan(0);
    c[hdr + 1] ^= 0x55;
    writeFileSync(corrupt, c);
    const cutHeader = join(tmp.path, "cut-header.tar");
    writeFileSync(cutHeader, readFileSync(good).subarray(0, 512 + 100));
    truncateSync(good, size); // unchanged, for symmetry

    for (const [archive, msg] of [
      [truncated, /member \d+ at byte \d+: truncated archive/],
      [atBoundary, /member \d+ at byte \d+: truncated archive/],
      [corrupt, /member \d+ at byte \d+: header checksum mismatch/],
      [cutHeader, /truncated archive|member/],
    ] as const) {
      const out = archive.replace(/\.tar$/, ".img");
      const r = mkdisk(["--rootfs", archive, "--layout", layout(), "-o", out]);
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(/E_TREE/);
      expect(r.stderr).toContain(archive);
      expect(r.stderr).toMatch(msg);
      expectNoOutput(out);
    }
  });

  it("an xattr ext4 cannot store (value above a block) stops the build naming the path and xattr", () => {
    const m = join(tmp.path, "huge-xattr.txt");
    writeFileSync(m, `/etc/hostname xattr.user.huge=0x${"ab".repeat(5000)}\n`);
    const out = join(tmp.path, "huge-xattr.img");
    const r = mkdisk(["--rootfs", src, "--layout", layout(), "--ownership-manifest", m, "-o", out]);
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/E_UNSUPPORTED/);
    expect(r.stderr).toContain("/etc/hostname");
    expect(r.stderr).toContain("user.huge");
    expectNoOutput(out);
  });
});
