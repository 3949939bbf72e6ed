import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "cli",
    include: ["test/**/*.test.ts"],
    // The end-to-end tests start weft in a child process (~1 s each, more on a busy machine).
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
