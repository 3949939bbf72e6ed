export default [
  "packages/kernel",
  "packages/store",
  "packages/memory",
  "packages/cli"
]
