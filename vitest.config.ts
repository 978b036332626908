import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // dist/ (the CLI the tests spawn) is compiled once, before every test file.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Oracle tests mount loop devices and run external tools: keep parallelism modest.
    pool: "forks",
    maxWorkers: 2,
  },
});
