/**
 * Compiles src/ into dist/ and bundles the CLI once, before any test file
 * runs: the CLI tests spawn dist/mkdisk.js, the file the package's `bin`
 * names. Building here rather than in each file's beforeAll means no test ever
 * runs the CLI while another rewrites dist/.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  const root = join(import.meta.dirname, "..");
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  execFileSync(process.execPath, [join(root, "scripts/bundle.mjs")], { stdio: "inherit" });
}
