// The job the runtime tests run: per key a ValueState count and a MapState of
// counts per event type, over a replayable generator source. Parameters make
// it fail on purpose (throw at an offset, hang once) for the restart tests.
import { existsSync, writeFileSync } from 'node:fs'
import {
  defineJob,
  generatorSource,
  natsJetStreamSource,
  redisStreamsSource,
  int32Serializer,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedOperator,
  type MapState,
  type OperatorContext,
  type ValueState,
} from '../../src/index.js'

export const TYPES = ['view', 'click', 'buy'] as const

export interface CountEvent {
  offset: number
  key: string
  type: string
}

export interface CountingParams {
  events: number
  keys: number
  /** Offsets per second (default unlimited). */
  rate?: number
  /** Every worker that reads this offset throws (a deterministic bug: restarts cannot help). */
  failAtOffset?: number
  /** The first worker that reads this offset stops answering (busy loop) — once: it creates `hangMarker`. */
  hangAtOffset?: number
  hangMarker?: string
  /** Read from a broker instead of the generator (events are then unbounded: the test stops the job). */
  broker?: { kind: 'nats'; url: string; stream: string } | { kind: 'redis'; url: string; prefix: string }
}

export function eventAt(keys: number, offset: number): CountEvent {
  // A cheap well-mixed hash, so keys and types look random but replay exactly.
  let h = Math.imul(offset ^ 0x5bd1e995, 0x9e3779b1) >>> 0
  h ^= h >>> 15
  h = Math.imul(h, 0x85ebca6b) >>> 0
  return { offset, key: `k${h % keys}`, type: TYPES[(h >>> 8) % TYPES.length]! }
}

export const countDescriptor = new ValueStateDescriptor('count', int32Serializer, 0)
export const byTypeDescriptor = new MapStateDescriptor('count-by-type', stringSerializer, int32Serializer)

class Counter implements KeyedOperator<CountEvent, string> {
  private count!: ValueState<number>
  private byType!: MapState<string, number>

  constructor(private readonly params: CountingParams) {}

  open(ctx: OperatorContext<string>): void {
    this.count = ctx.backend.getState(countDescriptor)
    this.byType = ctx.backend.getMapState(byTypeDescriptor)
  }

  processElement(e: CountEvent): void {
    if (e.offset === this.params.failAtOffset) throw new Error(`planted failure at offset ${e.offset}`)
    if (e.offset === this.params.hangAtOffset && this.params.hangMarker && !existsSync(this.params.hangMarker)) {
      writeFileSync(this.params.hangMarker, String(process.pid))
      for (;;) {
        // Stops answering: no heartbeats, no replies, until the job kills it.
      }
    }
    this.count.update(this.count.value()! + 1)
    this.byType.put(e.type, (this.byType.get(e.type) ?? 0) + 1)
  }
}

export default defineJob<CountEvent, string, CountingParams>({
  name: 'counting',
  keySerializer: stringSerializer,
  keyOf: (e) => e.key,
  operator: (p) => new Counter(p),
  source: (p) => {
    if (p.broker?.kind === 'nats') return natsJetStreamSource<CountEvent>({ servers: p.broker.url, stream: p.broker.stream })
    if (p.broker?.kind === 'redis') return redisStreamsSource<CountEvent>({ url: p.broker.url, prefix: p.broker.prefix })
    return generatorSource({ events: p.events, eventAt: (o) => eventAt(p.keys, o), ...(p.rate ? { ratePerSecond: p.rate } : {}) })
  },
})

/** What every key must hold after `events` events. */
export function expectedCounts(params: { events: number; keys: number }): Map<string, { count: number; byType: Record<string, number> }> {
  const out = new Map<string, { count: number; byType: Record<string, number> }>()
  for (let o = 0; o < params.events; o++) {
    const e = eventAt(params.keys, o)
    let r = out.get(e.key)
    if (!r) out.set(e.key, (r = { count: 0, byType: {} }))
    r.count++
    r.byType[e.type] = (r.byType[e.type] ?? 0) + 1
  }
  return out
}
