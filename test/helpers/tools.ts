/**
 * Oracle helpers for tests. A test that needs an external tool calls
 * `requireTool`; when the tool is missing the test FAILS (it never skips):
 * `.ci/run` installs every tool listed in it.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const found = new Map<string, string>();

export function requireTool(name: string): string {
  const hit = found.get(name);
  if (hit) return hit;
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p) {
    throw new Error(`required oracle tool "${name}" is not installed; .ci/run installs it (apt-get)`);
  }
  found.set(name, p);
  return p;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool (which must exist) and returns its status and output; never throws on exit status. */
export function run(tool: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  requireTool(tool);
  const r: SpawnSyncReturns<string> = spawnSync(tool, args as string[], {
    encoding: "utf8",
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    maxBuffer: 256 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a tool and throws with its output unless it exits 0. */
export function runOk(tool: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const r = run(tool, args, opts);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export function tempDir(prefix = "mkdisk-test-"): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export { execFileSync };
