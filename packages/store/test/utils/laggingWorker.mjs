// The test's worker (../fixtures/projectionWorker.mjs), started late, and telling the test when it
// is ready. A real worker takes a while to start (it loads the program); a test needs that while
// to be long, or to end at a point of this thread's fold it chooses:
// - `workerData.startAfterMs`: the worker sleeps this long before it loads;
// - `workerData.ready`, an Int32Array on shared memory whose first cell counts the workers that
//   have posted `Ready` (each adds one, and notifies), so that a test can hold this thread until
//   then with Atomics.wait.
// Plain JavaScript, as the worker it starts: Node 20 does not carry tsx into a worker thread.
import { parentPort, workerData } from "node:worker_threads"

const { ready, startAfterMs } = workerData
if (startAfterMs !== undefined) await new Promise((resolve) => setTimeout(resolve, startAfterMs))
if (ready !== undefined) {
  const post = parentPort.postMessage.bind(parentPort)
  parentPort.postMessage = (message, transfer) => {
    post(message, transfer)
    if (message._tag === "Ready") {
      Atomics.add(ready, 0, 1)
      Atomics.notify(ready, 0)
    }
  }
}
await import("../fixtures/projectionWorker.mjs")
