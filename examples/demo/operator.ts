// The keyed operator of the demo job, written the way a user writes one for
// the runtime (open / processElement / onTimer): it keeps everything it knows
// about a user in keyed state.
//
//   count           ValueState    events of the user
//   count-by-type   MapState      events per type
//   recent          ListState     the last RECENT_EVENTS events
//   last-activity   ValueState    offset of the user's last event, forgotten
//                                 ACTIVITY_TTL_MS (stream time) later (TTL)
//   window-count    ReducingState events per one-minute event-time window,
//                                 one per window (namespace = window end)
//   minute-counts   MapState      the closed windows: window start -> events,
//                                 written when the window's timer fires
import {
  int32Serializer,
  int64Serializer,
  jsonSerializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedOperator,
  type KeyedStateBackend,
  type OperatorContext,
  type ListState,
  type MapState,
  type Timer,
  type TimerService,
  type TtlClock,
  type ValueState,
} from '../../src/index.js'
import { streamTimeAt, type DemoEvent, type EventType } from './events.js'

export const RECENT_EVENTS = 5
export const WINDOW_SIZE_MS = 60_000
/** Ten minutes of stream time: rare users' activity expires before the stream ends, busy users' does not. */
export const ACTIVITY_TTL_MS = 10 * 60_000

export interface RecentEvent {
  offset: number
  type: EventType
}

/** Everything the operator holds for one key; the demo's final check compares it with the expected values. */
export interface KeyResult {
  count: number
  countByType: Partial<Record<EventType, number>>
  recent: RecentEvent[]
  /** Null when expired (TTL). */
  lastActivityOffset: number | null
  /** [window start (ms), events], ascending. */
  minuteCounts: [number, number][]
}

/** The TTL clock: stream time, moved by the operator, so expiry is the same in every run and after every restore. */
export class StreamClock implements TtlClock {
  nowMs = streamTimeAt(0)
  now(): number {
    return this.nowMs
  }
}

export function windowEndOf(timeMs: number): number {
  return Math.floor(timeMs / WINDOW_SIZE_MS) * WINDOW_SIZE_MS + WINDOW_SIZE_MS - 1
}

const windowCountDescriptor = new ReducingStateDescriptor<number>('window-count', (a, b) => a + b, int32Serializer)

/** The operator's states on a backend: what the operator writes and what the demo's final check reads. */
export class EventCounterStates {
  readonly count: ValueState<bigint>
  readonly countByType: MapState<string, number>
  readonly recent: ListState<RecentEvent>
  readonly lastActivity: ValueState<number>
  readonly minuteCounts: MapState<bigint, number>

  constructor(readonly backend: KeyedStateBackend<string>, clock: StreamClock) {
    this.count = backend.getState(new ValueStateDescriptor('count', int64Serializer, 0n))
    this.countByType = backend.getMapState(new MapStateDescriptor('count-by-type', stringSerializer, int32Serializer))
    this.recent = backend.getListState(new ListStateDescriptor<RecentEvent>('recent', jsonSerializer))
    this.lastActivity = backend.getState(
      new ValueStateDescriptor('last-activity', int32Serializer).enableTimeToLive({ ttlMs: ACTIVITY_TTL_MS, clock }),
    )
    this.minuteCounts = backend.getMapState(new MapStateDescriptor('minute-counts', int64Serializer, int32Serializer))
  }

  /** The keys holding state. */
  keys(): string[] {
    return [...this.backend.keys('count')]
  }

  resultFor(key: string): KeyResult {
    this.backend.setCurrentKey(key)
    return {
      count: Number(this.count.value()),
      countByType: Object.fromEntries(this.countByType.entries()),
      recent: this.recent.get(),
      lastActivityOffset: this.lastActivity.value() ?? null,
      minuteCounts: [...this.minuteCounts.entries()].map(([start, n]): [number, number] => [Number(start), n]).sort((a, b) => a[0] - b[0]),
    }
  }
}

export class EventCounter implements KeyedOperator<DemoEvent, string> {
  private readonly clock = new StreamClock()
  private states!: EventCounterStates
  private windows!: TimerService<string, bigint>

  /** `endOffset`: where the stream ends (the TTL clock's time at the end of input). */
  constructor(private readonly endOffset: number) {}

  open(ctx: OperatorContext<string>): void {
    this.states = new EventCounterStates(ctx.backend, this.clock)
    this.windows = ctx.timerService('minute-windows', { namespaceSerializer: int64Serializer })
  }

  processElement(event: DemoEvent, ctx: OperatorContext<string>): void {
    this.clock.nowMs = streamTimeAt(event.offset)
    const { count, countByType, recent, lastActivity } = this.states
    count.update(count.value()! + 1n)
    countByType.put(event.type, (countByType.get(event.type) ?? 0) + 1)
    const last = recent.get()
    const entry: RecentEvent = { offset: event.offset, type: event.type }
    if (last.length < RECENT_EVENTS) recent.add(entry)
    else recent.update([...last.slice(1 - RECENT_EVENTS), entry])
    lastActivity.update(event.offset)

    const windowEnd = BigInt(windowEndOf(event.timeMs))
    ctx.backend.getPartitionedState(windowEnd, int64Serializer, windowCountDescriptor).add(1)
    this.windows.registerEventTimeTimer(Number(windowEnd), windowEnd)
  }

  /** A window's end passed the watermark: its count moves into minute-counts. */
  onTimer(timer: Timer<string, unknown>, _service: string, ctx: OperatorContext<string>): void {
    const windowEnd = timer.namespace as bigint
    const windowCount = ctx.backend.getPartitionedState(windowEnd, int64Serializer, windowCountDescriptor)
    this.states.minuteCounts.put(windowEnd - BigInt(WINDOW_SIZE_MS - 1), windowCount.get() ?? 0)
    windowCount.clear()
  }

  /** The stream ended: TTL'd state is judged as of the end (the runtime then fires every window). */
  endOfInput(): void {
    this.clock.nowMs = streamTimeAt(this.endOffset)
  }
}
