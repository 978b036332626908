/** fast-check generators of valid layout.json values (no rootfs needed: no vfat/ext4). */
import fc from "fast-check";

const TYPES = ["esp", "ESP", "xbootldr", "bios-boot", "swap", "home", "srv", "var", "tmp", "linux-generic", "root", "Root", "root-arm64", "root-x86-64", "root-x86", "root-riscv64", "usr", "usr-arm64", "usr-x86", "usr-riscv64"];
const sizeArb = fc.oneof(
  fc.integer({ min: 1, max: 8 << 20 }),
  fc.tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom("M", "MiB", "mib", "m", " M")).map(([n, s]) => `${n}${s}`),
  fc.integer({ min: 1, max: 4096 }).map((k) => `${k}K`),
);
const labelArb = fc.array(fc.constantFrom("a", "Z", "0", "-", "_", " ", "é", "€", "Ω"), { minLength: 1, maxLength: 36 }).map((a) => a.join(""));

export const validPartitionArb = fc
  .record({
    type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TYPES) }, { weight: 1, arbitrary: fc.uuid({ version: [4] }) }),
    grow: fc.boolean(),
    min: sizeArb,
    max: fc.option(fc.integer({ min: 0, max: 64 << 20 }), { nil: undefined }),
    label: fc.option(labelArb, { nil: undefined }),
    noAuto: fc.option(fc.boolean(), { nil: undefined, freq: 4 }),
    readOnly: fc.option(fc.boolean(), { nil: undefined, freq: 4 }),
    growFileSystem: fc.option(fc.boolean(), { nil: undefined, freq: 4 }),
    attributes: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 3 }), { nil: undefined, freq: 4 }),
    swap: fc.boolean(),
  })
  .map(({ type, grow, min, max, swap, ...rest }) => {
    const p: Record<string, unknown> = { type };
    if (grow) {
      p.grow = true;
      p.minSize = min;
      if (max !== undefined) p.maxSize = (typeof min === "number" ? min : 8 << 20) + max;
    } else p.size = min;
    if (swap && type === "swap") {
      p.format = "swap";
      if (grow) {
        p.minSize = "1M";
        if (max !== undefined) p.maxSize = (1 << 20) + max;
      } else p.size = "1M";
    }
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) p[k] = v;
    // A swap label holds 16 bytes; the swap label defaults to the partition label.
    if (p.format === "swap" && typeof p.label === "string" && Buffer.byteLength(p.label) > 16) p.label = "swap-label";
    return p;
  });

export const validLayoutArb = fc
  .record({
    seed: fc.option(fc.uuid({ version: [4] }), { nil: undefined }),
    sourceDateEpoch: fc.option(fc.integer({ min: 0, max: 0x3_7fff_ffff }), { nil: undefined }),
    sectorSize: fc.option(fc.constantFrom(512, 4096), { nil: undefined }),
    alignment: fc.option(fc.constantFrom("4K", "64K", "1M", 8192, "8MiB"), { nil: undefined }),
    architecture: fc.option(fc.constantFrom("x86-64", "arm64", "x86", "riscv64"), { nil: undefined }),
    ownership: fc.option(fc.constantFrom("preserve", "root"), { nil: undefined }),
    partitions: fc.array(validPartitionArb, { minLength: 1, maxLength: 8 }),
    uuids: fc.uniqueArray(fc.uuid({ version: [4] }), { minLength: 8, maxLength: 8 }),
    withUuid: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    outputs: fc.option(
      fc.array(
        fc.oneof(
          fc.constant({ format: "raw" }),
          fc.record({ format: fc.constant("qcow2"), compress: fc.boolean(), clusterSize: fc.constantFrom("64K", 512, "2M") }),
          fc.record({ format: fc.constant("vmdk"), compress: fc.boolean() }),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      { nil: undefined },
    ),
  })
  .map(({ uuids, withUuid, partitions, ...top }) => {
    const l: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(top)) if (v !== undefined) l[k] = v;
    if (l.sectorSize === 4096 && l.alignment === 8192) l.alignment = "8K";
    l.partitions = partitions.map((p, i) => (withUuid[i] ? { ...p, uuid: uuids[i] } : p));
    return l as { partitions: Record<string, unknown>[]; [k: string]: unknown };
  });
