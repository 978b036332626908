/**
 * `mkdisk diff` names differences inside FAT32 and ext4 partitions at the
 * deepest level (src/diff/fat.ts, src/diff/ext4.ts), in bounded memory, and
 * survives damaged images.
 *
 * Oracles: the changes are made by real tools on the source tree (touch,
 * a one-byte write, mv, a layout label) and the expected answer is that list,
 * not our reader; memory is measured by GNU time (/usr/bin/time -f %M);
 * corrupted images are checked in child processes with a time limit and a
 * 256 MiB heap.
 */
import { copyFileSync, cpSync, openSync, closeSync, readFileSync, readSync, renameSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool, run, runOk, tempDir } from "../helpers/tools.js";
import { readGpt } from "../../src/gpt/read.js";
import { openRawReader } from "../../src/inspect/index.js";
import { explainExt4 } from "../../src/diff/ext4.js";
import { explainFat } from "../../src/diff/fat.js";
import { CLI, ROOT, build, diffCli, exampleLayout, makeTree, setTimes, type DiffJson } from "./fixture.js";

let tmp: ReturnType<typeof tempDir>;

beforeAll(() => {
  tmp = tempDir("mkdisk-diff-");
});
afterAll(() => tmp.cleanup());

const parse = (stdout: string) => JSON.parse(stdout) as DiffJson;

describe("mkdisk diff inside filesystems", () => {
  it("names exactly the four changes: ext4 mtime, ext4 content, FAT name, GPT label", async () => {
    const a = join(tmp.path, "a");
    makeTree(a);
    await build(exampleLayout("root"), a, join(tmp.path, "A.img"));
    await build(exampleLayout("root"), a, join(tmp.path, "A2.img"));

    const b = join(tmp.path, "b");
    cpSync(a, b, { recursive: true });
    // 1. one ext4 file's mtime
    runOk("touch", ["-d", "2001-02-03 04:05:06 UTC", join(b, "etc/hostname")]);
    // 2. one ext4 file's content: same size, one byte (offset 11: "the" -> "tha")
    const fd = openSync(join(b, "etc/motd"), "r+");
    writeSync(fd, Buffer.from("Z"), 0, 1, 11);
    closeSync(fd);
    // 3. one FAT file's name, same length, same sort position among its siblings
    renameSync(join(b, "boot/loader/loader.conf"), join(b, "boot/loader/loaded.conf"));
    // Put back every time the edits touched (directory mtimes, motd), except hostname's.
    setTimes(b);
    runOk("touch", ["-d", "2001-02-03 04:05:06 UTC", join(b, "etc/hostname")]);
    // 4. one GPT label
    await build(exampleLayout("rootfs"), b, join(tmp.path, "B.img"));

    const same = diffCli(join(tmp.path, "A.img"), join(tmp.path, "A2.img"));
    expect(same.stderr).toBe("");
    expect(same.status).toBe(0);
    expect(parse(same.stdout).identical).toBe(true);

    const r = diffCli(join(tmp.path, "A.img"), join(tmp.path, "B.img"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(1);
    const d = parse(r.stdout).differences;
    const show = JSON.stringify(d, null, 1);

    // GPT: the root entry's PartitionName (primary and backup), and the CRCs that follow from it.
    const gpt = d.filter((x) => /^GPT|protective MBR/.test(x.area));
    const rootEntry = readGpt(openRawReader(join(tmp.path, "A.img")).readAt, readFileSync(join(tmp.path, "A.img")).length).partitions.find((p) => p.label === "root")!;
    expect(gpt.filter((x) => x.what === "PartitionName").map((x) => x.area).sort(), show).toEqual([`GPT backup entry ${rootEntry.number}`, `GPT primary entry ${rootEntry.number}`]);
    for (const x of gpt) expect(["PartitionName", "HeaderCRC32", "PartitionEntryArrayCRC32"], show).toContain(x.what);

    // Everything else lies in the ESP (one directory entry) or the ext4 root (one inode, one content range).
    const rest = d.filter((x) => !gpt.includes(x));
    const esp = rest.filter((x) => x.area.includes("vfat"));
    const ext4 = rest.filter((x) => x.area.includes("ext4"));
    expect(esp.length + ext4.length, show).toBe(rest.length);

    expect(esp.length, show).toBe(1);
    expect(esp[0].what, show).toMatch(/^directory \/loader entry "loader\.conf": /);
    // The long name, its checksum and the 8.3 name all belong to that entry.
    expect(esp[0].what).toMatch(/LDIR_Name/);
    expect(esp[0].what).toMatch(/LDIR_Chksum/);
    expect(esp[0].what).toMatch(/DIR_Name/);
    expect(esp[0].detail).toContain('name: "loader.conf" vs "loaded.conf"');

    expect(ext4.length, show).toBe(2);
    const inode = ext4.find((x) => x.what.startsWith("inode "))!;
    expect(inode.what, show).toMatch(/^inode \d+ \(\/etc\/hostname\): /);
    expect(inode.what).toMatch(/\bi_mtime\b/);
    // Derived: the inode checksum (and the other times mkdisk sets from the mtime) are part of the same item.
    expect(inode.what).toMatch(/l_i_checksum_lo|i_checksum_hi/);
    expect(inode.detail).toContain("i_mtime: ");
    expect(inode.detail).toContain("vs 981173106 (2001-02-03T04:05:06Z)");
    const content = ext4.find((x) => !x.what.startsWith("inode "))!;
    expect(content.what, show).toBe("file /etc/motd content: bytes 11..12");
    expect(content.endBytes - content.startBytes).toBe(1);
  });

  it("explains a change inside a partition of a disk with 4096-byte sectors", async () => {
    const a = join(tmp.path, "a4k");
    makeTree(a);
    const layout = { ...exampleLayout("root"), sectorSize: 4096, partitions: [{ type: "esp", format: "vfat", size: "260M", copyFiles: ["/boot:/", "/efi:/"] }, { type: "root", format: "ext4", size: "64M", fsLabel: "root", copyFiles: ["/:/"], excludeFiles: ["/boot/", "/efi/"] }] };
    await build(layout, a, join(tmp.path, "A4k.img"));
    const b = join(tmp.path, "b4k");
    cpSync(a, b, { recursive: true });
    renameSync(join(b, "boot/loader/loader.conf"), join(b, "boot/loader/loaded.conf"));
    setTimes(b);
    await build(layout, b, join(tmp.path, "B4k.img"));
    const r = diffCli(join(tmp.path, "A4k.img"), join(tmp.path, "B4k.img"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(1);
    const d = parse(r.stdout).differences;
    const show = JSON.stringify(d, null, 1);
    expect(d.length, show).toBe(1);
    expect(d[0].area, show).toMatch(/vfat/);
    expect(d[0].what, show).toMatch(/^directory \/loader entry "loader\.conf": /);

    // A partition label changed: the GPT areas at both ends, in 4096-byte sectors, named as such.
    const relabelled = { ...layout, partitions: [layout.partitions[0], { ...layout.partitions[1], label: "other" }] };
    await build(relabelled, a, join(tmp.path, "C4k.img"));
    const g = parse(diffCli(join(tmp.path, "A4k.img"), join(tmp.path, "C4k.img")).stdout).differences;
    const areas = [...new Set(g.map((x: { area: string }) => x.area))].sort();
    expect(areas, JSON.stringify(g, null, 1)).toEqual(["GPT backup entry 2", "GPT backup header", "GPT primary entry 2", "GPT primary header"]);
    expect(g.filter((x: { area: string }) => x.area.endsWith("entry 2")).map((x: { what: string }) => x.what)).toEqual(["PartitionName", "PartitionName"]);
  });

  it("compares a qcow2 or VMDK with a larger disk: sizes differ, bytes past its end are named as such", async () => {
    const a = join(tmp.path, "asize");
    makeTree(a);
    const small = { ...exampleLayout("root"), size: "160M" };
    await build(small, a, join(tmp.path, "S.img"));
    await build({ ...small, size: "192M" }, a, join(tmp.path, "L.img"));
    for (const fmt of ["qcow2", "vmdk"]) {
      const s = join(tmp.path, `S.${fmt}`);
      runOk(process.execPath, [CLI, "convert", join(tmp.path, "S.img"), "-O", fmt, s, "--force"]);
      const r = diffCli(s, join(tmp.path, "L.img"));
      expect(r.stderr, fmt).toBe("");
      expect(r.status, fmt).toBe(1);
      const d = parse(r.stdout).differences;
      expect(d.find((x) => x.area === "disk")?.detail).toBe(`${160 * 2 ** 20} vs ${192 * 2 ** 20}`);
      const past = d.filter((x) => x.area === "past the end of the first image");
      expect(past.length, JSON.stringify(d)).toBeGreaterThan(0); // the larger disk's backup GPT
      for (const x of past) expect(x.startBytes).toBeGreaterThanOrEqual(160 * 2 ** 20);
      for (const x of d.filter((y) => y.area.startsWith("GPT backup"))) expect(x.endBytes).toBeLessThanOrEqual(160 * 2 ** 20);
    }
  });

  it("diffs a 4 GiB image pair in under 200 MiB RSS", async () => {
    requireTool("/usr/bin/time");
    const a = join(tmp.path, "big-a");
    makeTree(a);
    const layout = {
      seed: "6b4a3f5e-0c1d-4e2f-9a8b-7c6d5e4f3a2b",
      size: "4G",
      ownership: "root",
      partitions: [
        { type: "esp", format: "vfat", size: "64M", copyFiles: ["/boot:/"] },
        { type: "root", format: "ext4", grow: true, copyFiles: ["/:/"], excludeFiles: ["/boot/"] },
      ],
    };
    await build(layout, a, join(tmp.path, "BigA.img"));
    writeFileSync(join(a, "usr/share/doc/example/README"), "changed!" + readFileSync(join(a, "usr/share/doc/example/README"), "utf8").slice(8));
    setTimes(a);
    await build(layout, a, join(tmp.path, "BigB.img"));
    const r = run("/usr/bin/time", ["-f", "%M", process.execPath, CLI, "diff", join(tmp.path, "BigA.img"), join(tmp.path, "BigB.img"), "--json"]);
    expect(r.status).toBe(1);
    const d = parse(r.stdout).differences;
    expect(d.map((x) => x.what)).toEqual(["file /usr/share/doc/example/README content: bytes 0..8"]);
    const maxRssKiB = Number(r.stderr.trim().split("\n").pop());
    expect(maxRssKiB).toBeGreaterThan(0);
    expect(maxRssKiB).toBeLessThan(200 * 1024);
  }, 600_000);

  it("ext4 block maps that point back at their own blocks, and a GPT entry larger than the disk: the diff ends, in a 256 MiB heap", async () => {
    const a = join(tmp.path, "loop");
    makeTree(a);
    const good = join(tmp.path, "loop-good.img");
    await build({ seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445", size: "auto", ownership: "root", partitions: [{ type: "root", format: "ext4", size: "16M", copyFiles: ["/:/"] }] }, a, good);
    const size = readFileSync(good).length;
    const root = readGpt(openRawReader(good).readAt, size).partitions[0];
    const base = root.startLba * 512;
    // Where inode 8 (the journal) lives, from debugfs on the partition alone.
    const part = join(tmp.path, "loop-part.img");
    writeFileSync(part, readFileSync(good).subarray(base, (root.endLba + 1) * 512));
    const m = /located at block (\d+), offset (0x[0-9a-f]+)/.exec(runOk("debugfs", ["-R", "imap <8>", part]))!;
    const inodeAt = base + Number(m[1]) * 4096 + Number(m[2]);
    const bad = join(tmp.path, "loop-bad.img");
    copyFileSync(good, bad);
    const fd = openSync(bad, "r+");
    const put = (at: number, b: Buffer) => writeSync(fd, b, 0, b.length, at);
    const header = (entries: number, max: number, depth: number) => {
      const h = Buffer.alloc(12);
      h.writeUInt16LE(0xf30a, 0);
      h.writeUInt16LE(entries, 2);
      h.writeUInt16LE(max, 4);
      h.writeUInt16LE(depth, 6);
      return h;
    };
    const index = (to: number) => {
      const e = Buffer.alloc(12);
      e.writeUInt32LE(to, 4);
      return e;
    };
    // i_block: depth 4, four entries to block 3000; blocks 3000..3002 each hold 340 entries to the next; 3003 holds 340 extents.
    put(inodeAt + 0x28, Buffer.concat([header(4, 4, 4), ...Array.from({ length: 4 }, () => index(3000))]));
    for (let d = 0; d < 3; d++) put(base + (3000 + d) * 4096, Buffer.concat([header(340, 340, 3 - d), ...Array.from({ length: 340 }, () => index(3001 + d))]));
    const leaf = Buffer.alloc(12 * 340);
    for (let i = 0; i < 340; i++) {
      leaf.writeUInt32LE(i, 12 * i);
      leaf.writeUInt16LE(1, 12 * i + 4);
      leaf.writeUInt32LE(1 + i, 12 * i + 8);
    }
    put(base + 3003 * 4096, Buffer.concat([header(340, 340, 0), leaf]));
    // Many separate differing ranges, each asking for the (failing) path map.
    for (let blk = 3100; blk < 3600; blk++) put(base + blk * 4096 + 100, Buffer.from([0x42]));
    closeSync(fd);
    const r = diffCli(bad, good, { nodeArgs: ["--max-old-space-size=256"], timeoutMs: 60_000 });
    expect(r.error, r.stderr).toBeUndefined(); // a spawn timeout (the old code walked 4 × 340³ entries, again for every range)
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(1);
    expect(parse(r.stdout).differences.length).toBeGreaterThan(0);

    // A GPT entry claiming 2^30 more sectors than the disk has (CRCs made right): the ext4 tables stay sized by the disk.
    const big = join(tmp.path, "loop-big.img");
    copyFileSync(good, big);
    const img = readFileSync(big);
    const entries = img.readUInt32LE(512 + 72) * 512; // PartitionEntryLBA
    img.writeBigUInt64LE(BigInt(root.endLba) + (1n << 30n), entries + 40);
    img.writeUInt32LE(8, base + 1024 + 0x20); // s_blocks_per_group: many groups for those blocks
    img.writeUInt32LE(2 ** 24, base + 1024 + 0x04); // s_blocks_count_lo
    const { crc32 } = await import("../../src/bin/crc.js");
    img.writeUInt32LE(crc32(img.subarray(entries, entries + 128 * 128)), 512 + 88);
    img.writeUInt32LE(0, 512 + 16);
    img.writeUInt32LE(crc32(img.subarray(512, 512 + 92)), 512 + 16);
    writeFileSync(big, img);
    const g = diffCli(big, good, { nodeArgs: ["--max-old-space-size=256"], timeoutMs: 60_000 });
    expect(g.error, g.stderr).toBeUndefined();
    expect(g.signal).toBeNull();
    expect(g.status, g.stderr).toBe(1);
  }, 180_000);

  it("survives truncated and bit-flipped images (no crash, no hang, no big allocation)", async () => {
    const a = join(tmp.path, "fz");
    makeTree(a);
    const good = join(tmp.path, "fz-good.img");
    const layout = {
      seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
      size: "auto",
      ownership: "root",
      partitions: [
        { type: "esp", format: "vfat", size: "40M", copyFiles: ["/boot:/", "/efi:/"] },
        { type: "root", format: "ext4", size: "16M", copyFiles: ["/:/"], excludeFiles: ["/boot/", "/efi/"] },
      ],
    };
    await build(layout, a, good);
    const size = readFileSync(good).length;
    const gpt = readGpt(openRawReader(good).readAt, size);
    // Metadata-dense windows: the start of each filesystem (boot sector, FATs, root
    // directory; superblock, descriptors, bitmaps, inode tables, directories).
    const windows = gpt.partitions.map((p) => ({ start: p.startLba * 512, len: Math.min((p.endLba - p.startLba + 1) * 512, 2 << 20) }));
    const bad = join(tmp.path, "fz-bad.img");

    const damage = fc.record({
      flips: fc.array(fc.record({ w: fc.nat(windows.length - 1), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), run: fc.integer({ min: 1, max: 64 }) }), { minLength: 1, maxLength: 40 }),
      truncateAt: fc.option(fc.nat({ max: size - 1 }), { freq: 4 }),
      corruptFirst: fc.boolean(),
    });
    let cases = 0;
    fc.assert(
      fc.property(damage, ({ flips, truncateAt, corruptFirst }) => {
        copyFileSync(good, bad);
        const fd = openSync(bad, "r+");
        for (const f of flips) {
          const w = windows[f.w];
          const off = w.start + (f.at % w.len);
          const buf = Buffer.alloc(f.run);
          const cur = Buffer.alloc(f.run);
          readSync(fd, cur, 0, f.run, off);
          for (let i = 0; i < f.run; i++) buf[i] = (cur[i] ?? 0) ^ f.xor;
          writeSync(fd, buf, 0, Math.min(f.run, size - off), off);
        }
        closeSync(fd);
        if (truncateAt !== null) truncateSync(bad, truncateAt);
        cases++;
        const [x, y] = corruptFirst ? [bad, good] : [good, bad];
        const r = diffCli(x, y, { nodeArgs: ["--max-old-space-size=256"], timeoutMs: 10_000 });
        const ctx = `flips=${JSON.stringify(flips)} truncateAt=${truncateAt} corruptFirst=${corruptFirst}\n${r.stderr}`;
        expect(r.error, ctx).toBeUndefined(); // spawn timeout → ETIMEDOUT
        expect(r.signal, ctx).toBeNull();
        if (r.status === 0 || r.status === 1) {
          JSON.parse(r.stdout);
        } else {
          // Only a coded MkdiskError (e.g. E_IMAGE for an unreadable table) is allowed.
          expect(r.stderr, ctx).toMatch(/^mkdisk: error \[E_[A-Z]+\]/);
        }
      }),
      { numRuns: 40, seed: 20240601 },
    );
    expect(cases).toBe(40);

    // In process, many more cases: the explainers alone on the two partitions,
    // each case bounded in time; every differing range gets a description.
    const img = readFileSync(good);
    const parts = gpt.partitions.map((p) => img.subarray(p.startLba * 512, (p.endLba + 1) * 512));
    const explainers = [explainFat, explainExt4];
    fc.assert(
      fc.property(
        fc.nat(parts.length - 1),
        fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), run: fc.integer({ min: 1, max: 512 }) }), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (pi, flips, corruptFirst) => {
          const goodPart = parts[pi];
          const badPart = Buffer.from(goodPart);
          const win = Math.min(goodPart.length, 2 << 20);
          for (const f of flips) {
            const off = f.at % win;
            for (let i = off; i < Math.min(off + f.run, badPart.length); i++) badPart[i] ^= f.xor;
          }
          const ranges: [number, number][] = [];
          for (let i = 0; i < win; i++) {
            if (goodPart[i] === badPart[i]) continue;
            const last = ranges[ranges.length - 1];
            if (last && i - last[1] < 64) last[1] = i + 1;
            else ranges.push([i, i + 1]);
          }
          const [x, y] = corruptFirst ? [badPart, goodPart] : [goodPart, badPart];
          const at = (buf: Buffer) => (o: number, l: number) => buf.subarray(Math.max(0, o), Math.max(0, Math.min(buf.length, o + l)));
          const t0 = Date.now();
          const out = explainers[pi](at(x), at(y), goodPart.length, ranges);
          expect(Date.now() - t0).toBeLessThan(10_000);
          // Every differing byte is covered by some description.
          for (const [s, e] of ranges) {
            expect(out.some((d) => d.startBytes <= s && d.endBytes > s), JSON.stringify({ s, e, out: out.slice(0, 5) })).toBe(true);
            expect(out.some((d) => d.startBytes <= e - 1 && d.endBytes >= e), JSON.stringify({ s, e })).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  }, 900_000);
});
