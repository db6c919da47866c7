// What a user writes to run a keyed operator on the runtime: the operator
// (open / processElement / onTimer, as Flink's KeyedProcessFunction) and the
// job definition that tells a worker process how to build it, its source and
// its key. A job definition lives in a module because every worker (a child
// process, or a process on another host) builds its own operator from it:
// functions cannot cross a process boundary.
import type { KeyedStateBackend } from '../state-backend/types.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { Serializer } from '../serializers/serializer.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { Timer, TimerService } from '../timers/types.js'
import type { Source } from './source.js'

/** What an operator sees of its worker: the backend of its key groups and its timer services. */
export interface OperatorContext<K> {
  /** The backend owning this worker's key groups; the event's key is current in processElement. */
  readonly backend: KeyedStateBackend<K>
  readonly keyGroupRange: KeyGroupRange
  readonly maxParallelism: number
  /** This worker's index among `parallelism` workers. */
  readonly workerIndex: number
  readonly parallelism: number
  /**
   * A timer service whose timers call the operator's onTimer. The runtime
   * advances event time (with the job's watermark settings) and processing time
   * (the wall clock) after every batch of events; at the end of a bounded
   * source the watermark goes to +Infinity, so every event-time timer fires.
   */
  timerService<N = undefined>(name: string, options?: { namespaceSerializer?: Serializer<N> }): TimerService<K, N>
}

export interface KeyedOperator<E, K> {
  /** Registers states and timer services; called once per worker start (after restore). */
  open(ctx: OperatorContext<K>): void | Promise<void>
  /** One event, with its key already the backend's current key. */
  processElement(event: E, ctx: OperatorContext<K>): void
  /** A due timer of one of ctx.timerService's services, with its key current. */
  onTimer?(timer: Timer<K, unknown>, service: string, ctx: OperatorContext<K>): void
  /** A bounded source has no more events for this worker (before the final watermark). */
  endOfInput?(ctx: OperatorContext<K>): void
  close?(): void | Promise<void>
}

export interface WatermarkSettings<E> {
  /** The event time (ms) of an event. */
  eventTimeOf(event: E): number
  /** The watermark trails the largest event time read by this much. */
  maxOutOfOrdernessMs: number
}

/**
 * A job, as its module's default export (see defineJob). `P` is the job's
 * parameters: plain JSON given to runJob (or the CLI) and passed to every
 * factory in every worker.
 */
export interface JobDefinition<E, K, P = unknown> {
  name?: string
  keySerializer: Serializer<K>
  keyOf(event: E): K
  operator(params: P): KeyedOperator<E, K>
  source(params: P): Source<E>
  watermarks?: WatermarkSettings<E>
  /**
   * The checkpoint storage as a worker opens it. Optional when runJob's
   * storage is a FileSystemCheckpointStorage (workers open the same root);
   * required for workers on other hosts with storage they cannot reach by path.
   */
  storage?(params: P): CheckpointStorage
}

/** Identity, for type inference in job modules: `export default defineJob({ ... })`. */
export function defineJob<E, K, P = unknown>(definition: JobDefinition<E, K, P>): JobDefinition<E, K, P> {
  return definition
}
