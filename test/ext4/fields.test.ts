/**
 * Inode and group fields e2fsck and a kernel mount accept whatever they hold,
 * read with debugfs and dumpe2fs: all four times of an inode are its clamped
 * mtime; generation, version and project id are 0; files and directories
 * carry only the EXTENTS flag; mkdisk's own lost+found is 0700, four blocks,
 * at the build time; the journal inode is 0600; every group's free and
 * unused inode counts agree (inodes are allocated from the start of the
 * table) and groups with no inodes in use are INODE_UNINIT.
 */
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOk, tempDir } from "../helpers/tools.js";
import { buildFromDir, EPOCH, fsck } from "./helpers.js";

const t = tempDir("mkdisk-ext4-fields-");
afterAll(() => t.cleanup());
const img = join(t.path, "fields.img");
const OLD = 1_600_000_000; // kept (before the epoch)
const NEW = EPOCH + 86_400 * 365; // clamped to the epoch

beforeAll(async () => {
  const src = join(t.path, "src");
  mkdirSync(join(src, "d"), { recursive: true });
  writeFileSync(join(src, "old.txt"), "old\n");
  writeFileSync(join(src, "new.txt"), "new\n");
  utimesSync(join(src, "old.txt"), OLD, OLD);
  utimesSync(join(src, "new.txt"), NEW, NEW);
  utimesSync(join(src, "d"), OLD, OLD);
  utimesSync(src, OLD, OLD);
  await buildFromDir(src, img, { sizeBytes: 200 << 20 }); // two groups
  expect(fsck(img).status).toBe(0);
});

function stat(what: string) {
  const out = runOk("debugfs", ["-R", `stat ${what}`, img]);
  const field = (re: RegExp) => re.exec(out)?.[1];
  const time = (name: string) => field(new RegExp(`^\\s*${name}: (0x[0-9a-f]+:[0-9a-f]+)`, "m"));
  return {
    mode: field(/Mode:\s+(\d+)/), flags: field(/Flags: (0x[0-9a-f]+)/), generation: field(/Generation: (\d+)/), version: field(/Version: (\S+)/),
    project: field(/Project:\s+(\d+)/), size: field(/\bSize: (\d+)/), links: field(/Links: (\d+)/), extra: field(/Size of extra inode fields: (\d+)/),
    times: ["ctime", "atime", "mtime", "crtime"].map(time),
  };
}

const hex = (sec: number) => `0x${sec.toString(16).padStart(8, "0")}:00000000`;

describe("inode fields no checker looks at", () => {
  it("files and directories: four equal clamped times, generation/version/project 0, only EXTENTS", () => {
    for (const [path, sec, mode] of [["/old.txt", OLD, "0644"], ["/new.txt", EPOCH, "0644"], ["/d", OLD, "0755"]] as const) {
      expect(stat(path), path).toEqual({
        mode, flags: "0x80000", generation: "0", version: "0x00000000:00000000", project: "0",
        size: path === "/d" ? "4096" : "4", links: path === "/d" ? "2" : "1", extra: "32", times: [hex(sec), hex(sec), hex(sec), hex(sec)],
      });
    }
  });

  it("mkdisk's lost+found: 0700, four blocks, at the build time; the journal inode 0600", () => {
    expect(stat("/lost+found")).toMatchObject({ mode: "0700", flags: "0x80000", size: "16384", links: "2", times: [hex(EPOCH), hex(EPOCH), hex(EPOCH), hex(EPOCH)] });
    expect(stat("<8>")).toMatchObject({ mode: "0600", flags: "0x80000", generation: "0" });
  });
});

describe("group descriptors", () => {
  it("free inodes = unused inodes in every group; a group with none in use is INODE_UNINIT; inode tables ITABLE_ZEROED", () => {
    const out = runOk("dumpe2fs", [img]);
    const groups = out.split(/^(?=Group \d+:)/m).slice(1);
    expect(groups.length).toBe(2);
    const perGroup = Number(/^Inodes per group:\s+(\d+)/m.exec(out)![1]);
    groups.forEach((g, i) => {
      const m = /(\d+) free inodes, \d+ directories(?:, (\d+) unused inodes)?/.exec(g)!;
      expect(m, `group ${i}`).not.toBeNull();
      expect(m[2], `group ${i} unused inodes`).toBe(m[1]);
      const flags = /\[([^\]]*)\]/.exec(g.split("\n")[0])![1];
      expect(flags, `group ${i}`).toBe(Number(m[1]) === perGroup ? "INODE_UNINIT, ITABLE_ZEROED" : "ITABLE_ZEROED");
    });
    expect(groups[1]).toContain("INODE_UNINIT");
  });
});

describe("order and journal backup fields", () => {
  it("inodes numbered depth-first in byte order from 12, entries stored in byte order (lost+found among them)", () => {
    // "ino  (rec_len) name" in on-disk order.
    const entries = [...runOk("debugfs", ["-R", "ls /", img]).matchAll(/(\d+)\s+\((\d+)\)\s+(\S+)/g)].map((m) => [m[3], Number(m[1])] as const);
    expect(entries).toEqual([[".", 2], ["..", 2], ["d", 12], ["lost+found", 11], ["new.txt", 13], ["old.txt", 14]]);
  });

  it("the journal superblock carries the file system's UUID; s_jnl_blocks backs up the journal inode's size", () => {
    const j = stat("<8>");
    const first = Number(/\(0-\d+\):(\d+)-/.exec(runOk("debugfs", ["-R", "stat <8>", img]))![1]);
    const buf = readFileSync(img);
    const sb = buf.subarray(1024, 2048);
    const fsUuid = sb.subarray(0x68, 0x78);
    const jsb = buf.subarray(first * 4096, first * 4096 + 1024);
    expect(jsb.readUInt32BE(0)).toBe(0xc03b3998); // JBD2 magic
    expect(jsb.subarray(0x30, 0x40).equals(fsUuid)).toBe(true);
    expect(jsb.readUInt32BE(0x40), "s_nr_users").toBe(1);
    expect(sb[0xfd], "s_jnl_backup_type").toBe(1); // EXT3_JNL_BACKUP_BLOCKS
    expect(sb.readUInt32LE(0x10c + 15 * 4), "s_jnl_blocks[15]: i_size_high").toBe(0);
    expect(sb.readUInt32LE(0x10c + 16 * 4), "s_jnl_blocks[16]: i_size").toBe(Number(j.size));
  });
});

describe("shared xattr blocks", () => {
  it("1025 files with the same attributes: one block shared by 1024 (the kernel's limit), a second for the 1025th", async () => {
    const src = join(t.path, "xsrc");
    mkdirSync(src);
    // A value too large for the 92-byte in-inode area, so it goes to a block.
    runOk("python3", ["-c", "import os,sys\nfor i in range(1025):\n    p=os.path.join(sys.argv[1],'f%04d'%i)\n    open(p,'w').close()\n    os.setxattr(p,'user.big',b'v'*200)", src]);
    const x = join(t.path, "xattr.img");
    await buildFromDir(src, x, { sizeBytes: 64 << 20 });
    expect(fsck(x).status).toBe(0);
    const acl = (name: string) => Number(/File ACL: (\d+)/.exec(runOk("debugfs", ["-R", `stat /${name}`, x]))![1]);
    const first = acl("f0000");
    expect(first).toBeGreaterThan(0);
    expect(acl("f1023")).toBe(first);
    const second = acl("f1024");
    expect(second).not.toBe(first);
    const img = readFileSync(x);
    expect(img.readUInt32LE(first * 4096 + 4), "h_refcount").toBe(1024);
    expect(img.readUInt32LE(second * 4096 + 4), "h_refcount").toBe(1);
  });
});

