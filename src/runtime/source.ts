// The source contract of the runtime. A source is partitioned by key group:
// partition k holds exactly the events whose key falls into key group k (the
// producer routes by the same murmur3 hash as the backend), so a worker reads
// only the partitions of its key groups and never sees another worker's keys.
// Each partition can be sought to a position (a generator offset, a JetStream
// sequence, a Redis entry id); the runtime records every key group's position
// with its state in each checkpoint and seeks there on restore.
//
// A Kafka source is a small adapter of this contract: with a topic of
// maxParallelism partitions and a partitioner using assignToKeyGroup,
// partition k is key group k and the position is the partition offset
// (seek with consumer.seek, read with assign() instead of a consumer group).
import type { JsonValue } from '../checkpoint/metadata.js'
import { KeyedStateError } from '../errors.js'
import type { KeyGroupRange } from '../keygroups.js'

/** A partition's position: where to read next. Plain JSON (it is written into `_metadata`). */
export type SourcePosition = JsonValue

export interface SourceRecord<E> {
  /** The key group (partition) the record was read from; -1 when a reader owning every key group did not compute it. */
  keyGroup: number
  event: E
}

export interface SourceOpenOptions<E> {
  keyGroupRange: KeyGroupRange
  maxParallelism: number
  /**
   * Per key group of the range, where to resume: the position recorded with the
   * state, or undefined for a key group with no recorded position (start at the
   * beginning of the partition).
   */
  positions: ReadonlyMap<number, SourcePosition | undefined>
  /** The key group of an event, by the backend's hash: sources check what they read against it. */
  keyGroupOf(event: E): number
}

export interface Source<E> {
  /** For messages, e.g. 'nats jetstream events @ nats://127.0.0.1:4222'. */
  readonly description: string
  open(options: SourceOpenOptions<E>): Promise<SourceReader<E>>
}

export interface SourceReader<E> {
  /**
   * Up to `maxRecords` records, in partition order within each partition; an
   * empty array when nothing is available now (a broker reader may wait a
   * little first).
   */
  poll(maxRecords: number): Promise<SourceRecord<E>[]>
  /**
   * The position of every key group of the range after the records returned by
   * poll so far (and nothing more: a record fetched but not yet returned must
   * not count). Called at checkpoint barriers, between two polls' records.
   */
  positions(): Map<number, SourcePosition>
  /**
   * Optional, for the job's metrics: how many records this reader has still
   * to read to be caught up now (including records of other workers' key
   * groups it reads past), or undefined when it cannot tell (e.g. an unbounded
   * unpaced generator). Called at most once per heartbeat, never concurrently.
   */
  lag?(): Promise<number | undefined>
  /** Bounded sources: true once every partition is read to its end. */
  readonly finished: boolean
  close(): Promise<void>
}

/** A record read from partition `keyGroup` whose key hashes elsewhere: a producer with another hash or maxParallelism. */
export function misroutedError(where: string, keyGroup: number, actual: number): KeyedStateError {
  return new KeyedStateError(
    'CORRUPTION',
    `${where}: the event's key belongs to key group ${actual}, not to key group ${keyGroup} it was read from ` +
      '(was it written by a producer with another maxParallelism or key hash?)',
    { keyGroup },
  )
}
