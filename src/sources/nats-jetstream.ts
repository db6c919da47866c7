// NATS JetStream as a runtime source, and a producer for it.
//
// Mapping: one stream (default name 'events'), one subject per key group,
// `<subjectPrefix>.<keyGroup>` (the stream binds `<subjectPrefix>.*`). The
// position of key group k is the stream sequence from which k's messages are
// not yet in the state. A worker owning a quarter of the key groups or fewer
// reads each of them with its own ordered consumer filtered to that key
// group's subject, from that key group's position, so it never receives
// another worker's messages (nats-server 2.9 has no multi-subject filters,
// hence one consumer per subject). A worker owning more reads the whole stream
// with one consumer from the smallest position of its range and drops the
// rest: there per-key-group consumers save the worker nothing and cost the
// server 4x (perKeyGroupConsumers chooses either way;
// bench/notes/nats-key-groups.md). Key groups are read
// independently, like Kafka partitions: events of different key groups may
// arrive out of stream order. The stream should hold only these subjects: the
// source creates it so when it is missing.
//
// The clients (@nats-io/transport-node, @nats-io/jetstream) load only when a
// NATS source or producer is opened.
import { KeyedStateError } from '../errors.js'
import { rangeContains } from '../keygroups.js'
import { misroutedError, type Source, type SourceOpenOptions, type SourcePosition, type SourceReader, type SourceRecord } from '../runtime/source.js'
import { jsonEventCodec, keyGroupRouter, type EventCodec, type KeyRouting } from './codec.js'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, OrderedConsumerOptions } from '@nats-io/jetstream'

export interface NatsStreamOptions<E> {
  /** e.g. 'nats://127.0.0.1:4222' */
  servers: string | string[]
  /** JetStream stream name (default 'events'). */
  stream?: string
  /** Subjects are `<subjectPrefix>.<keyGroup>` (default: the stream name). */
  subjectPrefix?: string
  codec?: EventCodec<E>
}

export interface NatsSourceOptions<E> extends NatsStreamOptions<E> {
  /**
   * true: a worker reads each of its key groups with a consumer filtered to that key group's subject, so it
   * receives no other worker's message; false: one consumer over the whole stream, dropping other key
   * groups' messages. Default: per key group when a worker owns at most a quarter of the key groups
   * (parallelism ≥ 4), where that halves the worker's reading CPU or better; above, it saves the worker
   * nothing and nats-server 2.9, which scans the stream once per filtered consumer, spends 4x.
   */
  perKeyGroupConsumers?: boolean
}

interface Resolved<E> {
  servers: string | string[]
  stream: string
  perKeyGroupConsumers?: boolean
  prefix: string
  codec: EventCodec<E>
}

function resolve<E>(o: NatsStreamOptions<E>): Resolved<E> {
  if (!o?.servers) throw new KeyedStateError('INVALID_ARGUMENT', 'NATS source/producer needs servers, e.g. nats://127.0.0.1:4222')
  const stream = o.stream ?? 'events'
  return { servers: o.servers, stream, prefix: o.subjectPrefix ?? stream, codec: o.codec ?? (jsonEventCodec as EventCodec<E>) }
}

async function connectJetStream(r: Resolved<unknown>): Promise<{ nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager }> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: r.servers })
  try {
    // Created when missing, so that a producer and a job can start in any order.
    const jsm = await jetstreamManager(nc)
    await jsm.streams.info(r.stream).catch(async () => {
      await jsm.streams.add({ name: r.stream, subjects: [`${r.prefix}.*`] })
    })
    return { nc, js: jetstream(nc), jsm }
  } catch (e) {
    await nc.close()
    throw e
  }
}

function keyGroupOfSubject(subject: string, prefix: string): number {
  const kg = Number(subject.slice(prefix.length + 1))
  return Number.isSafeInteger(kg) && subject.startsWith(`${prefix}.`) ? kg : -1
}

function sequenceOf(p: SourcePosition | undefined, keyGroup: number): number {
  if (p === undefined) return 1
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 1) {
    throw new KeyedStateError('CORRUPTION', `NATS source: position of key group ${keyGroup} is ${JSON.stringify(p)}, not a stream sequence`, { keyGroup })
  }
  return p
}

/**
 * By default a worker owning at most 1/PER_KEY_GROUP_SHARE of the key groups reads them with one consumer
 * each. nats-server 2.9 has no multi-subject filter, and each filtered consumer costs the server a scan of
 * the stream. Measured with 128 key groups (bench/notes/nats-key-groups.md): at 64 the reader saves nothing
 * and the server spends 4x; at 32 the reader's CPU halves (the server's grows more); from 16 down both
 * fall. The reader is the worker, whose CPU is the job's throughput; the server usually has its own host.
 */
const PER_KEY_GROUP_SHARE = 4
/** Messages buffered ahead of poll per worker; the consumers pause beyond it. */
const BUFFER_MAX = 4096
/** How long an empty poll waits for messages before answering []. */
const EMPTY_POLL_WAIT_MS = 20
/** A consumer said to have messages pending but silent this long is asked for its state. */
const QUIET_FEED_MS = 1000

export function natsJetStreamSource<E>(options: NatsSourceOptions<E>): Source<E> {
  const r = resolve(options)
  if (options.perKeyGroupConsumers !== undefined) {
    if (typeof options.perKeyGroupConsumers !== 'boolean') {
      throw new KeyedStateError('INVALID_ARGUMENT', `NATS source: perKeyGroupConsumers must be true or false, got ${JSON.stringify(options.perKeyGroupConsumers)}`)
    }
    r.perKeyGroupConsumers = options.perKeyGroupConsumers
  }
  return {
    description: `NATS JetStream stream ${r.stream} (subjects ${r.prefix}.<key group>) at ${String(r.servers)}`,
    open: async (o) => NatsReader.open(r, o),
  }
}

/** One ordered consumer of the reader: one key group's subject, or the whole stream. */
interface Feed {
  consumer: Consumer
  messages: ConsumerMessages
  /** Messages of this consumer's filter not yet delivered to us, as of the last message (or the consumer's creation). */
  pending: number
  /** Stream sequence of the last message received (the one before the start when none). */
  lastSeq: number
  /** When it last delivered a message or was asked for its state (performance.now()). */
  heardMs: number
}

class NatsReader<E> implements SourceReader<E> {
  readonly finished = false
  private readonly buffer: JsMsg[] = []
  /** Per key group of the range (indexed from its start): the stream sequence from which it is not yet returned by poll. */
  private readonly next: number[]
  private wake: (() => void) | undefined
  private failure: unknown
  private closed = false

  private constructor(
    private readonly r: Resolved<E>,
    private readonly open: SourceOpenOptions<E>,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly feeds: Feed[],
    resumeAt: number[],
  ) {
    this.next = resumeAt
    for (const feed of feeds) void this.pump(feed)
  }

  static async open<E>(r: Resolved<E>, o: SourceOpenOptions<E>): Promise<NatsReader<E>> {
    const { start, end } = o.keyGroupRange
    const resumeAt: number[] = []
    for (let kg = start; kg <= end; kg++) resumeAt.push(sequenceOf(o.positions.get(kg), kg))
    const { nc, js, jsm } = await connectJetStream(r as Resolved<unknown>)
    const feeds: Feed[] = []
    try {
      const from = (seq: number) => (seq > 1 ? { deliver_policy: 'by_start_sequence' as const, opt_start_seq: seq } : { deliver_policy: 'all' as const })
      const owned = end - start + 1
      if (!(r.perKeyGroupConsumers ?? owned * PER_KEY_GROUP_SHARE <= o.maxParallelism)) {
        // One consumer over the whole stream from the smallest position; take() drops other key groups and
        // what a key group already holds. The stream binds only `<prefix>.*`; other subjects are dropped too.
        feeds.push(await openFeed(js, r.stream, { ...from(Math.min(...resumeAt)) }, BUFFER_MAX))
      } else {
        // One consumer per key group, filtered to its subject, so no other worker's message reaches this one.
        const perFeed = Math.max(64, Math.ceil(BUFFER_MAX / (end - start + 1)))
        const opened = await Promise.allSettled(
          resumeAt.map((seq, i) => openFeed(js, r.stream, { filter_subjects: `${r.prefix}.${start + i}`, ...from(seq) }, perFeed)),
        )
        for (const f of opened) if (f.status === 'fulfilled') feeds.push(f.value)
        const failed = opened.find((f) => f.status === 'rejected')
        if (failed) throw failed.reason
      }
      return new NatsReader(r, o, nc, jsm, feeds, resumeAt)
    } catch (e) {
      await closeFeeds(jsm, r.stream, feeds)
      await nc.close()
      throw e
    }
  }

  /** Moves one consumer's messages into the buffer, pausing while the buffer is full. */
  private async pump(feed: Feed): Promise<void> {
    try {
      for await (const m of feed.messages) {
        feed.pending = m.info.pending
        feed.lastSeq = m.seq
        feed.heardMs = performance.now()
        this.buffer.push(m)
        this.wake?.()
        while (this.buffer.length >= BUFFER_MAX && !this.closed) await new Promise((resolve) => setTimeout(resolve, 5))
      }
    } catch (e) {
      this.failure ??= e
      this.wake?.()
    }
  }

  async poll(maxRecords: number): Promise<SourceRecord<E>[]> {
    // An empty answer means caught up (the worker's caught-up requests rely on it): every consumer's last
    // message (or its creation) said nothing more was pending, and nothing is buffered.
    for (;;) {
      if (this.failure) throw this.failure
      if (this.buffer.length > 0) {
        const out = this.take(maxRecords)
        if (out.length > 0) return out
        continue
      }
      if (this.closed) return []
      const caughtUp = this.feeds.every((f) => f.pending === 0)
      await this.waitForMessage(EMPTY_POLL_WAIT_MS)
      if (this.buffer.length > 0) continue
      if (caughtUp) return []
      await this.askQuietFeeds()
    }
  }

  /**
   * Messages the consumers have not delivered yet, plus those delivered and not yet polled. Asks the
   * server (a message's pending count is stale once the consumer is quiet); with one whole-stream
   * consumer it counts other key groups' messages too.
   */
  async lag(): Promise<number> {
    const infos = await Promise.all(this.feeds.map((f) => f.consumer.info()))
    return infos.reduce((n, info) => n + info.num_pending, this.buffer.length)
  }

  /**
   * A consumer whose last word was "more pending" but that has delivered nothing for a while is asked
   * again: the messages may have left the stream (limits, a purge) and will never come. It is caught up
   * when nothing is pending and nothing it delivered is still on its way to us.
   */
  private async askQuietFeeds(): Promise<void> {
    const now = performance.now()
    const quiet = this.feeds.filter((f) => f.pending > 0 && now - f.heardMs >= QUIET_FEED_MS)
    await Promise.all(
      quiet.map(async (f) => {
        f.heardMs = now
        const info = await f.consumer.info()
        if (info.num_pending === 0 && info.delivered.stream_seq <= f.lastSeq) f.pending = 0
      }),
    )
  }

  private waitForMessage(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done(): void {
        clearTimeout(timer)
        self.wake = undefined
        resolve()
      }
      this.wake = done
    })
  }

  private take(maxRecords: number): SourceRecord<E>[] {
    const { keyGroupRange: range, keyGroupOf } = this.open
    const out: SourceRecord<E>[] = []
    const batch = this.buffer.splice(0, maxRecords)
    for (const m of batch) {
      const kg = keyGroupOfSubject(m.subject, this.r.prefix)
      // A whole-stream consumer also delivers what a key group already holds (below its position).
      if (!rangeContains(range, kg) || m.seq < this.next[kg - range.start]!) continue
      const event = this.r.codec.decode(m.data)
      const actual = keyGroupOf(event)
      if (actual !== kg) throw misroutedError(`NATS stream ${this.r.stream} sequence ${m.seq} (${m.subject})`, kg, actual)
      out.push({ keyGroup: kg, event })
      this.next[kg - range.start] = m.seq + 1
    }
    return out
  }

  positions(): Map<number, SourcePosition> {
    const out = new Map<number, SourcePosition>()
    const { start } = this.open.keyGroupRange
    for (const [i, seq] of this.next.entries()) out.set(start + i, seq)
    return out
  }

  async close(): Promise<void> {
    this.closed = true
    this.wake?.()
    await closeFeeds(this.jsm, this.r.stream, this.feeds)
    await this.nc.close().catch(() => {})
  }
}

/**
 * Stops the consumers and deletes them on the server: an ordered consumer would otherwise stay there for its
 * inactivity threshold (5 minutes), and a worker leaves one per key group at every restart or rescale.
 */
async function closeFeeds(jsm: JetStreamManager, stream: string, feeds: Feed[]): Promise<void> {
  await Promise.all(
    feeds.map(async (f) => {
      await f.messages.close().catch(() => {})
      // The name of the consumer now: an ordered consumer recreates itself (under a new name) after a gap.
      const { name } = await f.consumer.info(true)
      await jsm.consumers.delete(stream, name).catch(() => {})
    }),
  )
}

async function openFeed(js: JetStreamClient, stream: string, options: Partial<OrderedConsumerOptions>, maxMessages: number): Promise<Feed> {
  const consumer = await js.consumers.get(stream, options)
  const { num_pending: pending } = await consumer.info(true)
  const lastSeq = (options.opt_start_seq ?? 1) - 1
  return { consumer, messages: await consumer.consume({ max_messages: maxMessages }), pending, lastSeq, heardMs: performance.now() }
}

export interface NatsProducer<E> {
  /** Publishes `event` to its key group's subject; resolves with its stream sequence once JetStream stored it. */
  send(event: E): Promise<number>
  close(): Promise<void>
}

export async function natsJetStreamProducer<E, K>(options: NatsStreamOptions<E> & KeyRouting<E, K>): Promise<NatsProducer<E>> {
  const r = resolve(options)
  const route = keyGroupRouter(options)
  const { nc, js } = await connectJetStream(r as Resolved<unknown>)
  return {
    send: async (event) => (await js.publish(`${r.prefix}.${route(event)}`, r.codec.encode(event))).seq,
    close: async () => {
      await nc.drain().catch(() => {})
    },
  }
}
