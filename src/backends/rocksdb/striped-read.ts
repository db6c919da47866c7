// One state's chunks, read by several readers on the thread pool at once and
// handed to the consumer in key order. A single reader is the critical path
// of a full snapshot (the writer's own work leaves the event loop mostly
// idle), and one RocksDB iterator cannot be read by two threads, so the
// key-group range is cut into stripes: each reader (its own iterator) takes
// the next unclaimed stripe, reads it chunk by chunk up to the stripe's end,
// and holds at most a few chunks the consumer has not taken yet, so memory
// stays bounded however far ahead a reader is.
import type { KeyGroupRange } from '../../keygroups.js'

/**
 * Reader `reader`'s next chunk, ending before key group `untilKeyGroup`:
 * from the start of `fromKeyGroup` when given, else where its last read
 * stopped. null when nothing is left before `untilKeyGroup`.
 */
export type StripeSource = (reader: number, fromKeyGroup: number | undefined, untilKeyGroup: number) => Promise<Uint8Array | null>

export interface StripedReadOptions {
  readers: number
  /** Chunks one reader may hold that the consumer has not taken, the one in flight included. */
  chunksPerReader: number
  /** About how many bytes one stripe should hold. */
  stripeBytes: number
}

interface Stripe {
  readonly reader: number
  /** Key groups [first, end). */
  readonly first: number
  readonly end: number
  readonly chunks: Uint8Array[]
  bytes: number
  done: boolean
}

interface Reader {
  stripe: Stripe | undefined
  /** Chunks read or in flight that the consumer has not taken. */
  held: number
  inFlight: Promise<void> | undefined
  /** Where the reader's last stripe ended (its iterator stands at that key group's start until it reads again), -1 before any. */
  lastEnd: number
  /** Where the next read starts: the key group to seek to, or undefined to go on where the last read stopped. */
  seekTo: number | undefined
}

export class StripedReadAhead implements AsyncIterator<Uint8Array> {
  /** Claimed stripes not yet consumed, in key order. */
  private readonly stripes: Stripe[] = []
  private readonly readers: Reader[] = []
  private nextKeyGroup: number
  /** Stripes read to their end: what the next stripe's width is estimated from. */
  private bytesRead = 0
  private keyGroupsRead = 0
  private stopped = false
  private failure: { error: unknown } | undefined
  private wake: (() => void) | undefined

  constructor(
    private readonly range: KeyGroupRange,
    private readonly options: StripedReadOptions,
    private readonly source: StripeSource,
  ) {
    this.nextKeyGroup = range.start
    for (let r = 0; r < options.readers; r++) this.readers.push({ stripe: undefined, held: 0, inFlight: undefined, lastEnd: -1, seekTo: undefined })
    for (let r = 0; r < options.readers; r++) this.pump(r)
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const head = this.stripes[0]
      if (head !== undefined) {
        const chunk = head.chunks.shift()
        if (chunk !== undefined) {
          this.readers[head.reader]!.held--
          this.pump(head.reader)
          return { done: false, value: chunk }
        }
        if (head.done) {
          this.stripes.shift()
          continue
        }
      }
      if (this.failure) throw this.failure.error
      if (this.stopped || (head === undefined && this.nextKeyGroup > this.range.end)) return { done: true, value: undefined }
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  /** Stops reading; resolves once no read is in flight (their iterators may then be closed). */
  async return(): Promise<IteratorResult<Uint8Array>> {
    this.stopped = true
    this.stripes.length = 0
    await Promise.all(this.readers.map((r) => r.inFlight))
    this.notify()
    return { done: true, value: undefined }
  }

  private pump(r: number): void {
    const reader = this.readers[r]!
    if (reader.inFlight || this.stopped || this.failure || reader.held >= this.options.chunksPerReader) return
    const stripe = reader.stripe ?? this.claim(r)
    if (stripe === undefined) return
    const from = reader.seekTo
    reader.seekTo = undefined
    let read: Promise<Uint8Array | null>
    try {
      read = this.source(r, from, stripe.end)
    } catch (e) {
      this.fail(e)
      return
    }
    reader.held++
    reader.inFlight = read.then(
      (chunk) => {
        reader.inFlight = undefined
        if (chunk === null || this.stopped) {
          reader.held--
          if (chunk === null) this.finish(reader, stripe)
        } else {
          stripe.chunks.push(chunk)
          stripe.bytes += chunk.length
        }
        this.notify()
        this.pump(r)
      },
      (e: unknown) => {
        reader.inFlight = undefined
        reader.held--
        this.fail(e)
      },
    )
  }

  /** The next stripe for reader `r`, as wide as the key groups read so far suggest; undefined when none is left. */
  private claim(r: number): Stripe | undefined {
    const remaining = this.range.end + 1 - this.nextKeyGroup
    if (remaining <= 0) return undefined
    let width = 1
    if (this.keyGroupsRead > 0) {
      const perKeyGroup = Math.max(1, this.bytesRead / this.keyGroupsRead)
      width = Math.max(1, Math.floor(this.options.stripeBytes / perKeyGroup))
    }
    // The last stripes are shared out evenly, so no reader is left with a long tail alone.
    width = Math.min(width, Math.ceil(remaining / this.options.readers))
    const stripe: Stripe = { reader: r, first: this.nextKeyGroup, end: this.nextKeyGroup + width, chunks: [], bytes: 0, done: false }
    this.nextKeyGroup = stripe.end
    this.stripes.push(stripe)
    const reader = this.readers[r]!
    reader.stripe = stripe
    // A stripe right after the reader's last one goes on without a seek.
    reader.seekTo = reader.lastEnd === stripe.first ? undefined : stripe.first
    return stripe
  }

  private finish(reader: Reader, stripe: Stripe): void {
    stripe.done = true
    reader.stripe = undefined
    reader.lastEnd = stripe.end
    this.bytesRead += stripe.bytes
    this.keyGroupsRead += stripe.end - stripe.first
  }

  private fail(error: unknown): void {
    this.failure ??= { error }
    this.notify()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
