// Boot-suite tests: run only by .ci/boot-tests.sh (they need GRUB's i386-pc
// files and the shared boot harness), never by `npm test`.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/boot/**/*.boot.ts"],
    testTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
