/**
 * The mkdisk command as a user runs it: reproducibility under different
 * process conditions, output safety (no overwrite without --force, no
 * half-written output, no leftover temporary files), exit statuses.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, runOk, sha256File, tempDir } from "../helpers/tools.js";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/mkdisk.js");
let tmp: ReturnType<typeof tempDir>;

function mkdisk(args: string[], env: NodeJS.ProcessEnv = {}, umask?: string) {
  const cmd = umask ? `umask ${umask} && exec "$@"` : `exec "$@"`;
  return spawnSync("sh", ["-c", cmd, "sh", process.execPath, CLI, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...env },
  });
}

const LAYOUT = {
  seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445",
  sourceDateEpoch: 1662046009,
  size: "auto",
  partitions: [
    { type: "esp", size: "8M" },
    { type: "bios-boot", size: "1M" },
    { type: "root", size: "16M" },
    { type: "swap", format: "swap", size: "4M" },
  ],
};

beforeAll(() => {
  tmp = tempDir();
  mkdirSync(join(tmp.path, "root/etc"), { recursive: true });
  writeFileSync(join(tmp.path, "root/etc/hostname"), "x\n");
  writeFileSync(join(tmp.path, "layout.json"), JSON.stringify(LAYOUT));
});
afterAll(() => tmp.cleanup());

const layoutPath = () => join(tmp.path, "layout.json");

describe("mkdisk CLI", () => {
  it("prints help and version", () => {
    const h = mkdisk(["--help"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain("--layout FILE");
    // The overview names every option each command takes (checked against the commands' own parsers).
    for (const [cmd, opts] of [["verify", ["--manifest", "--rootfs", "--ownership-manifest", "--layout-dir", "--image", "--json"]], ["lint", ["--rootfs", "--source-date-epoch", "--json"]], ["convert", ["-O", "--compress", "--seed", "--workers", "--force"]]] as const) {
      const line = h.stdout.split("\n  mkdisk ").find((l) => l.startsWith(cmd + " "))!;
      for (const o of opts) expect(line, `${cmd} ${o}`).toContain(o);
      expect(mkdisk([cmd, "--help"]).status).toBe(0);
    }
    for (const f of ["raw", "qcow2", "vmdk", "ova", "vagrant-libvirt", "vagrant-virtualbox"]) expect(h.stdout).toContain(f);
    const c = mkdisk(["convert", "-O", "raw", "--compress", "in.img", "out.img"]);
    expect([c.status, c.stderr]).toEqual([2, expect.stringMatching(/--compress applies to qcow2/)]);
    const v = mkdisk(["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^mkdisk \d+\.\d+\.\d+/);
  });

  it("gives the same SHA-256 whatever the output name, TZ, LANG and umask", () => {
    const a = join(tmp.path, "a.img");
    const b = join(tmp.path, "other-name.img");
    const r1 = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "-o", a], { TZ: "UTC", LANG: "C" }, "022");
    expect(r1.stderr).toBe("");
    expect(r1.status).toBe(0);
    const r2 = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "-o", b], { TZ: "Pacific/Chatham", LANG: "tr_TR.UTF-8", LC_ALL: "tr_TR.UTF-8" }, "077");
    expect(r2.status).toBe(0);
    expect(sha256File(a)).toBe(sha256File(b));
    // The GPT oracle agrees the image is sound.
    expect(runOk("sgdisk", ["-v", a])).toContain("No problems found");
  });

  it("reports the result as JSON, including each output's SHA-256", () => {
    const out = join(tmp.path, "json.img");
    const r = mkdisk(["--layout", layoutPath(), "-o", out, "--json"]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.seed).toBe(LAYOUT.seed);
    expect(j.sourceDateEpoch).toBe(LAYOUT.sourceDateEpoch);
    expect(j.outputs[0].sha256).toBe(sha256File(out));
  });

  it("refuses to replace an existing output without --force, and replaces it with --force", () => {
    const out = join(tmp.path, "exists.img");
    writeFileSync(out, "precious");
    const r = mkdisk(["--layout", layoutPath(), "-o", out]);
    expect(r.status).toBe(6);
    expect(r.stderr).toContain("--force");
    expect(readFileSync(out, "utf8")).toBe("precious");
    const f = mkdisk(["--layout", layoutPath(), "-o", out, "--force"]);
    expect(f.status).toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(1 << 20);
  });

  it("leaves nothing at the output path when the build fails, and no temporary files", () => {
    const dir = join(tmp.path, "fail");
    mkdirSync(dir);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...LAYOUT, size: "4M" }));
    const r = mkdisk(["--layout", bad, "-o", join(dir, "out.img")]);
    expect(r.status).toBe(5); // E_FIT
    expect(r.stderr).toMatch(/size: .*at least/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(readdirSync(dir)).toEqual(["bad.json"]);
  });

  it("turns a full output file system into a clear error and removes the partial file", () => {
    const mnt = join(tmp.path, "small");
    mkdirSync(mnt);
    runOk("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      const big = join(tmp.path, "big.json");
      writeFileSync(big, JSON.stringify({ ...LAYOUT, partitions: [{ type: "swap", format: "swap", size: "64M" }] }));
      // The swap header alone is small: fill the disk by sizing the tmpfs below the GPT + header.
      writeFileSync(join(mnt, "filler"), Buffer.alloc(1024 * 1024 - 8 * 1024, 1));
      const r = mkdisk(["--layout", big, "-o", join(mnt, "out.img")]);
      expect(r.status).toBe(6);
      expect(r.stderr).toMatch(/full|ENOSPC|No space/);
      // It names the output and the room left there (the partial file already removed).
      expect(r.stderr).toContain(`${join(mnt, "out.img")}: write failed`);
      expect(r.stderr).toMatch(/; \d+ KiB free there\)/);
      expect(readdirSync(mnt)).toEqual(["filler"]);
    } finally {
      run("umount", [mnt]);
    }
  });

  /**
   * Runs the CLI with `args` at the lowest priority (so this poller is not the
   * one starved on a busy machine). Once `ready()` holds, freezes the build
   * (SIGSTOP), checks `ready()` still holds, sends `sig` and lets it go on.
   */
  async function interruptWhen(args: string[], ready: () => boolean, sig: NodeJS.Signals, env: NodeJS.ProcessEnv = {}) {
    const child = spawn("nice", ["-n", "19", process.execPath, CLI, ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("close", (code, signal) => res({ code, signal })));
    let sent = false;
    while (!sent) {
      if (ready()) {
        process.kill(child.pid!, "SIGSTOP");
        if (ready()) sent = child.kill(sig);
        process.kill(child.pid!, "SIGCONT");
        if (!sent) break;
      } else if (child.exitCode !== null) break;
      else await new Promise((r) => setTimeout(r, 2));
    }
    const { code, signal } = await exited;
    expect(sent, `the command ended before it could be interrupted (exit ${code}): ${stderr}`).toBe(true);
    return { code, signal, stderr };
  }

  /** A directory with a 192 MiB rootfs (so the copy takes a while), an ext4 layout and an output directory holding an old disk.img. */
  function bigBuild(name: string) {
    const dir = join(tmp.path, name);
    mkdirSync(join(dir, "root"), { recursive: true });
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    writeFileSync(join(dir, "root/data"), Buffer.concat(Array.from({ length: 192 }, () => chunk)));
    writeFileSync(join(dir, "layout.json"), JSON.stringify({ ...LAYOUT, partitions: [{ type: "root", format: "ext4", size: "384M" }] }));
    const out = join(dir, "out");
    mkdirSync(out);
    writeFileSync(join(out, "disk.img"), "the previous image\n");
    return { dir, out, args: ["--rootfs", join(dir, "root"), "--layout", join(dir, "layout.json"), "-o", join(out, "disk.img"), "--force"] };
  }

  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    it(`interrupted by ${sig} mid-write: removes its temporary file, keeps the existing output, dies by ${sig}`, async () => {
      const { out, args } = bigBuild(`signal-${sig}`);
      // The temporary output appears once planning is done and the copy starts.
      const midCopy = () => readdirSync(out).some((n) => n.endsWith(".mkdisk-tmp"));
      const { code, signal, stderr } = await interruptWhen(args, midCopy, sig);
      expect({ code, signal }).toEqual({ code: null, signal: sig });
      expect(stderr).toContain(`mkdisk: interrupted (${sig}); no output was written`);
      expect(readdirSync(out)).toEqual(["disk.img"]);
      expect(readFileSync(join(out, "disk.img"), "utf8")).toBe("the previous image\n");
    });
  }

  it("interrupted mid-write with --manifest: neither the image nor the manifest is written, the old image stays", async () => {
    const { out, args } = bigBuild("signal-manifest");
    const manifest = join(out, "manifest.json");
    // Both temporary files exist from the start of the copy: the manifest is committed with the image.
    const midCopy = () => readdirSync(out).filter((n) => n.endsWith(".mkdisk-tmp")).length === 2;
    const { signal, stderr } = await interruptWhen([...args, "--manifest", manifest], midCopy, "SIGINT");
    expect(signal).toBe("SIGINT");
    expect(stderr).toContain("mkdisk: interrupted (SIGINT); no output was written");
    expect(readdirSync(out)).toEqual(["disk.img"]);
    expect(readFileSync(join(out, "disk.img"), "utf8")).toBe("the previous image\n");
  });

  it("the manifest is put in place with the image or not at all, and never over it", () => {
    const dir = join(tmp.path, "manifest-safety");
    mkdirSync(join(dir, "ro"), { recursive: true });
    const base = ["--rootfs", join(tmp.path, "root"), "--layout", layoutPath()];
    // A manifest that cannot be written (a read-only directory): no image either.
    runOk("mount", ["--bind", "-o", "ro", join(dir, "ro"), join(dir, "ro")]);
    try {
      const r = mkdisk([...base, "-o", join(dir, "disk.img"), "--manifest", join(dir, "ro/m.json")]);
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/ro\/m\.json: .*read-only file system/);
    } finally {
      runOk("umount", [join(dir, "ro")]);
    }
    expect(readdirSync(dir)).toEqual(["ro"]);
    // The manifest and an image naming one file, however spelled: a usage error before anything is written.
    for (const [o, m] of [["disk.img", "disk.img"], ["./disk.img", "disk.img"], ["disk.img", "ro/../disk.img"]]) {
      const r = spawnSync(process.execPath, [CLI, ...base, "-o", o, "--manifest", m, "--force"], { cwd: dir, encoding: "utf8" });
      expect(r.status, `${o} ${m}`).toBe(2);
      expect(r.stderr).toMatch(/two outputs \(an image and the manifest\) write to the same file/);
    }
    expect(readdirSync(dir)).toEqual(["ro"]);
    // Through a symbolic link, ".." is the link target's parent (the kernel's reading, not the text's).
    mkdirSync(join(dir, "other/sub"), { recursive: true });
    mkdirSync(join(dir, "here"));
    symlinkSync("../other/sub", join(dir, "here/sub"));
    const via = spawnSync(process.execPath, [CLI, ...base, "-o", "../other/d.img", "--manifest", "sub/../d.img", "--force"], { cwd: join(dir, "here"), encoding: "utf8" });
    expect([via.status, via.stderr]).toEqual([2, expect.stringMatching(/two outputs \(an image and the manifest\) write to the same file/)]);
    const apart = spawnSync(process.execPath, [CLI, ...base, "-o", "d.img", "--manifest", "sub/../m.json"], { cwd: join(dir, "here"), encoding: "utf8" });
    expect(apart.status, apart.stderr).toBe(0);
    expect(readdirSync(join(dir, "here")).sort()).toEqual(["d.img", "sub"]);
    expect(readdirSync(join(dir, "other")).sort()).toEqual(["m.json", "sub"]);
    const ok = mkdisk([...base, "-o", join(dir, "disk.img"), "--manifest", join(dir, "m.json")]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "m.json"), "utf8")).outputs[0].sha256).toBe(sha256File(join(dir, "disk.img")));
  });

  it("outputs: a dangling symlink is not replaced without --force, a directory never; a stem keeps dots that are not an image extension", () => {
    const dir = join(tmp.path, "out-paths");
    mkdirSync(join(dir, "adir"), { recursive: true });
    symlinkSync("nowhere.img", join(dir, "dangling.img"));
    const base = ["--rootfs", join(tmp.path, "root"), "--layout", layoutPath()];
    const dl = mkdisk([...base, "-o", join(dir, "dangling.img")]);
    expect(dl.status).toBe(6);
    expect(dl.stderr).toMatch(/dangling\.img: output exists \(a symbolic link\); pass --force/);
    expect(readdirSync(dir).sort()).toEqual(["adir", "dangling.img"]);
    const d = mkdisk([...base, "-o", join(dir, "adir"), "--force"]);
    expect(d.status).toBe(6);
    expect(d.stderr).toMatch(/adir: output is a directory/);
    expect(mkdisk([...base, "-o", join(dir, "release-1.2"), "--format", "raw,qcow2"]).status).toBe(0);
    expect(mkdisk([...base, "-o", join(dir, "other.img"), "--format", "raw,qcow2"]).status).toBe(0);
    // A name too long for the temporary file's suffix still works.
    const long = "n".repeat(250) + ".img";
    expect(mkdisk([...base, "-o", join(dir, long)]).status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["adir", "dangling.img", long, "other.img", "other.qcow2", "release-1.2.img", "release-1.2.qcow2"]);
  });

  it("interrupted while planning (a long hole scan): ends at once, nothing written", async () => {
    const dir = join(tmp.path, "signal-planning");
    mkdirSync(join(dir, "root"), { recursive: true });
    // 1 TiB of holes: the ext4 hole scan reads it for minutes.
    runOk("truncate", ["-s", "1T", join(dir, "root/sparse")]);
    writeFileSync(join(dir, "layout.json"), JSON.stringify({ ...LAYOUT, partitions: [{ type: "root", format: "ext4", size: "64M" }] }));
    const out = join(dir, "out");
    mkdirSync(out);
    writeFileSync(join(out, "disk.img"), "the previous image\n");
    const child = spawn(process.execPath, [CLI, "--rootfs", join(dir, "root"), "--layout", join(dir, "layout.json"), "-o", join(out, "disk.img"), "--force"], { stdio: "ignore" });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("close", (code, signal) => res({ code, signal })));
    // Well into planning (past Node's start and the scan), with no output file yet.
    await new Promise((r) => setTimeout(r, 2000));
    expect(child.exitCode, "the build ended before it could be interrupted").toBe(null);
    expect(readdirSync(out)).toEqual(["disk.img"]);
    child.kill("SIGINT");
    // A signal that waited for planning to end would leave it running for minutes.
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const { code, signal } = await exited;
    clearTimeout(guard);
    expect({ code, signal }).toEqual({ code: null, signal: "SIGINT" });
    expect(readdirSync(out)).toEqual(["disk.img"]);
    expect(readFileSync(join(out, "disk.img"), "utf8")).toBe("the previous image\n");
  });

  it("interrupted mid-write from a .tar.gz rootfs: removes the inflated tar too", async () => {
    const { dir, out, args } = bigBuild("signal-targz");
    const tgz = join(dir, "root.tar.gz");
    runOk("tar", ["-czf", tgz, "-C", join(dir, "root"), "."]);
    const scratchRoot = join(dir, "tmp");
    mkdirSync(scratchRoot);
    const midCopy = () => readdirSync(out).some((n) => n.endsWith(".mkdisk-tmp"));
    const withTar = [...args];
    withTar[1] = tgz;
    const { signal } = await interruptWhen(withTar, midCopy, "SIGHUP", { TMPDIR: scratchRoot });
    expect(signal).toBe("SIGHUP");
    expect(readdirSync(scratchRoot)).toEqual([]);
    expect(readFileSync(join(out, "disk.img"), "utf8")).toBe("the previous image\n");
  });

  it("verify interrupted mid-rebuild removes its scratch directory", async () => {
    const { dir, out, args } = bigBuild("signal-verify");
    const manifest = join(dir, "manifest.json");
    expect(mkdisk([...args, "--manifest", manifest]).status).toBe(0);
    const scratchRoot = join(dir, "tmp");
    mkdirSync(scratchRoot);
    // The rebuild's temporary output exists inside mkdisk-verify-*.
    const rebuilding = () => readdirSync(scratchRoot).some((d) => d.startsWith("mkdisk-verify-") && readdirSync(join(scratchRoot, d)).some((n) => n.endsWith(".mkdisk-tmp")));
    const { signal, stderr } = await interruptWhen(["verify", "--manifest", manifest, "--rootfs", join(dir, "root")], rebuilding, "SIGTERM", { TMPDIR: scratchRoot });
    expect(signal).toBe("SIGTERM");
    expect(stderr).toContain("mkdisk: interrupted (SIGTERM); no output was written");
    expect(readdirSync(scratchRoot)).toEqual([]);
    expect(readdirSync(out)).toEqual(["disk.img"]);
  });

  it("streams a vmdk to stdout through a pipe (-o -), byte for byte the file output", () => {
    const file = join(tmp.path, "file.vmdk");
    const piped = join(tmp.path, "piped.vmdk");
    // Incompressible content, so the stream is larger than a pipe's buffer.
    const noisy = join(tmp.path, "noisy");
    mkdirSync(noisy);
    const noise = Buffer.alloc(1 << 20);
    for (let i = 0, x = 1; i < noise.length; i++) noise[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    writeFileSync(join(noisy, "noise.bin"), noise);
    const layout = join(tmp.path, "noisy.json");
    writeFileSync(layout, JSON.stringify({ ...LAYOUT, partitions: [{ type: "root", format: "ext4", size: "16M" }] }));
    const args = ["--rootfs", noisy, "--layout", layout, "--format", "vmdk"];
    expect(mkdisk([...args, "-o", file]).status).toBe(0);
    // A slow reader behind a pipe: the writer must wait for 'drain', not buffer or fail with EAGAIN.
    const r = spawnSync("sh", ["-c", `"$@" | (sleep 0.3; cat) > "${piped}"`, "sh", process.execPath, CLI, ...args, "-o", "-"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(piped).length).toBeGreaterThan(1 << 20);
    expect(sha256File(piped)).toBe(sha256File(file));
    expect(runOk("qemu-img", ["check", "-f", "vmdk", piped])).toContain("No errors");
    // Only the sequential format may stream; the others name the fix.
    const raw = mkdisk(["--layout", layoutPath(), "--format", "raw", "-o", "-"]);
    expect(raw.status).toBe(2);
    expect(raw.stderr).toContain("--format vmdk");
    expect(raw.stdout).toBe("");
  });

  it("a subcommand whose reader closes the pipe stops quietly (exit 141, no stack trace); convert refuses \"-\" as OUT", () => {
    const img = join(tmp.path, "pipe.img");
    expect(mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "-o", img]).status).toBe(0);
    for (const args of [["diff", img, img], ["inspect", img], ["inspect", "--json", img]]) {
      // The reader closes its end at once; Node takes longer than that to start, so every write finds the pipe closed.
      const r = spawnSync("bash", ["-c", `"$@" 2>"${tmp.path}/pipe.err" | (exec 0<&-; sleep 1); echo "\${PIPESTATUS[0]}"`, "bash", process.execPath, CLI, ...args], { encoding: "utf8" });
      expect(r.stdout.trim(), args.join(" ")).toBe("141");
      expect(readFileSync(join(tmp.path, "pipe.err"), "utf8"), args.join(" ")).toBe("");
    }
    const c = mkdisk(["convert", img, "-O", "vmdk", "-"]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/convert writes a file, not standard output/);
    expect(existsSync("-")).toBe(false);
  });

  it("--compress reaches the qcow2 inside a vagrant-libvirt box", () => {
    const boxes: Record<string, string> = {};
    for (const flags of [[], ["--compress"]]) {
      const box = join(tmp.path, `box${flags.length}.box`);
      const r = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "-o", box, "--format", "vagrant-libvirt", ...flags]);
      expect(r.status, r.stderr).toBe(0);
      const x = join(tmp.path, `box${flags.length}-x`);
      mkdirSync(x);
      runOk("tar", ["-xzf", box, "-C", x, "box.img"]);
      runOk("qemu-img", ["check", "-f", "qcow2", join(x, "box.img")]);
      const map = JSON.parse(runOk("qemu-img", ["map", "-f", "qcow2", "--output=json", join(x, "box.img")])) as { data: boolean; offset?: number }[];
      // qemu-img map shows compressed clusters as data without a host offset.
      boxes[flags.length ? "compressed" : "plain"] = map.some((m) => m.data && m.offset === undefined) ? "compressed clusters" : "none";
    }
    expect(boxes).toEqual({ plain: "none", compressed: "compressed clusters" });
  });

  it("--format keeps the settings the layout gives that format (path, clusterSize)", () => {
    const layout = join(tmp.path, "outputs.json");
    const qcow = join(tmp.path, "from-layout.qcow2");
    writeFileSync(layout, JSON.stringify({ ...LAYOUT, outputs: [{ format: "raw", path: join(tmp.path, "unused.img") }, { format: "qcow2", path: qcow, clusterSize: 4096 }] }));
    const r = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layout, "--format", "qcow2"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(runOk("qemu-img", ["info", "--output=json", qcow]))["cluster-size"]).toBe(4096);
    expect(existsSync(join(tmp.path, "unused.img"))).toBe(false);
  });

  it("exits 2 for usage errors and 3 for layout errors, naming the field", () => {
    expect(mkdisk(["--bogus"]).status).toBe(2);
    expect(mkdisk(["-o", "x.img"]).status).toBe(2);
    const bad = join(tmp.path, "badtype.json");
    writeFileSync(bad, JSON.stringify({ partitions: [{ type: "nonsense", size: "1M" }] }));
    const r = mkdisk(["--layout", bad, "-o", join(tmp.path, "never.img")]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("partitions[0].type");
    expect(existsSync(join(tmp.path, "never.img"))).toBe(false);
    // A bad flag value is a usage error (2) naming the flag; the same in the layout is a layout error (3) naming the field.
    const base = ["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "-o", join(tmp.path, "never.img")];
    const seed = mkdisk([...base, "--seed", "not-a-uuid"]);
    expect([seed.status, seed.stderr]).toEqual([2, expect.stringMatching(/--seed takes a UUID/)]);
    const cseed = mkdisk(["convert", "-O", "qcow2", "--seed", "nope", join(tmp.path, "x.img"), join(tmp.path, "x.qcow2")]);
    expect([cseed.status, cseed.stderr]).toEqual([2, expect.stringMatching(/--seed takes a UUID.*see mkdisk convert --help/)]);
    const epoch = mkdisk([...base, "--source-date-epoch", "99999999999999999999"]);
    expect([epoch.status, epoch.stderr]).toEqual([2, expect.stringMatching(/after 2446-05-10/)]);
    const late = join(tmp.path, "late.json");
    writeFileSync(late, JSON.stringify({ ...LAYOUT, sourceDateEpoch: 99_999_999_999 }));
    const l = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", late, "-o", join(tmp.path, "never.img")]);
    expect([l.status, l.stderr]).toEqual([3, expect.stringMatching(/sourceDateEpoch: 99999999999 is after 2446-05-10/)]);
    expect(existsSync(join(tmp.path, "never.img"))).toBe(false);
  });

  it("a pipe or a directory where a file is read: a coded error, not a hang or a stack trace", () => {
    const dir = join(tmp.path, "pipes");
    mkdirSync(join(dir, "adir"), { recursive: true });
    runOk("mkfifo", [join(dir, "fifo")]);
    const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 20_000 });
    const rootfs = cli(["--rootfs", join(dir, "fifo"), "--layout", layoutPath(), "-o", join(dir, "x.img")]);
    expect([rootfs.status, rootfs.stderr]).toEqual([4, expect.stringMatching(/fifo: the rootfs is a FIFO \(a pipe\); give a directory or a tar file/)]);
    for (const args of [["inspect", join(dir, "fifo")], ["inspect", join(dir, "adir")], ["diff", join(dir, "adir"), join(dir, "fifo")], ["convert", "-O", "qcow2", join(dir, "adir"), join(dir, "x.qcow2")]]) {
      const r = cli(args);
      expect(r.status, args.join(" ")).toBe(8);
      expect(r.stderr).toMatch(/E_IMAGE.*is a (FIFO \(a pipe\)|directory), not an image file/);
    }
    expect(readdirSync(dir).sort()).toEqual(["adir", "fifo"]);
    // A block device: its size is not its stat size, so it is refused rather than read as empty.
    const loopImg = join(dir, "loop.img");
    writeFileSync(loopImg, Buffer.alloc(1 << 20));
    const loop = runOk("losetup", ["-f", "--show", loopImg]).trim();
    try {
      const b = cli(["convert", "-O", "raw", loop, join(dir, "from-dev.img")]);
      expect([b.status, b.stderr]).toEqual([8, expect.stringMatching(/is a block device, not an image file \(copy the device/)]);
    } finally {
      runOk("losetup", ["-d", loop]);
    }
    rmSync(loopImg);
    // An OVA (a tar) and gzip data are named as what they are.
    const ova = join(dir, "x.ova");
    expect(mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "--format", "ova", "-o", ova]).status).toBe(0);
    const i = cli(["inspect", ova]);
    expect([i.status, i.stderr]).toEqual([8, expect.stringMatching(/x\.ova: a tar archive, not a disk image .*extract the disk/)]);
    runOk("sh", ["-c", `gzip -c < ${ova} > ${join(dir, "x.gz")}`]);
    const g = cli(["convert", "-O", "qcow2", join(dir, "x.gz"), join(dir, "x.qcow2")]);
    expect([g.status, g.stderr]).toEqual([8, expect.stringMatching(/gzip data, not a disk image/)]);
    // --manifest "-" is not stdout: a usage error, nothing written.
    const m = mkdisk(["--rootfs", join(tmp.path, "root"), "--layout", layoutPath(), "-o", join(dir, "m.img"), "--manifest", "-"]);
    expect([m.status, m.stderr]).toEqual([2, expect.stringMatching(/--manifest writes a file/)]);
    expect(existsSync(join(dir, "m.img"))).toBe(false);
  });

  it("reports an unreadable rootfs as a tree error", () => {
    const r = mkdisk(["--rootfs", join(tmp.path, "does-not-exist"), "--layout", layoutPath(), "-o", join(tmp.path, "never2.img")]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain("does-not-exist");
  });

  it("takes SOURCE_DATE_EPOCH from the environment and --source-date-epoch over the layout", () => {
    const out1 = join(tmp.path, "e1.img");
    const r = mkdisk(["--layout", layoutPath(), "-o", out1, "--json", "--source-date-epoch", "1000"]);
    expect(JSON.parse(r.stdout).sourceDateEpoch).toBe(1000);
    const out2 = join(tmp.path, "e2.img");
    const r2 = mkdisk(["--layout", layoutPath(), "-o", out2, "--json"], { SOURCE_DATE_EPOCH: "2000" });
    expect(JSON.parse(r2.stdout).sourceDateEpoch).toBe(2000);
  });

  it("without the xattr addon warns once and builds the same image (a tree without xattrs)", () => {
    // The installed package minus @napi-rs/xattr: the bundle, package.json
    // (the version is read from it) and fflate only.
    const pkg = join(tmp.path, "no-addon");
    mkdirSync(join(pkg, "dist"), { recursive: true });
    mkdirSync(join(pkg, "node_modules"), { recursive: true });
    copyFileSync(CLI, join(pkg, "dist/mkdisk.js"));
    copyFileSync(join(ROOT, "package.json"), join(pkg, "package.json"));
    symlinkSync(join(ROOT, "node_modules/fflate"), join(pkg, "node_modules/fflate"));
    // Both file systems are filled from the tree, so both scan paths run.
    const layout = join(tmp.path, "xattr-layout.json");
    writeFileSync(layout, JSON.stringify({ seed: LAYOUT.seed, sourceDateEpoch: LAYOUT.sourceDateEpoch, partitions: [{ type: "esp", format: "vfat", size: "40M", copyFiles: ["/etc:/"] }, { type: "root", format: "ext4", size: "32M" }] }));
    const args = (out: string) => ["--rootfs", join(tmp.path, "root"), "--layout", layout, "-o", out];
    const withAddon = join(tmp.path, "xattr-addon.img");
    const without = join(tmp.path, "xattr-none.img");
    const a = mkdisk(args(withAddon));
    expect(a.status).toBe(0);
    expect(a.stderr).toBe("");
    const b = spawnSync(process.execPath, [join(pkg, "dist/mkdisk.js"), ...args(without)], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(b.status).toBe(0);
    const warnings = b.stderr.split("\n").filter((l) => l.length > 0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^mkdisk: warning: extended attributes are not read \(cannot load @napi-rs\/xattr: .+\); capabilities, ACLs and SELinux labels will be missing from the image$/);
    expect(sha256File(without)).toBe(sha256File(withAddon));
  });
});
