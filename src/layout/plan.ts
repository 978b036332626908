/**
 * Layout + Tree → DiskPlan: every partition placed, every id derived, every
 * filesystem planned, before a single byte is written. Planning reads file
 * metadata (already in the Tree), never file contents.
 */
import { fail, MkdiskError } from "../bin/errors.js";
import { formatUuid, uuidEquals, type Uuid } from "../bin/guid.js";
import { parseUuid } from "../bin/guid.js";
import type { BuildContext } from "../context/index.js";
import { bytesExtent, concatStreams, shifted, type Extent, type PlannedRegion } from "../io/extent.js";
import { encodeGpt, GPT_NAME_UNITS, type GptPartitionEntry } from "../gpt/gpt.js";
import { GPT_ATTR, growsFileSystemByDefault, isRootType, readOnlyByDefault } from "../gpt/types.js";
import { parseCopyFiles, selectTree } from "../tree/select.js";
import type { Tree } from "../tree/types.js";
import { FS_DRIVERS, type FsMinRequest, type FsRequest } from "./filesystems.js";
import type { ReadDataRuns } from "../ext4/index.js";
import { placePartitions } from "./place.js";
import { planBiosBoot } from "../boot/plan.js";
import type { GrubBiosImages } from "../boot/grub-bios.js";
import type { Layout, PartitionSpec } from "./schema.js";
import { formatSize, formatSizeExact } from "./units.js";

export interface PlannedPartition {
  readonly spec: PartitionSpec;
  readonly number: number; // 1-based
  readonly typeGuid: Uuid;
  readonly uuid: Uuid;
  readonly label: string;
  readonly attributes: bigint;
  readonly startLba: number;
  readonly sizeBytes: number;
  /** Inclusive. */
  readonly endLba: number;
  readonly fsUuid?: Uuid;
  readonly region?: PlannedRegion;
}

export interface DiskPlan {
  readonly sectorBytes: number;
  readonly totalBytes: number;
  readonly diskGuid: Uuid;
  readonly partitions: readonly PlannedPartition[];
  /** GPT head, each partition's content, GPT tail; ordered, disk offsets. */
  extents(): Iterable<Extent>;
}

export interface PlanOptions {
  /** Bytes for the protective MBR's boot code area (BIOS boot loaders). */
  readonly mbrBootCode?: Uint8Array;
  /** Content-based hole detection for ext4 files (Node adapter; see src/io/holes.ts). */
  readonly readDataRuns?: ReadDataRuns;
  /** GRUB i386-pc boot.img + core.img (read by the caller from the layout's biosBoot paths; see src/boot). */
  readonly biosBoot?: GrubBiosImages;
  /** Told about what is skipped but may be a mistake (a copyFiles source missing from the rootfs). */
  readonly onWarning?: (message: string) => void;
}

/**
 * Partition labels as systemd-repart 252 gives them: an explicit label is used
 * as it is (even when another partition has it); otherwise the type's default
 * label, or "-2", "-3" … appended when an earlier partition already has it.
 */
function defaultLabels(layout: Layout): string[] {
  const labels: string[] = [];
  for (const p of layout.partitions) {
    let label = p.label;
    if (label === undefined) {
      label = p.type.defaultLabel;
      for (let k = 2; labels.includes(label); k++) label = `${p.type.defaultLabel}-${k}`;
    }
    labels.push(label);
  }
  return labels;
}

export function planDisk(layout: Layout, tree: Tree | undefined, ctx: BuildContext, opts: PlanOptions = {}): DiskPlan {
  const sectorBytes = layout.sectorSize;
  const labels = defaultLabels(layout);
  const typeCounts = new Map<string, number>();

  // Ids and labels.
  const ids = layout.partitions.map((p, i) => {
    const k = typeCounts.get(p.type.guid) ?? 0;
    typeCounts.set(p.type.guid, k + 1);
    const typeGuid = parseUuid(p.type.guid, `partitions[${i}].type`);
    const uuid = p.uuid ?? ctx.partitionUuid(typeGuid, k);
    const label = p.label ?? labels[i];
    if (label.length > GPT_NAME_UNITS) fail("E_LAYOUT", `label "${label}" is ${label.length} UTF-16 code units; GPT holds at most ${GPT_NAME_UNITS}`, `partitions[${i}].label`);
    return { typeGuid, uuid, label };
  });
  ids.forEach((a, i) => {
    const j = ids.findIndex((b) => uuidEquals(a.uuid, b.uuid));
    if (j === i) return;
    // Blame a uuid the layout gives, not one derived from the seed.
    const [given, derived] = layout.partitions[i].uuid === undefined ? [j, i] : [i, j];
    const other = layout.partitions[derived].uuid === undefined ? `the uuid derived from the seed for partitions[${derived}]` : `also given to partitions[${derived}]`;
    fail("E_LAYOUT", `uuid ${formatUuid(a.uuid)} is ${other}; partition uuids must be unique`, `partitions[${given}].uuid`);
  });
  const diskGuid = ctx.diskGuid();
  const clash = ids.findIndex((x) => uuidEquals(x.uuid, diskGuid));
  if (clash >= 0) fail("E_LAYOUT", `equals the disk GUID (derived from the seed); a GPT needs every GUID distinct, choose another`, layout.partitions[clash].uuid ? `partitions[${clash}].uuid` : "seed");

  // Per-partition trees (copyFiles/excludeFiles) and minimum sizes.
  const trees = layout.partitions.map((p, i) => {
    if (p.format !== "vfat" && p.format !== "ext4") return undefined;
    const where = `partitions[${i}]`;
    const copy = parseCopyFiles(p.copyFiles.length ? p.copyFiles : p.format === "ext4" && isRootType(p.type) ? ["/:/"] : [], `${where}.copyFiles`);
    if (copy.length && !tree) fail("E_USAGE", `partition copies files but no --rootfs was given`, `${where}.copyFiles`);
    return tree && copy.length ? selectTree(tree, copy, p.excludeFiles, `${where}.copyFiles`, opts.onWarning) : emptyTree();
  });
  /** What partition i's filesystem driver is told about it, whatever the size. */
  const fsBase = (i: number): FsMinRequest => {
    const p = layout.partitions[i];
    return {
      tree: trees[i], sectorBytes, fsUuid: ctx.filesystemUuid(ids[i].uuid), label: p.fsLabel ?? ids[i].label, where: `partitions[${i}]`,
      readDataRuns: opts.readDataRuns, followSymlinks: p.followSymlinks, rootfs: tree,
    };
  };
  const fsMinimum = (i: number): number => {
    const format = layout.partitions[i].format;
    return format ? FS_DRIVERS[format].minimumBytes(fsBase(i)) : 0;
  };
  /** What partition i's filesystem driver is asked to plan at `sizeBytes`. */
  const fsRequest = (i: number, sizeBytes: number, startLba: number): FsRequest => ({
    ...fsBase(i), format: layout.partitions[i].format!, sizeBytes, startLba, ctx, shrinkToFit: !fixed[i],
  });
  /**
   * The first whole-MiB size from `fromBytes` up (1 MiB steps, then steps of
   * 1/64) at which the filesystem plans, or undefined. Fit is not monotonic
   * in the size (ext4's journal grows in steps: 4 MiB below 128 MiB, 16 MiB
   * from there), so a suggestion is checked, not derived.
   */
  const fittingSize = (i: number, fromBytes: number, startLba: number): number | undefined => {
    let mib = Math.ceil(fromBytes / 2 ** 20);
    const driver = FS_DRIVERS[layout.partitions[i].format!];
    for (let tries = 0; tries < 64; tries++, mib += tries < 32 ? 1 : Math.ceil(mib / 64)) {
      const req = fsRequest(i, mib * 2 ** 20, startLba);
      if (driver.fits) {
        if (driver.fits(req)) return mib;
        continue;
      }
      try {
        driver.plan(req);
        return mib;
      } catch (e) {
        if (!(e instanceof MkdiskError && e.code === "E_FIT")) throw e;
      }
    }
    return undefined;
  };
  /** A fixed "size" the content does not fit: an E_FIT naming sizes that do, or the driver's own `original` error where no larger size helps (a size too large for the format). */
  const tooSmall = (i: number, fsMin: number, startLba: number, original: MkdiskError): never => {
    const p = layout.partitions[i];
    const size = p.minBytes!;
    if (fsMin > size) {
      const up = fittingSize(i, fsMin, startLba);
      return fail("E_FIT", `the ${p.format} content needs at least ${formatSizeExact(fsMin)}; "size" is ${formatSize(size)}.${up === undefined ? "" : ` Raise "size" to ${up}M.`}`, `partitions[${i}].size`);
    }
    // It fits in less. Either the size is just past a step in the metadata
    // (ext4's journal), or it is too large for the format: then the driver's
    // error says why.
    const up = fittingSize(i, size + 1, startLba);
    if (up === undefined) throw new MkdiskError(original.code, original.message, `partitions[${i}].size`);
    const down = fittingSize(i, fsMin, startLba);
    const advice = down !== undefined && down * 2 ** 20 < size ? `Lower "size" to ${down}M, or raise it to ${up}M.` : `Raise "size" to ${up}M.`;
    return fail("E_FIT", `the ${p.format} content does not fit in ${formatSize(size)}, although it fits in ${formatSizeExact(fsMin)}: the filesystem's metadata grows in steps with the size (ext4's journal). ${advice}`, `partitions[${i}].size`);
  };
  // A fixed-size partition needs no minimum (a search over sizes) unless its
  // content turns out not to fit; the others need it to be placed.
  const fixed = layout.partitions.map((p) => p.minBytes !== undefined && p.maxBytes === p.minBytes);
  const minBytes = layout.partitions.map((p, i) => (fixed[i] ? p.minBytes! : Math.max(p.minBytes ?? 0, fsMinimum(i))));
  layout.partitions.forEach((p, i) => {
    if (p.maxBytes !== undefined && minBytes[i] > p.maxBytes) fail("E_FIT", `the content needs at least ${formatSizeExact(minBytes[i])}; maxSize is ${formatSize(p.maxBytes)}. Raise "maxSize" to at least ${Math.ceil(minBytes[i] / 2 ** 20)}M`, `partitions[${i}].maxSize`);
    if (minBytes[i] === 0) fail("E_LAYOUT", `partition would be empty: give it a "size" or "minSize"`, `partitions[${i}]`);
  });

  const placed = placePartitions(
    layout.partitions.map((p, i) => ({ minBytes: minBytes[i], maxBytes: p.maxBytes, grow: p.grow })),
    layout.size,
    sectorBytes,
    layout.alignmentBytes,
  );

  if (opts.biosBoot && opts.mbrBootCode) fail("E_USAGE", `give either biosBoot or mbrBootCode, not both`, "biosBoot");
  const biosBoot = opts.biosBoot
    ? planBiosBoot(opts.biosBoot, layout.partitions.map((p, i) => ({ typeGuid: p.type.guid, format: p.format, startLba: placed.partitions[i].startBytes / sectorBytes, sizeBytes: placed.partitions[i].sizeBytes })), sectorBytes)
    : undefined;

  const partitions: PlannedPartition[] = layout.partitions.map((p, i) => {
    const pl = placed.partitions[i];
    const startLba = pl.startBytes / sectorBytes;
    let attributes = 0n;
    const setBit = (bit: bigint, on: boolean | undefined) => {
      if (on) attributes |= 1n << bit;
    };
    setBit(GPT_ATTR.noAuto, p.noAuto);
    // repart's defaults: verity hash partitions read-only; bit 59 on root/usr/home/srv/var/tmp/xbootldr
    // unless read-only (an explicit false clears either).
    const readOnly = p.readOnly ?? readOnlyByDefault(p.type);
    setBit(GPT_ATTR.readOnly, readOnly);
    setBit(GPT_ATTR.growFileSystem, p.growFileSystem ?? (growsFileSystemByDefault(p.type) && !readOnly));
    for (const b of p.attributeBits) attributes |= 1n << BigInt(b);
    const fsUuid = p.format ? ctx.filesystemUuid(ids[i].uuid) : undefined;
    const where = `partitions[${i}]`;
    let region: PlannedRegion | undefined;
    if (p.format) {
      try {
        region = FS_DRIVERS[p.format].plan(fsRequest(i, pl.sizeBytes, startLba));
      } catch (e) {
        if (fixed[i] && e instanceof MkdiskError && e.code === "E_FIT") tooSmall(i, fsMinimum(i), startLba, e);
        throw e;
      }
    } else if (biosBoot?.partitionIndex === i) region = biosBoot.region;
    if (region && region.sizeBytes > pl.sizeBytes) fail("E_INTERNAL", `filesystem planned ${region.sizeBytes} bytes into a ${pl.sizeBytes}-byte partition`, where);
    return {
      spec: p, number: i + 1, ...ids[i], attributes, startLba, sizeBytes: pl.sizeBytes,
      endLba: startLba + pl.sizeBytes / sectorBytes - 1, fsUuid, region,
    };
  });

  const totalBytes = placed.totalBytes;
  const entries: GptPartitionEntry[] = partitions.map((p) => ({
    typeGuid: p.typeGuid, uniqueGuid: p.uuid, startLba: p.startLba, endLba: p.endLba, attributes: p.attributes, name: p.label,
  }));
  const gpt = encodeGpt({ sectorBytes, totalSectors: totalBytes / sectorBytes, diskGuid }, entries, opts.mbrBootCode ?? biosBoot?.mbrBootCode);

  return {
    sectorBytes, totalBytes, diskGuid, partitions,
    extents: () =>
      concatStreams([
        [bytesExtent(0, gpt.head)],
        ...partitions.map((p) => (p.region ? shifted(p.region.extents(), p.startLba * sectorBytes, p.sizeBytes, `partition ${p.number}`) : [])),
        [bytesExtent(gpt.tailOffsetBytes, gpt.tail)],
      ]),
  };
}

function emptyTree(): Tree {
  return {
    root: { name: new Uint8Array(0), path: "/", sourcePath: Buffer.alloc(0), type: "dir", mode: 0o755, uid: 0, gid: 0, sizeBytes: 0, mtime: { sec: 0, nsec: 0 }, children: [] },
    nodeCount: 1,
  };
}
