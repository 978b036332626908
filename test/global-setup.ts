/**
 * Compiles src/ into dist/ once, before any test file runs: the CLI tests
 * spawn dist/cli/main.js. Compiling here rather than in each file's beforeAll
 * means no test ever runs the CLI while another rewrites dist/.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  const root = join(import.meta.dirname, "..");
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
}
