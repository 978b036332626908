/**
 * The library entry point: layout + rootfs → image file(s).
 *
 *   const result = await buildDisk({ layout, rootfs: "out/root", outputs: [{ format: "raw", path: "disk.img" }] });
 *
 * Seed precedence: `seed` option, then the layout's `seed`, then a default
 * derived from the layout itself (see context/index.ts `defaultSeed`).
 * Epoch precedence: `sourceDateEpoch` option (the CLI passes --source-date-epoch
 * or the SOURCE_DATE_EPOCH environment variable here), then the layout's.
 */
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import { applyManifest, parseManifest } from "./tree/manifest.js";
import { MkdiskError, fail } from "./bin/errors.js";
import { formatUuid } from "./bin/guid.js";
import { isRootType } from "./gpt/types.js";
import { BuildContext, defaultSeed } from "./context/index.js";
import { abortAll, commitAll, flushingProgress, namingOutput, openTempOutput, type TempOutput } from "./io/output.js";
import { pump, type PumpProgress } from "./io/pump.js";
import { writeFully } from "./io/raw.js";
import type { ImageSink } from "./io/sink.js";
import { planDisk, type DiskPlan } from "./layout/plan.js";
import { canonicalJson, parseLayout, type Layout, type OutputFormat } from "./layout/schema.js";
import { scanRootfs } from "./tree/index.js";
import type { Tree, TreeNode } from "./tree/types.js";
import { parseCopyFiles } from "./tree/select.js";
import { createSink, StreamOut } from "./outputs.js";
import type { MachineOptions } from "./ovf/index.js";
import { DigestSink } from "./io/digest.js";
import { fileDataRuns } from "./io/holes.js";
import { ReaderPool, readerHelpers } from "./io/readers.js";
import { loadGrubBiosImages } from "./boot/load.js";
import { makeManifest, partitionRanges, treeDigest, type BuildManifest } from "./manifest/index.js";
import { VERSION } from "./version.js";

export interface OutputRequest {
  readonly format: OutputFormat;
  /** "-" streams the image to `BuildOptions.stdout` (VMDK only: the one format written strictly in order). */
  readonly path: string;
  readonly compress?: boolean;
  readonly clusterSize?: number;
  /** VM settings for vagrant-libvirt / vagrant-virtualbox / ova (default firmware: "bios" with a layout biosBoot, else "efi"). */
  readonly machine?: MachineOptions;
}

export interface BuildOptions {
  /** Parsed layout, or the raw JSON value of layout.json. */
  readonly layout: Layout | unknown;
  /** Root filesystem directory or tar archive (plain or gzip), or an already scanned Tree. */
  readonly rootfs?: string | Tree;
  readonly outputs: readonly OutputRequest[];
  readonly seed?: string;
  readonly sourceDateEpoch?: number;
  /** Ownership manifest file (overrides the layout's ownershipManifest, which is resolved against `layoutDir`). */
  readonly ownershipManifest?: string;
  /** Directory relative paths in the layout are resolved against (default: the working directory). */
  readonly layoutDir?: string;
  /** Overrides the layout's "ownership". */
  readonly ownership?: "preserve" | "root";
  readonly force?: boolean;
  /** Where an output with path "-" goes (default process.stdout). */
  readonly stdout?: NodeJS.WritableStream;
  readonly workers?: number;
  readonly progress?: PumpProgress;
  /** The layout JSON as written (recorded in the manifest when `layout` is a parsed Layout). */
  readonly rawLayout?: unknown;
  /**
   * Compute each output file's SHA-256 after writing (default false: it reads
   * the whole output again, zeros of a sparse raw image included).
   */
  readonly hashOutputs?: boolean;
  /** Also compute a build manifest (tree digest, disk and partition SHA-256). */
  readonly manifest?: boolean;
  /**
   * Also write the manifest (JSON) to this file, put in place with the
   * outputs: all of them or none (implies `manifest`).
   */
  readonly manifestPath?: string;
  /** Non-fatal problems (e.g. xattrs that cannot be read). */
  readonly onWarning?: (message: string) => void;
}

export interface BuildResult {
  readonly plan: DiskPlan;
  readonly seed: string;
  readonly sourceDateEpoch: number | undefined;
  /** sha256 is set when `hashOutputs` or `manifest` was requested. */
  readonly outputs: readonly { format: OutputFormat; path: string; sha256?: string }[];
  readonly manifest?: BuildManifest;
}

const STDOUT = "-";

function isLayout(v: unknown): v is Layout {
  return typeof v === "object" && v !== null && "alignmentBytes" in v && "sectorSize" in v;
}

export function makeContext(layout: Layout, rawLayout: unknown, seed?: string, epoch?: number): BuildContext {
  const s = seed !== undefined ? seed : layout.seed ?? defaultSeed(canonicalJson({ ...(rawLayout as object), seed: undefined, $schema: undefined }));
  return new BuildContext({ seed: s, epochSec: epoch ?? layout.sourceDateEpoch });
}

const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export async function sha256OfFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

export async function buildDisk(opts: BuildOptions): Promise<BuildResult> {
  const layout = isLayout(opts.layout) ? opts.layout : parseLayout(opts.layout);
  const ctx = makeContext(layout, isLayout(opts.layout) ? layoutToJson(layout) : opts.layout, opts.seed, opts.sourceDateEpoch);
  // Reader threads for the ext4 hole scan, started first so they boot while the tree is scanned.
  const takes = ext4Sources(layout);
  const readers = new ReaderPool(opts.rootfs !== undefined && takes.length > 0 ? readerHelpers(opts.workers) : 0);
  const holes = fileDataRuns(readers);
  let scanned: ReturnType<typeof scanRootfs> | undefined;
  try {
    // The ext4 hole scan reads every file an ext4 partition takes: the helpers start on each as the scan finds it.
    const onFile = readers.helpers.length === 0 ? undefined
      : takes.includes("/") ? holes.early
      : (node: TreeNode, hostPath: Buffer) => {
          if (takes.some((src) => node.path === src || node.path.startsWith(src + "/"))) holes.early(node, hostPath);
        };
    scanned = typeof opts.rootfs === "string" ? scanRootfs(opts.rootfs, { ownership: opts.ownership ?? layout.ownership, onWarning: opts.onWarning, onFile }) : undefined;
    let tree = scanned ? scanned.tree : (opts.rootfs as Tree | undefined);
    let ownershipManifestSha256: string | undefined;
    const manifestPath = opts.ownershipManifest ?? (layout.ownershipManifest !== undefined ? resolvePath(opts.layoutDir ?? ".", layout.ownershipManifest) : undefined);
    if (manifestPath !== undefined) {
      if (!tree) fail("E_USAGE", "an ownership manifest needs a --rootfs to apply to");
      let bytes: Buffer;
      try {
        bytes = readFileSync(manifestPath);
      } catch (e) {
        throw new MkdiskError("E_LAYOUT", `cannot read the ownership manifest: ${(e as Error).message}`, manifestPath);
      }
      if (!isUtf8(bytes)) fail("E_LAYOUT", `the ownership manifest is not valid UTF-8`, manifestPath);
      tree = applyManifest(tree, parseManifest(bytes.toString("utf8"), manifestPath), manifestPath);
      ownershipManifestSha256 = sha256Hex(bytes); // of the file's bytes, as sha256sum prints it
    }
    return await buildFromTree(opts, layout, ctx, tree, ownershipManifestSha256, holes, readers);
  } finally {
    holes.close();
    readers.close();
    scanned?.cleanup();
  }
}

async function buildFromTree(opts: BuildOptions, layout: Layout, ctx: BuildContext, tree: Tree | undefined, ownershipManifestSha256: string | undefined, holes: ReturnType<typeof fileDataRuns>, readers: ReaderPool): Promise<BuildResult> {
  if (opts.outputs.length === 0) fail("E_USAGE", "no output requested");
  const paths = new Set<string>();
  for (const o of [...opts.outputs, ...(opts.manifestPath !== undefined ? [{ path: opts.manifestPath, format: "manifest" }] : [])]) {
    const same = o.path === STDOUT ? STDOUT : sameFileKey(o.path);
    if (paths.has(same)) fail("E_USAGE", `two outputs${o.format === "manifest" ? " (an image and the manifest)" : ""} write to the same file`, o.path);
    paths.add(same);
    if (o.path === STDOUT && o.format !== "vmdk") {
      fail("E_USAGE", `only vmdk output can be written to stdout ("-o -"): ${o.format} needs a file it can seek in; give an output path`);
    }
  }

  // Plan everything (and fail on bad input) before any output file exists.
  const biosBoot = layout.biosBoot ? loadGrubBiosImages(layout.biosBoot, opts.layoutDir ?? ".") : undefined;
  let plan: DiskPlan;
  try {
    plan = planDisk(layout, tree, ctx, { readDataRuns: holes.readDataRuns, biosBoot, onWarning: opts.onWarning });
  } finally {
    holes.close();
    readers.close(); // the copy reads on this thread: the helpers' memory goes now
  }

  const temps: TempOutput[] = [];
  const tempOf: (TempOutput | undefined)[] = []; // per output: its temporary file (none for stdout)
  let digestResult: DigestSink["result"];
  const outputs: { format: OutputFormat; path: string; sha256?: string }[] = [];
  let manifest: BuildManifest | undefined;
  const seed = formatUuid(ctx.seed);
  let streamed: { out: StreamOut; sha256?: string } | undefined;
  const sinks: ImageSink[] = [];
  try {
    for (const o of opts.outputs) {
      if (o.path === STDOUT) {
        tempOf.push(undefined);
        streamed = { out: new StreamOut(opts.stdout ?? process.stdout) };
        const { VmdkSink } = await import("./vmdk/index.js");
        sinks.push(new VmdkSink(streamed.out, { ctx, workers: opts.workers }));
        continue;
      }
      const t = openTempOutput(o.path, opts.force ?? false);
      temps.push(t);
      tempOf.push(t);
      sinks.push(await createSink({ ...o, machine: { firmware: layout.biosBoot ? "bios" : "efi", ...o.machine } }, t.fd, ctx, opts.workers));
    }
    const manifestTemp = opts.manifestPath !== undefined ? openTempOutput(opts.manifestPath, opts.force ?? false) : undefined;
    if (manifestTemp) temps.push(manifestTemp);
    const digest = opts.manifest || manifestTemp ? new DigestSink(partitionRanges(plan)) : undefined;
    if (digest) sinks.push(digest);
    await pump(plan.extents(), plan.totalBytes, sinks, flushingProgress(temps, opts.progress));
    digestResult = digest?.result;
    if (streamed) streamed.sha256 = await streamed.out.end();
    // Hashes from the temporary files, and the manifest written, before any
    // output is renamed into place: then all of them are committed together.
    const hash = opts.hashOutputs || digest;
    for (const [i, o] of opts.outputs.entries()) {
      const t = tempOf[i];
      const sha256 = t === undefined ? streamed?.sha256 : hash ? await sha256OfFile(t.tempPath) : undefined;
      outputs.push({ format: o.format, path: o.path, sha256 });
    }
    manifest = digestResult && buildManifest(digestResult);
    if (manifestTemp) writeFully(manifestTemp.fd, Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), 0);
    await commitAll(temps);
  } catch (e) {
    for (const s of sinks) await Promise.resolve(s.abort?.()).catch(() => {});
    await abortAll(temps);
    throw namingOutput(e, [...opts.outputs.filter((o) => o.path !== STDOUT).map((o) => o.path), ...(opts.manifestPath !== undefined ? [opts.manifestPath] : [])]);
  }
  return { plan, seed, sourceDateEpoch: ctx.epochSec, outputs, manifest };

  function buildManifest(digestResult: NonNullable<DigestSink["result"]>): BuildManifest {
    return makeManifest({
        version: VERSION, layout: opts.rawLayout ?? (isLayout(opts.layout) ? layoutToJson(opts.layout) : opts.layout), seed,
        sourceDateEpoch: ctx.epochSec, tree: tree ? treeDigest(tree) : null, plan, digest: digestResult,
        ownership: opts.ownership ?? layout.ownership, ownershipManifestSha256,
        biosBoot: biosBoot && { bootImageSha256: sha256Hex(biosBoot.bootImage), coreImageSha256: sha256Hex(biosBoot.coreImage) },
        outputs: opts.outputs.map((o, i) => ({
          format: o.format, sha256: outputs[i].sha256!,
          ...(o.compress ? { compress: true } : {}),
          ...(o.clusterSize !== undefined ? { clusterSize: o.clusterSize } : {}),
          ...(o.machine !== undefined ? { machine: o.machine } : {}),
        })),
      });
  }
}

/**
 * The rootfs paths ext4 partitions copy from (their copyFiles sources, "/"
 * for a root partition without copyFiles, as planDisk selects), for the
 * reader threads to read ahead only what an ext4 partition may take
 * (excludeFiles are not looked at: an excluded file is read for nothing).
 */
function ext4Sources(layout: Layout): string[] {
  return layout.partitions.flatMap((p, i) =>
    p.format !== "ext4" ? []
    : p.copyFiles.length > 0 ? parseCopyFiles(p.copyFiles, `partitions[${i}].copyFiles`).map((c) => c.src)
    : isRootType(p.type) ? ["/"] : [],
  );
}

/**
 * What identifies an output file for the same-file check: its absolute path,
 * with the directory's symbolic links resolved where the directory exists
 * ("disk.img", "./disk.img" and "link-to-here/disk.img" are one file).
 */
function sameFileKey(path: string): string {
  try {
    // The directory as written, resolved by the kernel: "link/.." is the link target's parent, not ".".
    return join(realpathSync.native(dirname(path)), basename(path)); // native: realpath(3); the JS one folds ".." first
  } catch {
    return resolvePath(path);
  }
}

/** A parsed layout back to plain JSON, for the default seed when a Layout object is passed in. */
function layoutToJson(l: Layout): unknown {
  return JSON.parse(JSON.stringify(l, (_k, v) => (v instanceof Uint8Array ? formatUuid(v) : typeof v === "bigint" ? v.toString() : v)));
}

export { MkdiskError };
