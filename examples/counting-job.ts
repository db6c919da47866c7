// The keyed counting job, one module for everything that runs it: the broker
// examples (nats-job.ts, redis-job.ts), the runtime tests (test/runtime/) and
// the runtime benchmark (bench/runtime.ts). Per key it keeps a ValueState
// count and a MapState of counts per event type, reading a replayable
// generator (bounded, optionally paced) or, with `broker` in its params, NATS
// JetStream or Redis Streams (unbounded: whoever runs it stops the job).
// eventAt() is the stream both sides agree on: a producer writes
// eventAt(keys, 0), eventAt(keys, 1), ... and expectedCounts() says what
// every key must then hold.
import {
  defineJob,
  generatorSource,
  int32Serializer,
  MapStateDescriptor,
  natsJetStreamSource,
  redisStreamsSource,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedOperator,
  type MapState,
  type OperatorContext,
  type ValueState,
} from '../src/index.js'

export const TYPES = ['view', 'click', 'buy'] as const

export interface CountEvent {
  offset: number
  key: string
  type: string
}

export type BrokerParams = { kind: 'nats'; url: string; stream: string; perKeyGroupConsumers?: boolean } | { kind: 'redis'; url: string; prefix: string }

export interface CountingParams {
  /** Events of the generator (a broker's stream is unbounded; the producer decides how many). */
  events: number
  keys: number
  /** Generator offsets per second (default unlimited). */
  rate?: number
  /** Read from a broker instead of the generator. */
  broker?: BrokerParams
}

/** A cheap well-mixed hash of an offset, so keys and types look random but replay exactly. */
function mixOffset(offset: number): number {
  let h = Math.imul(offset ^ 0x5bd1e995, 0x9e3779b1) >>> 0
  h ^= h >>> 15
  return Math.imul(h, 0x85ebca6b) >>> 0
}

/** The key index of the event at an offset (its key is `k<index>`): lets a worker skip other workers' events. */
export const keyIndexAt = (keys: number, offset: number): number => mixOffset(offset) % keys

/** The event at `offset`. */
export function eventAt(keys: number, offset: number): CountEvent {
  const h = mixOffset(offset)
  return { offset, key: `k${h % keys}`, type: TYPES[(h >>> 8) % TYPES.length]! }
}

export const countDescriptor = new ValueStateDescriptor('count', int32Serializer, 0)
export const byTypeDescriptor = new MapStateDescriptor('count-by-type', stringSerializer, int32Serializer)

export class Counter implements KeyedOperator<CountEvent, string> {
  private count!: ValueState<number>
  private byType!: MapState<string, number>

  open(ctx: OperatorContext<string>): void {
    this.count = ctx.backend.getState(countDescriptor)
    this.byType = ctx.backend.getMapState(byTypeDescriptor)
  }

  processElement(e: CountEvent): void {
    this.count.update(this.count.value()! + 1)
    this.byType.put(e.type, (this.byType.get(e.type) ?? 0) + 1)
  }
}

/** The job's parts, for a job module that changes one of them (the tests plant failures in the operator). */
export const countingJob = defineJob<CountEvent, string, CountingParams>({
  name: 'counting',
  keySerializer: stringSerializer,
  keyOf: (e) => e.key,
  operator: () => new Counter(),
  source: (p) => {
    if (p.broker?.kind === 'nats') {
      const { url, stream, perKeyGroupConsumers } = p.broker
      return natsJetStreamSource<CountEvent>({ servers: url, stream, ...(perKeyGroupConsumers !== undefined ? { perKeyGroupConsumers } : {}) })
    }
    if (p.broker?.kind === 'redis') return redisStreamsSource<CountEvent>({ url: p.broker.url, prefix: p.broker.prefix })
    return generatorSource({
      events: p.events,
      eventAt: (o) => eventAt(p.keys, o),
      keys: { count: p.keys, indexAt: (o) => keyIndexAt(p.keys, o) },
      ...(p.rate ? { ratePerSecond: p.rate } : {}),
    })
  },
})

export default countingJob

export type Counts = Map<string, { count: number; byType: Record<string, number> }>

/** What every key must hold after events 0 .. events-1 (each key's count and its counts per type). */
export function expectedCounts(params: { events: number; keys: number }): Counts {
  const out: Counts = new Map()
  for (let o = 0; o < params.events; o++) addEvent(out, eventAt(params.keys, o))
  return out
}

export function addEvent(counts: Counts, e: CountEvent): void {
  let r = counts.get(e.key)
  if (!r) counts.set(e.key, (r = { count: 0, byType: {} }))
  r.count++
  r.byType[e.type] = (r.byType[e.type] ?? 0) + 1
}
