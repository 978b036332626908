/** The ownership manifest: parsing, applying, and coded errors naming the line. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { encodeCapability } from "../../src/tree/capability.js";
import { applyManifest, parseManifest } from "../../src/tree/manifest.js";
import { scanTree } from "../../src/tree/scan.js";
import { walkTree } from "../../src/tree/select.js";
import { runOk, tempDir } from "../helpers/tools.js";

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
  mkdirSync(join(tmp.path, "r/dev"), { recursive: true });
  mkdirSync(join(tmp.path, "r/usr/bin"), { recursive: true });
  writeFileSync(join(tmp.path, "r/usr/bin/ping"), "ELF");
  writeFileSync(join(tmp.path, "r/usr/bin/su"), "ELF");
});
afterAll(() => tmp.cleanup());

const MANIFEST = `# devices an unprivileged build cannot create
/dev/console type=char mode=0600 uid=0 gid=5 device=5,1
/dev/null    type=char mode=0666 device=1,3
/usr/bin/su  mode=4755 uid=0 gid=0
/usr/bin/ping cap=cap_net_raw+ep xattr.security.selinux="system_u:object_r:ping_exec_t:s0"
/run type=dir mode=0755
`;

describe("ownership manifest", () => {
  it("sets owners and modes, creates devices, adds capabilities and labels", () => {
    const t = applyManifest(scanTree(join(tmp.path, "r")), parseManifest(MANIFEST, "m.txt"), "m.txt");
    const by = new Map([...walkTree(t.root)].map((n) => [n.path, n]));
    expect(by.get("/dev/console")).toMatchObject({ type: "chardev", mode: 0o600, uid: 0, gid: 5, rdevMajor: 5, rdevMinor: 1 });
    expect(by.get("/dev/null")).toMatchObject({ type: "chardev", mode: 0o666, rdevMajor: 1, rdevMinor: 3 });
    expect(by.get("/usr/bin/su")).toMatchObject({ type: "file", mode: 0o4755, uid: 0, gid: 0, sizeBytes: 3 });
    expect(by.get("/run")).toMatchObject({ type: "dir", mode: 0o755 });
    const ping = by.get("/usr/bin/ping")!;
    expect(ping.xattrs!.map((x) => x.name)).toEqual(["security.capability", "security.selinux"]);
    expect(Buffer.from(ping.xattrs![1].value).toString()).toBe("system_u:object_r:ping_exec_t:s0");
    // Created entries are inserted in byte order.
    for (const n of walkTree(t.root)) {
      const names = (n.children ?? []).map((c) => Buffer.from(c.name));
      expect(names).toEqual([...names].sort(Buffer.compare));
    }
  });

  it("encodes capabilities as setcap does, and refuses what setcap refuses", () => {
    const f = join(tmp.path, "capfile");
    writeFileSync(f, "x");
    const texts = [
      "cap_net_raw,cap_net_admin+ep", "cap_net_raw=ep cap_net_raw=i", "all=ep", "=ep", "cap_chown,cap_kill=eip", "cap_chown+ep-e",
      "cap_chown=p+e", "all=ep cap_sys_admin-ep", "cap_net_raw=", "all+i", "cap_setuid+i", "cap_chown=eip cap_chown-i", "=",
      "cap_mac_admin+ep", "cap_checkpoint_restore,cap_chown+p", "all=p-p",
      "CAP_CHOWN+ep", "12+ep", "40+p", "41+p", "cap_chown,all+p", "all,cap_chown-p", "cap_chown=e+p", "cap_chown=+p", "cap_chown+p-p+e",
      "cap_chown+ee", "cap_chown=p cap_kill=", "cap_chown+p  cap_kill+i",
      // refused by both: mixed effective flags, "+" without flags, "+" without a capability, upper-case flags,
      // "=" after another operator, more than "=flags" for all, a name without cap_, an empty name, an unknown one
      "cap_net_raw+ep cap_chown+p", "cap_net_raw+", "+ep", "cap_chown+EP", "cap_chown+e=p", "cap_bpf-eip=ep", "=e+p", "=+ep", "=-e",
      "net_raw+ep", "cap_chown,,cap_kill+p", "cap_flying+ep", "64+p",
    ];
    for (const text of texts) {
      spawnSync("setcap", ["-r", f]);
      const r = spawnSync("setcap", [text, f], { encoding: "utf8" });
      let got: string;
      try {
        got = Buffer.from(encodeCapability(text, "t")).toString("hex");
      } catch (e) {
        expect(e, text).toBeInstanceOf(MkdiskError);
        got = "refused";
      }
      const want = r.status !== 0 ? "refused" : runOk("getfattr", ["--absolute-names", "-e", "hex", "-n", "security.capability", f]).match(/=0x([0-9a-f]+)/)![1];
      expect(got, text).toBe(want);
    }
  });

  it("gives coded errors naming the line", () => {
    const cases: [string, RegExp][] = [
      ["relative type=dir", /m:1: expected an absolute path/],
      ["/x type=socket", /m:1: type=socket/],
      ["/dev/x type=char", /m:1: .*device=MAJOR,MINOR/],
      ["/a mode=999", /m:1: mode=999/],
      ["# c\n/a uid=1\n/a gid=2", /m:3: \/a is listed twice/],
      ["/a bogus=1", /m:1: unknown key "bogus"/],
      ['/a xattr.user.x="unterminated', /m:1: unterminated quote/],
      ["/a cap=cap_flying+ep", /m:1: unknown capability/],
      ["/a mode=100644", /m:1: mode=100644: only permission bits/],
      ["/a uid=1 uid=2", /m:1: uid= is given twice/],
      ["/a uid=4294967295", /m:1: uid=4294967295 is \(uid_t\)-1/],
      ["/d type=char device=4096,1", /m:1: device=4096,1: Linux device numbers/],
      ["/d type=block device=1,1048576", /m:1: .*20-bit minor/],
      ["/a xattr.user.v=0xabc", /m:1: xattr.user.v=0xabc: a value starting with 0x is hex/],
    ];
    for (const [text, re] of cases) {
      let err: unknown;
      try {
        parseManifest(text, "m");
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(MkdiskError);
      expect((err as Error).message, text).toMatch(re);
    }
    const tree = scanTree(join(tmp.path, "r"));
    expect(() => applyManifest(tree, parseManifest("/usr/bin/su type=dir", "m"), "m")).toThrow(/m:1: .*override/);
    expect(() => applyManifest(tree, parseManifest("/nope/x type=file", "m"), "m")).toThrow(/m:1: cannot create/);
    expect(() => applyManifest(tree, parseManifest("/absent mode=0644", "m"), "m")).toThrow(/m:1: .*give type=/);
    const replaced = applyManifest(tree, parseManifest("/usr/bin/su type=dir override", "m"), "m");
    expect([...walkTree(replaced.root)].find((n) => n.path === "/usr/bin/su")!.type).toBe("dir");
  });

  it("sets what it sets on every name of a hard-linked file (one inode), and refuses two different values", () => {
    const d = join(tmp.path, "links");
    mkdirSync(join(d, "bin"), { recursive: true });
    mkdirSync(join(d, "sbin"));
    writeFileSync(join(d, "bin/su"), "ELF");
    runOk("ln", [join(d, "bin/su"), join(d, "sbin/su2")]);
    runOk("ln", [join(d, "bin/su"), join(d, "sbin/su3")]);
    const tree = scanTree(d);
    // The entry names the last link in path order: a chmod through any name changes the inode.
    const t = applyManifest(tree, parseManifest("/sbin/su3 mode=4755 uid=0 gid=0 cap=cap_net_raw+ep", "m"), "m");
    const by = new Map([...walkTree(t.root)].map((n) => [n.path, n]));
    for (const p of ["/bin/su", "/sbin/su2", "/sbin/su3"]) {
      expect(by.get(p), p).toMatchObject({ mode: 0o4755, uid: 0, gid: 0 });
      expect(by.get(p)!.xattrs?.map((x) => x.name), p).toEqual(["security.capability"]);
    }
    // The input tree is not modified.
    expect([...walkTree(tree.root)].find((n) => n.path === "/bin/su")!.mode).not.toBe(0o4755);
    // Agreeing entries are fine; disagreeing ones are an error naming both names.
    expect(() => applyManifest(tree, parseManifest("/bin/su mode=4755\n/sbin/su2 mode=4755", "m"), "m")).not.toThrow();
    expect(() => applyManifest(tree, parseManifest("/bin/su mode=4755\n/sbin/su2 mode=0755", "m"), "m")).toThrow(/m:2: \/sbin\/su2 and \/bin\/su are hard links to one file .* different mode/);
  });
});
