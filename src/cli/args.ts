/** Argument parsing shared by the CLI's commands. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { MkdiskError } from "../bin/errors.js";
import { parseUuid } from "../bin/guid.js";
import { MAX_EPOCH_SEC } from "../context/index.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: boolean; options: O }>>;

/**
 * parseArgs in strict mode; an unknown or malformed option (or a positional
 * argument where none is allowed) is E_USAGE naming the command's help
 * (`command` is "" for the build command itself).
 */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = true): Parsed<O> {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals, options });
  } catch (e) {
    throw usageError(command, (e as Error).message);
  }
}

/** E_USAGE with a pointer to the command's --help. */
export function usageError(command: string, msg: string): MkdiskError {
  return new MkdiskError("E_USAGE", `${msg} (see mkdisk ${command ? `${command} ` : ""}--help)`);
}

/**
 * SOURCE_DATE_EPOCH from an option or the environment: unset or empty means
 * none; anything but decimal digits is E_USAGE.
 */
export function epochFrom(command: string, text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text)) throw usageError(command, `SOURCE_DATE_EPOCH must be a whole number of seconds, got "${text}"`);
  if (Number(text) > MAX_EPOCH_SEC) throw usageError(command, `SOURCE_DATE_EPOCH ${text} is after 2446-05-10 (${MAX_EPOCH_SEC}), the last time ext4 can store`);
  return Number(text);
}

/** A --workers value: a positive whole number. */
export function workersFrom(command: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text)) throw usageError(command, "--workers takes a positive whole number");
  return Number(text);
}

/** A --seed value: a UUID (E_USAGE otherwise, not the layout's E_LAYOUT). */
export function seedFrom(command: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    parseUuid(text, "--seed");
  } catch {
    throw usageError(command, `--seed takes a UUID (like 0e9a6fe0-68f6-408c-bbeb-136054d20445), got "${text}"`);
  }
  return text;
}
