// The job the runtime benchmark runs (bench/runtime.ts): per event a
// ValueState count and a MapState count per event type, over a generator.
import {
  defineJob,
  generatorSource,
  int32Serializer,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedOperator,
  type MapState,
  type OperatorContext,
  type ValueState,
} from '../src/index.js'

export interface BenchEvent {
  key: string
  type: string
}

export interface BenchParams {
  events: number
  keys: number
}

const TYPES = ['view', 'click', 'buy']

export function benchEventAt(keys: number, offset: number): BenchEvent {
  const h = Math.imul(offset ^ 0x5bd1e995, 0x9e3779b1) >>> 0
  return { key: `k${h % keys}`, type: TYPES[(h >>> 8) % 3]! }
}

export class BenchCounter implements KeyedOperator<BenchEvent, string> {
  private count!: ValueState<number>
  private byType!: MapState<string, number>

  open(ctx: OperatorContext<string>): void {
    this.count = ctx.backend.getState(new ValueStateDescriptor('count', int32Serializer, 0))
    this.byType = ctx.backend.getMapState(new MapStateDescriptor('count-by-type', stringSerializer, int32Serializer))
  }

  processElement(e: BenchEvent): void {
    this.count.update(this.count.value()! + 1)
    this.byType.put(e.type, (this.byType.get(e.type) ?? 0) + 1)
  }
}

export default defineJob<BenchEvent, string, BenchParams>({
  keySerializer: stringSerializer,
  keyOf: (e) => e.key,
  operator: () => new BenchCounter(),
  source: (p) => generatorSource({ events: p.events, eventAt: (o) => benchEventAt(p.keys, o) }),
})
