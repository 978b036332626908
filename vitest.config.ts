import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Oracle tests mount loop devices and run external tools: keep parallelism modest.
    pool: "forks",
    maxWorkers: 2,
  },
});
