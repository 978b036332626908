/**
 * Oracle: ids systemd-repart 252 wrote with --seed=0e9a6fe0-68f6-408c-bbeb-136054d20445
 * (shared/reference/repart-uuids.md; reproduced live against repart by
 * test/layout/repart.test.ts). BuildContext must derive the same ones.
 */
import { describe, expect, it } from "vitest";
import { formatUuid, parseUuid } from "../../src/bin/guid.js";
import { BuildContext } from "../../src/context/index.js";
import { fatVolumeId } from "../../src/layout/filesystems.js";

const ctx = new BuildContext({ seed: "0e9a6fe0-68f6-408c-bbeb-136054d20445" });
const TYPE = {
  esp: parseUuid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
  root: parseUuid("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"),
  generic: parseUuid("0fc63daf-8483-4772-8e79-3d69d8477de4"),
  swap: parseUuid("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"),
  biosBoot: parseUuid("21686148-6449-6e6f-744e-656564454649"),
};
const part = (t: Uint8Array, k = 0) => formatUuid(ctx.partitionUuid(t, k));

describe("repart-compatible ids (seed 0e9a6fe0-…)", () => {
  it("disk GUID", () => expect(formatUuid(ctx.diskGuid())).toBe("31918d1c-a93a-45d1-a195-a84a9db04099"));
  it("esp partition and its file system; FAT volume id", () => {
    expect(part(TYPE.esp)).toBe("cb96a8e9-addc-4be7-b68e-69b6d1ea59cb");
    const fs = ctx.filesystemUuid(ctx.partitionUuid(TYPE.esp, 0));
    expect(formatUuid(fs)).toBe("e7b87c0d-0744-4d52-ad79-a9a7f96ceab0");
    expect(fatVolumeId(fs)).toBe(0xe7b87c0d);
  });
  it("root-x86-64 partition and its file system", () => {
    expect(part(TYPE.root)).toBe("9a914a15-37a6-422c-a924-0380869e7ede");
    expect(formatUuid(ctx.filesystemUuid(ctx.partitionUuid(TYPE.root, 0)))).toBe("6de632fe-7638-44c4-917c-ecf4170af3b4");
  });
  it("linux-generic #1 and #2", () => {
    expect(part(TYPE.generic, 0)).toBe("b18a8ea7-357e-4c0c-adcb-1c8cc50196ce");
    expect(part(TYPE.generic, 1)).toBe("b121a572-8513-4205-ad42-566137e81b4d");
  });
  it("further vectors seen on repart's disks: root #2/#3, swap, BIOS boot #1/#2, esp #2", () => {
    expect(part(TYPE.root, 1)).toBe("bfef1f1c-b066-4303-ad48-d81a7f548a91");
    expect(part(TYPE.root, 2)).toBe("6ee9a39c-5dd3-4529-9fb9-849da0be0729");
    expect(part(TYPE.swap)).toBe("f5ed62ff-6564-4f77-b03a-920e230be710");
    expect(part(TYPE.biosBoot, 0)).toBe("b04484e1-8866-461f-bf13-69abeb2606ee");
    expect(part(TYPE.biosBoot, 1)).toBe("78285d3c-43c0-4e78-93f9-8621c6bd4769");
    expect(part(TYPE.esp, 1)).toBe("2532e7fd-cae1-4f50-88cd-4907ff8c4ba0");
  });
  it("ids are version 4, RFC variant", () => {
    for (const u of [ctx.diskGuid(), ctx.partitionUuid(TYPE.esp, 7), ctx.namedUuid("x")]) {
      expect(u[6] >> 4).toBe(4);
      expect(u[8] >> 6).toBe(2);
    }
  });
});
