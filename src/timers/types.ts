// The public timer API: per-key, per-namespace callbacks at an event time
// (driven by watermarks) or a processing time (driven by the caller's clock).
import type { Serializer } from '../serializers/serializer.js'

export type TimeDomain = 'event' | 'processing'

export interface Timer<K, N> {
  readonly key: K
  readonly namespace: N
  readonly timestamp: number
  readonly domain: TimeDomain
}

export interface TimerServiceOptions<K, N> {
  /** Serializer of the timers' namespaces (e.g. windows); default: no namespace. */
  namespaceSerializer?: Serializer<N>
  /**
   * Called for every due timer, in firing order, with the timer's key set as
   * the backend's current key; it may read and write state and register or
   * delete timers (a timer it registers at or before the time being advanced
   * to fires in the same call).
   */
  onTimer: (timer: Timer<K, N>) => void
}

// biome-ignore lint/correctness/noUnusedVariables: K, the backend's key type, is part of the public type's name though no method takes a key
export interface TimerService<K, N = undefined> {
  readonly name: string
  /** Registers a timer for the current key; registering the same (key, namespace, timestamp) again changes nothing. */
  registerEventTimeTimer(timestamp: number, namespace?: N): void
  registerProcessingTimeTimer(timestamp: number, namespace?: N): void
  /** Deletes the current key's timer, if it exists. */
  deleteEventTimeTimer(timestamp: number, namespace?: N): void
  deleteProcessingTimeTimer(timestamp: number, namespace?: N): void
  /**
   * Moves event time forward to `watermark` and fires every event-time timer
   * with timestamp <= watermark, in order of timestamp (then key group, key and
   * namespace bytes). A watermark below the current one changes nothing.
   * Returns how many timers fired. The current key is restored afterwards.
   */
  advanceWatermark(watermark: number): number
  /** The same for processing-time timers. */
  advanceProcessingTime(time: number): number
  /** -Infinity until the first advanceWatermark (watermarks are not kept in snapshots). */
  readonly currentWatermark: number
  readonly currentProcessingTime: number
  /** Timestamp of the earliest pending timer of the domain, e.g. to schedule the next processing-time wake-up. */
  nextTimerTimestamp(domain: TimeDomain): number | undefined
}
