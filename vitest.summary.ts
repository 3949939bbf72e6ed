/**
 * Prints one plain closing line — `tests: N passed, N failed, N skipped` — after the default
 * reporter's summary, so any CI can see at a glance how many tests ran (and that some did).
 */
import type { Reporter, TestModule } from "vitest/node"

export default class SummaryReporter implements Reporter {
  private modules: ReadonlyArray<TestModule> = []

  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    this.modules = modules
  }

  // onFinished runs after every reporter's onTestRunEnd, so this line comes last.
  onFinished() {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of this.modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
