// One named timer service of a backend: two partitioned queues (event and
// processing time) and the firing loop. Storage is the queues' business; this
// file only knows keys, namespaces and order.
import { KeyedStateError } from '../errors.js'
import { serializeFnOf } from '../serializers/output.js'
import type { Serializer } from '../serializers/serializer.js'
import { encodeTimer, type TimerEntry } from './entry.js'
import type { PartitionedTimerQueue } from './queue.js'
import type { TimeDomain, Timer, TimerService } from './types.js'

/** What the service needs from the backend. */
export interface TimerHost<K> {
  readonly keySerializer: Serializer<K>
  /** The current key, serialized, and its key group; throws CLOSED / NO_CURRENT_KEY. */
  currentKey(): { key: K; bytes: Uint8Array; keyGroup: number }
  /** The current key, when one is set (restored after firing). */
  currentKeyIfSet(): { key: K } | undefined
  setCurrentKey(key: K): void
  assertOpen(): void
}

export class TimerServiceImpl<K, N> implements TimerService<K, N> {
  private watermark = -Infinity
  private processingTime = -Infinity
  /** Set while timers fire: advancing again from onTimer would fire timers out of order. */
  private firing: TimeDomain | undefined
  private readonly serializeNamespace: (namespace: N) => Uint8Array

  constructor(
    private readonly host: TimerHost<K>,
    readonly name: string,
    readonly namespaceSerializer: Serializer<N>,
    readonly onTimer: (timer: Timer<K, N>) => void,
    private readonly eventQueue: PartitionedTimerQueue,
    private readonly processingQueue: PartitionedTimerQueue,
  ) {
    this.serializeNamespace = serializeFnOf(namespaceSerializer, { role: 'namespace', owner: `timer service '${name}'` })
  }

  get currentWatermark(): number {
    return this.watermark
  }

  get currentProcessingTime(): number {
    return this.processingTime
  }

  registerEventTimeTimer(timestamp: number, namespace?: N): void {
    this.eventQueue.add(this.entry('registerEventTimeTimer', timestamp, namespace))
  }

  registerProcessingTimeTimer(timestamp: number, namespace?: N): void {
    this.processingQueue.add(this.entry('registerProcessingTimeTimer', timestamp, namespace))
  }

  deleteEventTimeTimer(timestamp: number, namespace?: N): void {
    this.eventQueue.remove(this.entry('deleteEventTimeTimer', timestamp, namespace))
  }

  deleteProcessingTimeTimer(timestamp: number, namespace?: N): void {
    this.processingQueue.remove(this.entry('deleteProcessingTimeTimer', timestamp, namespace))
  }

  advanceWatermark(watermark: number): number {
    this.checkAdvance('advanceWatermark', watermark)
    if (watermark > this.watermark) this.watermark = watermark
    return this.fire('event', this.eventQueue, this.watermark)
  }

  advanceProcessingTime(time: number): number {
    this.checkAdvance('advanceProcessingTime', time)
    if (time > this.processingTime) this.processingTime = time
    return this.fire('processing', this.processingQueue, this.processingTime)
  }

  nextTimerTimestamp(domain: TimeDomain): number | undefined {
    this.host.assertOpen()
    if (domain !== 'event' && domain !== 'processing') throw this.invalid(`nextTimerTimestamp: domain must be 'event' or 'processing', got ${String(domain)}`)
    return (domain === 'event' ? this.eventQueue : this.processingQueue).peek()?.timestamp
  }

  private entry(method: string, timestamp: number, namespace: N | undefined): TimerEntry {
    if (!Number.isSafeInteger(timestamp)) throw this.invalid(`${method}: timestamp must be an integer (milliseconds), got ${String(timestamp)}`)
    const { key, bytes, keyGroup } = this.host.currentKey()
    const entry = encodeTimer(keyGroup, timestamp, bytes, this.serializeNamespace(namespace as N))
    // Primitive keys are kept to fire without deserializing; objects could be mutated by the caller meanwhile.
    if (typeof key !== 'object' || key === null) entry.key = key
    return entry
  }

  private checkAdvance(method: string, time: number): void {
    this.host.assertOpen()
    if (typeof time !== 'number' || Number.isNaN(time)) throw this.invalid(`${method}: time must be a number, got ${String(time)}`)
    if (this.firing !== undefined) {
      throw this.invalid(`${method} was called from onTimer while ${this.firing}-time timers fire; advance time from outside the callback`)
    }
  }

  private fire(domain: TimeDomain, queue: PartitionedTimerQueue, upTo: number): number {
    const previous = this.host.currentKeyIfSet()
    this.firing = domain
    let fired = 0
    try {
      for (let head = queue.peek(); head !== undefined && head.timestamp <= upTo; head = queue.peek()) {
        // Removed before the callback: a timer fires at most once, even when onTimer throws.
        queue.remove(head)
        const key = head.key !== undefined ? (head.key as K) : this.host.keySerializer.deserialize(head.keyBytes)
        this.host.setCurrentKey(key)
        const namespace = this.namespaceSerializer.deserialize(head.namespaceBytes)
        fired++
        this.onTimer({ key, namespace, timestamp: head.timestamp, domain })
      }
    } finally {
      this.firing = undefined
      if (previous !== undefined && fired > 0) {
        try {
          this.host.setCurrentKey(previous.key)
        } catch {
          // The backend was closed from onTimer; the original error (if any) matters more.
        }
      }
    }
    return fired
  }

  private invalid(what: string): KeyedStateError {
    return new KeyedStateError('INVALID_ARGUMENT', `timer service '${this.name}': ${what}`)
  }
}
