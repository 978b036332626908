/**
 * Directory scans: names are bytes (a name that is not UTF-8 is kept as it
 * is), and a file whose extended attributes cannot be read through the addon
 * gives a warning naming it, not a failed build.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanTree } from "../../src/tree/scan.js";
import { MkdiskError } from "../../src/bin/errors.js";
import { runOk, tempDir } from "../helpers/tools.js";

let tmp: { path: string; cleanup(): void };
const NAME = Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74, 0x78, 0x74]); // "bad\xff.txt"

beforeAll(() => {
  tmp = tempDir("mkdisk-scan-");
  writeFileSync(Buffer.concat([Buffer.from(tmp.path + "/"), NAME]), "x");
  writeFileSync(join(tmp.path, "good.txt"), "y");
});
afterAll(() => tmp?.cleanup());

describe("scanTree", () => {
  it("keeps a non-UTF-8 name's bytes and warns that its xattrs are not read", () => {
    const warnings: string[] = [];
    const t = scanTree(tmp.path, { onWarning: (m) => warnings.push(m) });
    const names = t.root.children!.map((c) => Buffer.from(c.name));
    expect(names).toContainEqual(NAME);
    expect(names).toContainEqual(Buffer.from("good.txt"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not valid UTF-8.*copied without them/);
  });

  it("a path longer than PATH_MAX: E_TREE naming it once, with the system's reason", () => {
    const deep = tempDir("mkdisk-scan-deep-");
    try {
      // 25 levels of 200-byte names (about 5 000 bytes), made one level at a time.
      const name = "d".repeat(200);
      runOk("python3", ["-c", `import os, sys\nos.chdir(sys.argv[1])\nfor _ in range(25):\n    os.mkdir("${name}")\n    os.chdir("${name}")\nopen("f", "w").close()`, deep.path]);
      let message = "";
      try {
        scanTree(deep.path, { xattrs: false });
      } catch (e) {
        expect(e).toBeInstanceOf(MkdiskError);
        expect((e as MkdiskError).code).toBe("E_TREE");
        message = (e as Error).message;
      }
      expect(message).toMatch(/ENAMETOOLONG/);
      expect(message.split((name + "/").repeat(20)).length - 1, message.slice(0, 300)).toBe(1);
    } finally {
      runOk("rm", ["-rf", deep.path]); // rm descends one level at a time
    }
  });
});
