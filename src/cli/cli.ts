/**
 * The mkdisk command. See `mkdisk --help` and README.md ("The CLI").
 * This is the only place (with src/build.ts's callers) that reads the
 * environment: SOURCE_DATE_EPOCH, and whether stderr is a terminal.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { constants } from "node:os";
import { MkdiskError, type ErrorCode } from "../bin/errors.js";
import { buildDisk, type OutputRequest } from "../build.js";
import { VERSION } from "../version.js";
import { outputsInPlace, removeTempFiles, watchCleanup } from "../io/output.js";
import { OUTPUT_FORMATS, parseLayout, type OutputFormat } from "../layout/schema.js";
import { epochFrom, parseCommandArgs, seedFrom, usageError, workersFrom } from "./args.js";

export { VERSION };

/** Exit statuses, documented in README.md. */
export const EXIT: Record<ErrorCode, number> & { OK: number } = {
  OK: 0,
  E_USAGE: 2,
  E_LAYOUT: 3,
  E_TREE: 4,
  E_FIT: 5,
  E_OUTPUT: 6,
  E_UNSUPPORTED: 7,
  E_IMAGE: 8,
  E_FORMAT: 70,
  E_INTERNAL: 70,
};

const HELP = `mkdisk ${VERSION}: reproducible bootable disk images

Usage:
  mkdisk [build] --rootfs DIR|TAR --layout FILE -o OUT [options]
  mkdisk lint --rootfs DIR|TAR [--source-date-epoch N] [--json]
  mkdisk verify --manifest FILE --rootfs DIR|TAR [--ownership-manifest FILE]
                [--layout-dir DIR] [--image IMAGE] [--json]
  mkdisk convert IN -O FORMAT OUT [--compress] [--seed UUID] [--workers N] [--force]
                (FORMAT: raw, qcow2, vmdk, ova, vagrant-libvirt, vagrant-virtualbox)
  mkdisk inspect IMAGE [--json]
  mkdisk diff A B [--json]
  Each command has its own --help.

Options:
  -r, --rootfs DIR            root filesystem directory to copy files from
  -l, --layout FILE           layout.json (partitions, sizes, outputs)
  -o, --output OUT            output path; with several formats, a stem to which
                              .img / .qcow2 / .vmdk … is appended (replacing
                              one already there); "-" streams a single vmdk
                              output to stdout
  -f, --format LIST           raw, qcow2, vmdk, ova, vagrant-libvirt,
                              vagrant-virtualbox, comma separated (default: the
                              layout's "outputs", else raw)
      --compress              compress qcow2 clusters
      --seed UUID             seed for every id (overrides the layout's)
      --source-date-epoch N   clamp times to N (overrides SOURCE_DATE_EPOCH and
                              the layout's sourceDateEpoch)
      --ownership MODE        preserve (default) or root (every file 0:0)
      --ownership-manifest F  set owners, modes, xattrs; add device nodes (README)
      --workers N             compression threads; N - 1 of them (at most one per
                              other CPU) also read the tree for the ext4 hole
                              scan (default: one per CPU, at most 4; output does
                              not depend on it; each one adds about 11 MiB of
                              memory)
      --force                 replace existing outputs
      --json                  print the result as JSON on stdout
      --manifest FILE         write a build manifest (inputs, ids, SHA-256 of disk,
                              partitions and outputs) for mkdisk verify
  -h, --help                  this help
  -V, --version               the version

Exit status: 0 success, 2 usage, 3 bad layout, 4 unreadable or unsuitable
rootfs, 5 content does not fit, 6 output problem, 7 not supported yet,
8 bad input image, 70 internal error. Interrupted (SIGINT, SIGTERM, SIGHUP),
it removes its temporary files and dies by the same signal (a shell shows
128 + its number: 130 for SIGINT).
`;

const EXT: Record<OutputFormat, string> = {
  raw: ".img", qcow2: ".qcow2", vmdk: ".vmdk", "vagrant-libvirt": ".libvirt.box", "vagrant-virtualbox": ".virtualbox.box", ova: ".ova",
};

function usage(msg: string): never {
  throw usageError("", msg);
}

function progressBar(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = -1;
  return (done, total) => {
    const pct = Math.floor((done / total) * 100);
    if (pct === last) return;
    last = pct;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    process.stderr.write(`\r[${"#".repeat(fill)}${" ".repeat(width - fill)}] ${pct}%`);
    if (pct === 100) process.stderr.write("\n");
  };
}

/** Subcommands, loaded on use so that a build does not load the readers. */
const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  lint: async (a) => (await import("./lint.js")).lintMain(a),
  verify: async (a) => (await import("./verify.js")).verifyMain(a),
  convert: async (a) => (await import("./convert.js")).convertMain(a),
  inspect: async (a) => (await import("./inspect.js")).inspectMain(a),
  diff: async (a) => (await import("./diff.js")).diffMain(a),
};

/**
 * The subcommands print text: when its reader stops early (`mkdisk diff A B |
 * head`) the pipe closes, and they stop as text tools stopped by SIGPIPE do
 * (exit 141, temporary files removed) rather than with a stack trace.
 */
function stopOnClosedPipe(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    removeTempFiles();
    process.exit(128 + (constants.signals.SIGPIPE ?? 13));
  });
}

export async function main(argv: string[]): Promise<number> {
  const sub = argv[0] !== undefined && Object.hasOwn(SUBCOMMANDS, argv[0]) ? SUBCOMMANDS[argv[0]] : undefined;
  if (sub) {
    stopOnClosedPipe();
    return sub(argv.slice(1));
  }
  if (argv[0] === "build") argv = argv.slice(1);
  const parsed = parseCommandArgs("", argv, {
    rootfs: { type: "string", short: "r" },
    layout: { type: "string", short: "l" },
    output: { type: "string", short: "o" },
    format: { type: "string", short: "f" },
    compress: { type: "boolean" },
    seed: { type: "string" },
    "source-date-epoch": { type: "string" },
    workers: { type: "string" },
    ownership: { type: "string" },
    "ownership-manifest": { type: "string" },
    force: { type: "boolean" },
    json: { type: "boolean" },
    manifest: { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  });
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`mkdisk ${VERSION}\n`);
    return 0;
  }
  if (parsed.positionals.length) usage(`unexpected argument "${parsed.positionals[0]}"`);
  if (!v.layout) usage("--layout FILE is required");

  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(v.layout, "utf8"));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new MkdiskError("E_LAYOUT", err.code ? `cannot read: ${err.message}` : `not valid JSON: ${err.message}`, v.layout);
  }
  const layout = parseLayout(raw);

  const epoch = epochFrom("", v["source-date-epoch"] ?? process.env.SOURCE_DATE_EPOCH);
  if (v.ownership !== undefined && v.ownership !== "preserve" && v.ownership !== "root") usage(`--ownership takes "preserve" or "root"`);
  const workers = workersFrom("", v.workers);

  // Outputs: --format overrides the layout's list (keeping the settings of the formats it shares with it); -o names the single output, or is the stem of several.
  let outputs: OutputRequest[];
  const fromLayout = layout.outputs;
  if (v.format !== undefined) {
    const fmts = v.format.split(",").map((s) => s.trim()).filter((s) => s);
    for (const f of fmts) if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) usage(`unknown format "${f}"; use ${OUTPUT_FORMATS.join(", ")}`);
    if (fmts.length === 0) usage("--format needs at least one format");
    // A format the layout's outputs also list keeps that entry's settings (path,
    // clusterSize, machine, compress); --compress deflates qcow2 clusters, also
    // the qcow2 inside a vagrant-libvirt box.
    outputs = (fmts as OutputFormat[]).map((format) => {
      const o = fromLayout.find((x) => x.format === format);
      const qcow = format === "qcow2" || format === "vagrant-libvirt";
      return { format, path: o?.path ?? "", compress: qcow ? (v.compress ?? o?.compress) : undefined, clusterSize: o?.clusterSize, machine: o?.machine };
    });
  } else {
    outputs = fromLayout.map((o) => ({ format: o.format, path: o.path ?? "", compress: v.compress ?? o.compress, clusterSize: o.clusterSize, machine: o.machine }));
  }
  if (v.output === "-" && (outputs.length !== 1 || outputs[0].format !== "vmdk")) usage(`"-o -" streams one vmdk output to stdout; pass --format vmdk`);
  if (v.output !== undefined) {
    if (outputs.length === 1) outputs[0] = { ...outputs[0], path: v.output };
    else {
      // A stem: an image extension is replaced ("disk.img" → disk.qcow2), any other dot is part of the name ("release-1.2").
      const ext = Object.values(EXT).find((e) => v.output!.endsWith(e));
      const stem = ext ? v.output.slice(0, -ext.length) : v.output;
      outputs = outputs.map((o) => ({ ...o, path: stem + EXT[o.format] }));
    }
  }
  const missing = outputs.find((o) => !o.path);
  if (missing) usage(`no output path for format ${missing.format}: give -o OUT (or "path" in the layout's outputs)`);
  if (v.manifest === "-") usage(`--manifest writes a file, put in place with the image: give it a name ("./-" for a file called "-")`);
  // Standard output, from -o - or a layout path "-": one vmdk, nothing else on stdout, never a terminal.
  if (outputs.some((o) => o.path === "-")) {
    if (outputs.length !== 1 || outputs[0].format !== "vmdk") usage(`standard output ("-") takes one vmdk output and nothing else`);
    if (v.json) usage(`--json prints to stdout, which the image is written to`);
    if (process.stdout.isTTY) usage(`refusing to write a disk image to a terminal; redirect stdout`);
  }
  if (v.compress && !outputs.some((o) => o.format === "qcow2" || o.format === "vagrant-libvirt" || o.format === "vmdk")) usage("--compress applies to qcow2 output (also inside a vagrant-libvirt box)");

  const result = await buildDisk({
    layout: raw,
    manifestPath: v.manifest,
    hashOutputs: v.json ?? false,
    rootfs: v.rootfs,
    outputs,
    seed: seedFrom("", v.seed),
    sourceDateEpoch: epoch,
    ownership: v.ownership as "preserve" | "root" | undefined,
    ownershipManifest: v["ownership-manifest"],
    layoutDir: dirname(v.layout),
    force: v.force ?? false,
    workers,
    progress: progressBar(),
    onWarning: (m) => process.stderr.write(`mkdisk: warning: ${m}\n`),
  });
  if (v.json) {
    process.stdout.write(
      JSON.stringify(
        {
          seed: result.seed,
          sourceDateEpoch: result.sourceDateEpoch ?? null,
          sizeBytes: result.plan.totalBytes,
          outputs: result.outputs,
        },
        null,
        2,
      ) + "\n",
    );
  }
  return 0;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Removes the temporary outputs, then dies by the same signal with its default
 * action, so that the parent sees an interrupted child, not a failed one (a
 * shell loop or make stops on it).
 */
function onSignal(sig: NodeJS.Signals): void {
  removeTempFiles();
  // A signal can land after some outputs are in place (while they are
  // hashed for the manifest, or the manifest is written): say which.
  const done = outputsInPlace();
  const what = done.length === 0 ? "no output was written" : `already complete and in place: ${done.join(", ")}; nothing else was written`;
  process.stderr.write(`\nmkdisk: interrupted (${sig}); ${what}\n`);
  for (const s of SIGNALS) process.off(s, onSignal);
  process.kill(process.pid, sig);
  process.exit(128 + (constants.signals[sig] ?? 0)); // not reached: the default action ends the process
}

export async function run(argv: string[]): Promise<void> {
  // Handlers only while temporary files exist or outputs are in place: during
  // planning (synchronous, nothing on disk yet) a signal ends the process at once.
  watchCleanup((active) => {
    for (const s of SIGNALS) {
      process.off(s, onSignal);
      if (active) process.on(s, onSignal);
    }
  });
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    removeTempFiles();
    if (e instanceof MkdiskError) {
      process.stderr.write(`mkdisk: error [${e.code}]: ${e.message}\n`);
      process.exitCode = EXIT[e.code] ?? 70;
    } else {
      process.stderr.write(`mkdisk: internal error (please report): ${(e as Error).stack ?? e}\n`);
      process.exitCode = EXIT.E_INTERNAL;
    }
  }
}
