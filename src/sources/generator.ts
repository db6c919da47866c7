// A replayable generator source: event `offset` is a pure function of the
// offset (like a record at an offset of a log), for tests, benchmarks and the
// demo. Partition k is the subsequence of events whose key is in key group k;
// its position is the next offset to look at. A reader owning a range scans
// the offsets once from the smallest position of its key groups and keeps the
// events of its key groups at or after their positions, so every key group
// resumes exactly where its state says, whatever the parallelism was.
import { KeyedStateError } from '../errors.js'
import { rangeContains, rangeSize } from '../keygroups.js'
import type { Source, SourceOpenOptions, SourcePosition, SourceReader, SourceRecord } from '../runtime/source.js'

export interface GeneratorSourceOptions<E> {
  /** Offsets 0 .. events-1; Infinity for an unbounded source. */
  events: number
  eventAt(offset: number): E
  /**
   * Offsets per second at most (default unlimited): a paced source keeps a
   * job running long enough for a test to kill or rescale it.
   */
  ratePerSecond?: number
}

export function generatorSource<E>(options: GeneratorSourceOptions<E>): Source<E> {
  const { events } = options
  if (!(events === Infinity || (Number.isSafeInteger(events) && events >= 0))) {
    throw new KeyedStateError('INVALID_ARGUMENT', `generatorSource: events must be a non-negative integer or Infinity, got ${String(events)}`)
  }
  return {
    description: `generator of ${events} events`,
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
  private readonly resumeAt: number[]
  private nextOffset: number
  /** When every key group resumes at the same offset and the range is all key groups, no event needs its key group. */
  private readonly keepsEverything: boolean
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
    const out: SourceRecord<E>[] = []
    const { keyGroupRange: range, keyGroupOf } = this.open
    // Scans on past other workers' events until it has some of ours: [] means nothing is available yet.
    while (out.length === 0 && this.nextOffset < limit) {
      const end = Math.min(limit, this.nextOffset + maxRecords)
      for (; this.nextOffset < end; this.nextOffset++) {
        const event = eventAt(this.nextOffset)
        if (this.keepsEverything) {
          out.push({ keyGroup: -1, event })
          continue
        }
        const kg = keyGroupOf(event)
        if (rangeContains(range, kg) && this.nextOffset >= this.resumeAt[kg - range.start]!) out.push({ keyGroup: kg, event })
      }
    }
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
