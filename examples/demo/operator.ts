// The keyed operator of the demo job, written the way a user writes one: it
// gets a backend whose key-group range it owns and keeps everything it knows
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
  type KeyedStateBackend,
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

export class EventCounter {
  private readonly count: ValueState<bigint, bigint>
  private readonly countByType: MapState<string, number>
  private readonly recent: ListState<RecentEvent>
  private readonly lastActivity: ValueState<number>
  private readonly minuteCounts: MapState<bigint, number>
  private readonly windows: TimerService<string, bigint>

  constructor(
    private readonly backend: KeyedStateBackend<string>,
    private readonly clock: StreamClock,
  ) {
    this.count = backend.getState(new ValueStateDescriptor('count', int64Serializer, 0n))
    this.countByType = backend.getMapState(new MapStateDescriptor('count-by-type', stringSerializer, int32Serializer))
    this.recent = backend.getListState(new ListStateDescriptor<RecentEvent>('recent', jsonSerializer))
    this.lastActivity = backend.getState(
      new ValueStateDescriptor('last-activity', int32Serializer).enableTimeToLive({ ttlMs: ACTIVITY_TTL_MS, clock }),
    )
    this.minuteCounts = backend.getMapState(new MapStateDescriptor('minute-counts', int64Serializer, int32Serializer))
    this.windows = backend.timerService('minute-windows', {
      namespaceSerializer: int64Serializer,
      onTimer: (timer) => this.onWindowEnd(timer),
    })
  }

  processElement(event: DemoEvent): void {
    this.clock.nowMs = streamTimeAt(event.offset)
    this.backend.setCurrentKey(event.key)

    this.count.update(this.count.value() + 1n)
    this.countByType.put(event.type, (this.countByType.get(event.type) ?? 0) + 1)
    const recent = this.recent.get()
    const entry: RecentEvent = { offset: event.offset, type: event.type }
    if (recent.length < RECENT_EVENTS) this.recent.add(entry)
    else this.recent.update([...recent.slice(1 - RECENT_EVENTS), entry])
    this.lastActivity.update(event.offset)

    const windowEnd = BigInt(windowEndOf(event.timeMs))
    this.backend.getPartitionedState(windowEnd, int64Serializer, windowCountDescriptor).add(1)
    this.windows.registerEventTimeTimer(Number(windowEnd), windowEnd)
  }

  /** Closes every window that ends at or before `watermark`. */
  advanceWatermark(watermark: number): void {
    this.windows.advanceWatermark(watermark)
  }

  private onWindowEnd({ namespace: windowEnd }: Timer<string, bigint>): void {
    const windowCount = this.backend.getPartitionedState(windowEnd, int64Serializer, windowCountDescriptor)
    this.minuteCounts.put(windowEnd - BigInt(WINDOW_SIZE_MS - 1), windowCount.get() ?? 0)
    windowCount.clear()
  }

  /** The stream ended at `endOffset`: close every window, and look at TTL'd state as of the end. */
  endOfInput(endOffset: number): void {
    this.clock.nowMs = streamTimeAt(endOffset)
    this.windows.advanceWatermark(Number.MAX_SAFE_INTEGER)
  }

  /** The keys this instance holds state for. */
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
