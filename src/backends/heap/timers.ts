// Timer queues of the heap backend: every timer in memory (a binary heap per
// key group, see src/timers/queue.ts). For snapshots the timer state hands the
// full-snapshot writer its entries in the canonical layout (entry key = timer,
// empty value, sorted per key group), the same bytes the RocksDB backend keeps
// in its timer column family, so heap timers restore into RocksDB and back.
import { KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import { decodeTimer, type TimerEntry } from '../../timers/entry.js'
import { HeapKeyGroupQueue, PartitionedTimerQueue } from '../../timers/queue.js'
import type { RawEntries } from './state-data.js'
import { forEachPacked, packEntries } from '../../snapshot/format/packed.js'

const EMPTY = new Uint8Array(0)

/** A state whose snapshot data comes from elsewhere than a StateTable (timers). */
export interface InternalSnapshotSource {
  /** The synchronous part of a snapshot: what later changes must not alter. */
  capture(): CapturedInternalState
}

export interface CapturedInternalState {
  isEmpty(): boolean
  /** Packed chunks of key-group index `index` (key group - range start), keys ascending. */
  chunks(index: number): Iterable<Uint8Array>
}

function byBytes(a: TimerEntry, b: TimerEntry): number {
  return Buffer.compare(a.bytes, b.bytes)
}

/**
 * Captures every key group's timers: O(key groups) plus a copy of each key
 * group changed since the last snapshot. Serialization waits for the
 * asynchronous part.
 */
function captureTimers(queues: readonly HeapKeyGroupQueue[]): CapturedInternalState {
  const copies = queues.map((q) => q.entriesForSnapshot())
  return {
    isEmpty: () => copies.every((c) => c.length === 0),
    chunks(index) {
      const copy = copies[index]
      if (copy === undefined || copy.length === 0) return []
      const sorted = copy.slice().sort(byBytes)
      return packEntries(sorted.map((e) => [e.bytes, EMPTY] as const))
    },
  }
}

/**
 * The queue of a heap timer state, loaded from `raw` (restored chunks) when
 * present. Returns the queue and the snapshot source that replaces the chunks.
 */
export function heapTimerQueue(
  raw: RawEntries | undefined,
  range: KeyGroupRange,
  stateName: string,
): { queue: PartitionedTimerQueue<HeapKeyGroupQueue>; snapshots: InternalSnapshotSource } {
  const queues: HeapKeyGroupQueue[] = []
  for (let kg = range.start; kg <= range.end; kg++) queues.push(new HeapKeyGroupQueue())
  const where = `timer state '${stateName}'`
  if (raw !== undefined) {
    for (let index = 0; index < raw.length; index++) {
      const keyGroup = range.start + index
      for (const chunk of raw[index] ?? []) {
        forEachPacked(chunk, (key) => {
          const entry = decodeTimer(key, where)
          if (entry.keyGroup !== keyGroup) {
            throw new KeyedStateError('CORRUPTION', `${where}: a timer of key group ${entry.keyGroup} was restored into key group ${keyGroup}`, {
              state: stateName,
              keyGroup,
            })
          }
          queues[index]!.insert(entry)
        }, where)
      }
    }
  }
  return { queue: new PartitionedTimerQueue(range, queues), snapshots: { capture: () => captureTimers(queues) } }
}
