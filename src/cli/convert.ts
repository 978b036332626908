/** `mkdisk convert IN -O FORMAT OUT [--compress] [--seed UUID] [--workers N] [--force]`. */
import { MkdiskError } from "../bin/errors.js";
import { convertImage } from "../convert.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../layout/schema.js";
import { parseCommandArgs, seedFrom, workersFrom } from "./args.js";

export const CONVERT_HELP = `Usage: mkdisk convert IN -O FORMAT OUT [--compress] [--seed UUID] [--workers N] [--force]

Converts a raw, qcow2 or VMDK image to FORMAT: raw, qcow2, vmdk
(streamOptimized), ova, vagrant-libvirt or vagrant-virtualbox. All-zero
clusters are detected by content and left out. --compress deflates qcow2
clusters (also the qcow2 in a vagrant-libvirt box); VMDK grains are always
compressed. --seed sets the ids the output carries (the VMDK's CID and
ddb.uuid, the OVF's machine and disk ids and MAC address).
`;

export async function convertMain(argv: string[]): Promise<number> {
  const p = parseCommandArgs("convert", argv, {
    "output-format": { type: "string", short: "O" },
    compress: { type: "boolean", short: "c" },
    seed: { type: "string" },
    workers: { type: "string" },
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (p.values.help) {
    process.stdout.write(CONVERT_HELP);
    return 0;
  }
  const [input, output, ...rest] = p.positionals;
  if (!input || !output || rest.length) throw new MkdiskError("E_USAGE", "expected IN and OUT (see mkdisk convert --help)");
  if (output === "-") throw new MkdiskError("E_USAGE", `convert writes a file, not standard output: give OUT a name ("./-" for a file called "-")`);
  const fmt = p.values["output-format"];
  if (!fmt || !(OUTPUT_FORMATS as readonly string[]).includes(fmt)) throw new MkdiskError("E_USAGE", `-O takes ${OUTPUT_FORMATS.join(", ")}`);
  if (p.values.compress && !["qcow2", "vagrant-libvirt", "vmdk"].includes(fmt)) throw new MkdiskError("E_USAGE", `--compress applies to qcow2 output (also inside a vagrant-libvirt box); ${fmt} has no compressed form (see mkdisk convert --help)`);
  await convertImage({
    input, output, format: fmt as OutputFormat, compress: p.values.compress, seed: seedFrom("convert", p.values.seed), force: p.values.force,
    workers: workersFrom("convert", p.values.workers),
  });
  return 0;
}
