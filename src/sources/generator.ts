// A replayable generator source: event `offset` is a pure function of the
// offset (like a record at an offset of a log), for tests, benchmarks and the
// demo. Partition k is the subsequence of events whose key is in key group k;
// its position is the next offset of the stream to look at for k. A reader
// owning a range walks the offsets once from the smallest position of its key
// groups and keeps the events of its key groups at or after their positions,
// so every key group resumes exactly where its state says, whatever the
// parallelism was, and the workers together see the single-reader stream.
//
// With `keys` (the key space and each offset's key index, a cheap integer
// function) the reader skips other key groups' offsets without generating
// their events: it learns each key index's key group once (from the first
// event with that index) and afterwards generates only its own events, so a
// worker at parallelism p does about 1/p of the generating and hashing.
// Without `keys` it must generate and hash every event to find its key group.
import { KeyedStateError } from '../errors.js'
import { rangeSize } from '../keygroups.js'
import type { Source, SourceOpenOptions, SourcePosition, SourceReader, SourceRecord } from '../runtime/source.js'

export interface GeneratorKeySpace {
  /** Keys are numbered 0 .. count-1. */
  count: number
  /**
   * The key index of the event at `offset`: a pure function, cheap next to
   * eventAt. Events with the same key index must have the same key (the reader
   * takes an index's key group from the first such event).
   */
  indexAt(offset: number): number
}

export interface GeneratorSourceOptions<E> {
  /** Offsets 0 .. events-1; Infinity for an unbounded source. */
  events: number
  eventAt(offset: number): E
  /** The key space: lets a reader skip other key groups' events without generating them. */
  keys?: GeneratorKeySpace
  /**
   * Offsets per second at most (default unlimited): a paced source keeps a
   * job running long enough for a test to kill or rescale it.
   */
  ratePerSecond?: number
}

/** A reader keeps a key group per key index (2 bytes each): at most 64 MiB. */
const MAX_KEY_COUNT = 2 ** 25

/** Offsets a poll may walk past (other key groups' events) once it has some records: bounds one poll's time. */
const SCAN_BUDGET = 16_384

export function generatorSource<E>(options: GeneratorSourceOptions<E>): Source<E> {
  const { events, keys } = options
  if (!(events === Infinity || (Number.isSafeInteger(events) && events >= 0))) {
    throw new KeyedStateError('INVALID_ARGUMENT', `generatorSource: events must be a non-negative integer or Infinity, got ${String(events)}`)
  }
  if (keys !== undefined && !(Number.isSafeInteger(keys.count) && keys.count > 0 && keys.count <= MAX_KEY_COUNT && typeof keys.indexAt === 'function')) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `generatorSource: keys must be { count: an integer from 1 to ${MAX_KEY_COUNT}, indexAt(offset) }, got count ${String(keys?.count)}`,
    )
  }
  return {
    description: `generator of ${events} events${keys ? ` over ${keys.count} keys` : ''}`,
    open: async (o) => new GeneratorReader(options, o),
  }
}

function offsetOf(p: SourcePosition | undefined, keyGroup: number): number {
  if (p === undefined) return 0
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) {
    throw new KeyedStateError('CORRUPTION', `generator source: position of key group ${keyGroup} is ${JSON.stringify(p)}, not an offset`, { keyGroup })
  }
  return p
}

class GeneratorReader<E> implements SourceReader<E> {
  /** Per key group of the range (indexed from its start): the first offset not yet returned for it. */
  private readonly resumeAt: number[]
  private nextOffset: number
  /** When every key group resumes at the same offset and the range is all key groups, no event needs its key group. */
  private readonly keepsEverything: boolean
  /** With a key space: the key group of each key index (below MAX_PARALLELISM_LIMIT, 32768), -1 until an event with that index was generated. */
  private readonly keyGroupOfIndex: Int16Array | undefined
  private readonly startedMs = performance.now()
  private readonly startOffset: number

  constructor(
    private readonly options: GeneratorSourceOptions<E>,
    private readonly open: SourceOpenOptions<E>,
  ) {
    const { keyGroupRange: range } = open
    this.resumeAt = []
    for (let kg = range.start; kg <= range.end; kg++) this.resumeAt.push(offsetOf(open.positions.get(kg), kg))
    this.nextOffset = this.startOffset = Math.min(...this.resumeAt)
    this.keepsEverything = rangeSize(range) === open.maxParallelism && this.resumeAt.every((o) => o === this.startOffset)
    this.keyGroupOfIndex = options.keys && !this.keepsEverything ? new Int16Array(options.keys.count).fill(-1) : undefined
  }

  get finished(): boolean {
    return this.nextOffset >= this.options.events
  }

  /** Offsets produced so far: all of them, or as many as the rate allows by now. */
  private available(): number {
    const { events, ratePerSecond } = this.options
    if (ratePerSecond === undefined) return events
    return Math.min(events, this.startOffset + Math.floor(((performance.now() - this.startedMs) / 1000) * ratePerSecond))
  }

  /** Offsets produced and not scanned yet (every reader scans every offset); unknown for an endless unpaced source. */
  async lag(): Promise<number | undefined> {
    const available = this.available()
    return available === Infinity ? undefined : Math.max(0, available - this.nextOffset)
  }

  async poll(maxRecords: number): Promise<SourceRecord<E>[]> {
    const { eventAt } = this.options
    const limit = this.available()
    if (this.keepsEverything) {
      const out: SourceRecord<E>[] = []
      const end = Math.min(limit, this.nextOffset + maxRecords)
      for (; this.nextOffset < end; this.nextOffset++) out.push({ keyGroup: -1, event: eventAt(this.nextOffset) })
      return out
    }
    return this.keyGroupOfIndex ? this.pollByKeyIndex(maxRecords, limit, this.keyGroupOfIndex) : this.pollByEvent(maxRecords, limit)
  }

  /** Walks past other key groups' offsets until it has `maxRecords` (or a scan budget's worth, or none are available yet: []). */
  private pollByKeyIndex(maxRecords: number, limit: number, table: Int16Array): SourceRecord<E>[] {
    const { eventAt, keys } = this.options
    const { indexAt } = keys!
    const { keyGroupRange: range, keyGroupOf } = this.open
    const { start, end } = range
    const resumeAt = this.resumeAt
    const out: SourceRecord<E>[] = []
    // A throw (from indexAt or eventAt) leaves nextOffset where it was: nothing of this poll counts as read.
    let offset = this.nextOffset
    const budgetEnd = offset + SCAN_BUDGET
    for (; offset < limit && out.length < maxRecords && (out.length === 0 || offset < budgetEnd); offset++) {
      const index = indexAt(offset)
      let kg = table[index]
      if (kg === undefined) {
        throw new KeyedStateError('INVALID_ARGUMENT', `generator source: keys.indexAt(${offset}) is ${String(index)}, not a key index 0 .. ${table.length - 1}`)
      }
      if (kg === -1) {
        // First event with this key index: its key group holds for every later one (the worker checks each record's).
        const event = eventAt(offset)
        kg = table[index] = keyGroupOf(event)
        if (kg >= start && kg <= end && offset >= resumeAt[kg - start]!) out.push({ keyGroup: kg, event })
        continue
      }
      if (kg >= start && kg <= end && offset >= resumeAt[kg - start]!) out.push({ keyGroup: kg, event: eventAt(offset) })
    }
    this.nextOffset = offset
    return out
  }

  /** Without a key space: generates and hashes every event to find its key group. */
  private pollByEvent(maxRecords: number, limit: number): SourceRecord<E>[] {
    const { eventAt } = this.options
    const { keyGroupRange: range, keyGroupOf } = this.open
    const { start, end } = range
    const out: SourceRecord<E>[] = []
    let offset = this.nextOffset
    const budgetEnd = offset + SCAN_BUDGET
    for (; offset < limit && out.length < maxRecords && (out.length === 0 || offset < budgetEnd); offset++) {
      const event = eventAt(offset)
      const kg = keyGroupOf(event)
      if (kg >= start && kg <= end && offset >= this.resumeAt[kg - start]!) out.push({ keyGroup: kg, event })
    }
    this.nextOffset = offset
    return out
  }

  positions(): Map<number, SourcePosition> {
    const out = new Map<number, SourcePosition>()
    const { start } = this.open.keyGroupRange
    // A key group that resumed beyond nextOffset already holds the events up to its resume offset.
    for (const [i, offset] of this.resumeAt.entries()) out.set(start + i, Math.max(offset, this.nextOffset))
    return out
  }

  async close(): Promise<void> {}
}
