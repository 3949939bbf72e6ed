/**
 * Event and session ids: UUIDv7, so ids sort by creation time.
 *
 * `layer` takes the time from `Clock` and the random bits from the platform's CSPRNG (this
 * service is where randomness enters the kernel); `layerTest` counts, so every run of a test
 * sees the same ids.
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"

export interface Service {
  readonly next: Effect.Effect<string>
  /** `n` ids at once, in order: one clock read and one draw of random bytes for the lot. */
  readonly nextMany: (n: number) => Effect.Effect<ReadonlyArray<string>>
}

export class Ids extends Context.Tag("@weft/kernel/Ids")<Ids, Service>() {}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")

/** Formats a UUIDv7 from a millisecond time, a 12-bit sequence and 62 random bits (as 8 bytes). */
export const uuidv7 = (millis: number, sequence: number, random: Uint8Array): string => {
  const time = hex(millis, 12).slice(-12)
  const randA = hex(0x7000 | (sequence & 0x0fff), 4)
  const variant = hex(0x80 | (random[0]! & 0x3f), 2) + hex(random[1]!, 2)
  let tail = ""
  for (let i = 2; i < 8; i++) tail += hex(random[i]!, 2)
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-${randA}-${variant}-${tail}`
}

export const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/**
 * Monotonic within a process: ids made in the same millisecond count up in the 12-bit
 * sequence field (RFC 9562, method 1); if that overflows, the time field moves on by one.
 */
export const make = (randomBytes: (n: number) => Uint8Array): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const last = yield* Ref.make({ millis: -1, sequence: 0 })
    const nextMany = (n: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const random = randomBytes(8 * n)
        return yield* Ref.modify(last, (prev) => {
          let { millis, sequence } = prev
          const ids: Array<string> = []
          for (let i = 0; i < n; i++) {
            if (now > millis) {
              millis = now
              sequence = 0
            } else if (sequence >= 0x0fff) {
              millis = millis + 1
              sequence = 0
            } else {
              sequence = sequence + 1
            }
            ids.push(uuidv7(millis, sequence, random.subarray(8 * i, 8 * i + 8)))
          }
          return [ids, { millis, sequence }]
        })
      })
    return { next: Effect.map(nextMany(1), (ids) => ids[0]!), nextMany }
  })

export const layer: Layer.Layer<Ids> = Layer.effect(
  Ids,
  make((n) => globalThis.crypto.getRandomValues(new Uint8Array(n)))
)

/** Deterministic ids: `00000000-0000-7000-8000-000000000001`, `…002`, … */
export const layerTest: Layer.Layer<Ids> = Layer.effect(
  Ids,
  Effect.gen(function*() {
    const counter = yield* Ref.make(0)
    const nextMany = (n: number) =>
      Ref.modify(counter, (c) => [
        Array.from({ length: n }, (_, i) => `00000000-0000-7000-8000-${hex(c + i + 1, 12)}`),
        c + n
      ])
    return { next: Effect.map(nextMany(1), (ids) => ids[0]!), nextMany }
  })
)
