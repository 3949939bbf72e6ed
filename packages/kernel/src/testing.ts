/**
 * The testing kit: test your own tools, policies and projections the way the kernel is
 * tested — a whole agent on fake layers (`Harness`), scripted and fake models
 * (`ModelClient.layerScripted` / `layerFake`), in-memory logs and snapshot stores,
 * deterministic ids (`Ids.layerTest`), arbitraries for events and model scripts, the
 * decider's given/when/then, the contract every EventLog adapter passes, and a mock of the
 * Anthropic Messages API on 127.0.0.1 (`MockMessagesApi`) for testing a model client over HTTP.
 */
export * as Arbitraries from "./testing/Arbitraries.js"
export * as Decider from "./testing/Decider.js"
export * as EventLogContract from "./testing/EventLogContract.js"
export * as Harness from "./testing/Harness.js"
export * as MockMessagesApi from "./testing/MockMessagesApi.js"
export * as ModelScripts from "./testing/ModelScripts.js"
