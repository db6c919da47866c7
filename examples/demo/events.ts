// The demo's source: a replayable stream of user events. Event `offset` is a
// pure function of (seed, offset), like a record at an offset in a Kafka
// partition, so any reader can start at any offset and see exactly the same
// events as every other reader.

export const EVENT_TYPES = ['view', 'click', 'cart', 'buy'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export interface DemoEvent {
  offset: number
  key: string
  type: EventType
  /** Event time (ms): when it happened; a little out of order. */
  timeMs: number
}

export interface StreamConfig {
  seed: number
  /** Events in the stream: offsets 0 .. events - 1. */
  events: number
  /** Distinct keys (users). */
  keys: number
}

/** Stream time of offset 0. */
export const STREAM_START_MS = Date.UTC(2024, 0, 1)
/** Stream time advances this much per offset (so 50 000 events span about 42 minutes). */
export const STREAM_SPACING_MS = 50
/**
 * An event's time is at most this much after the stream time of its offset.
 * Watermarks lag the largest event time seen by this much, so no event is
 * ever behind the watermark (late) — the windows' counts are exact.
 */
export const MAX_OUT_OF_ORDER_MS = 2_000

/** The stream's own clock at an offset; the demo's TTL clock. */
export function streamTimeAt(offset: number): number {
  return STREAM_START_MS + offset * STREAM_SPACING_MS
}

/** 32 well-mixed bits from (seed, offset, salt): the murmur3 finalizer over a combined word. */
function mix(seed: number, offset: number, salt: number): number {
  let h = (Math.imul(offset, 0x9e3779b1) ^ Math.imul(seed + salt, 0x85ebca6b)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function unit(seed: number, offset: number, salt: number): number {
  return mix(seed, offset, salt) / 4294967296
}

/** The user (0 .. keys - 1) of the event at an offset: cheap, so a reader can skip other workers' users without making their events. */
export function userAt(stream: StreamConfig, offset: number): number {
  // Users come and go: about a quarter of them are active at any time, and the active group drifts
  // through the user ids over the stream, so early users have gone quiet by the end (their TTL'd
  // state expires) while late ones are still active. Squaring makes some users busier than others.
  const activeUsers = Math.ceil(stream.keys / 4)
  const firstActive = Math.floor((offset / stream.events) * (stream.keys - activeUsers + 1))
  const u = unit(stream.seed, offset, 1)
  return firstActive + Math.floor(u * u * activeUsers)
}

export function eventAt(stream: StreamConfig, offset: number): DemoEvent {
  const key = `user-${userAt(stream, offset)}`
  const type = EVENT_TYPES[Math.floor(unit(stream.seed, offset, 2) * EVENT_TYPES.length)]!
  const timeMs = streamTimeAt(offset) + Math.floor(unit(stream.seed, offset, 3) * MAX_OUT_OF_ORDER_MS)
  return { offset, key, type, timeMs }
}

/** Deterministic choices of the demo itself (which instance dies, and when). */
export function seededRandom(seed: number): () => number {
  let i = 0
  return () => unit(seed, i++, 0x5eed)
}
