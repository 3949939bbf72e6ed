import { Layer } from "effect"
import * as EventLog from "../src/EventLog.js"
import * as Ids from "../src/Ids.js"
import { eventLogContract } from "../src/testing/EventLogContract.js"

eventLogContract("layerMemory", EventLog.layerMemory.pipe(Layer.provide(Ids.layerTest)))
