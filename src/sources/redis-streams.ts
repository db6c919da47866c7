// Redis Streams as a runtime source, and a producer for it.
//
// Mapping: one stream per key group, `<prefix>:<keyGroup>` (default prefix
// 'events'), each entry one event in field `d`. The position of key group k
// is the id of the last entry of k's stream that is in the state ('0-0' when
// none). A worker reads its key groups' streams with XREAD from those ids:
// no consumer group, because a group hands any entry to any consumer while
// the runtime needs each key group read by the worker that owns its state,
// from the position committed with that state.
//
// The client (ioredis) loads only when a Redis source or producer is opened.
import { KeyedStateError } from '../errors.js'
import { misroutedError, type Source, type SourceOpenOptions, type SourcePosition, type SourceReader, type SourceRecord } from '../runtime/source.js'
import { jsonEventCodec, keyGroupRouter, type EventCodec, type KeyRouting } from './codec.js'
import type { Redis } from 'ioredis'

export interface RedisStreamOptions<E> {
  /** e.g. 'redis://127.0.0.1:6379' */
  url: string
  /** Streams are `<prefix>:<keyGroup>` (default 'events'). */
  prefix?: string
  codec?: EventCodec<E>
}

const ENTRY_ID = /^\d+-\d+$/
/** How long an XREAD waits for entries before the poll answers [] (caught up). */
const BLOCK_MS = 20

async function connect(url: string): Promise<Redis> {
  const { Redis } = await import('ioredis')
  // Fail fast instead of queueing commands forever while the server is away: the job restarts.
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, enableOfflineQueue: false })
  await client.connect()
  return client
}

function check<E>(o: RedisStreamOptions<E>): { url: string; prefix: string; codec: EventCodec<E> } {
  if (!o || typeof o.url !== 'string') throw new KeyedStateError('INVALID_ARGUMENT', 'Redis source/producer needs url, e.g. redis://127.0.0.1:6379')
  return { url: o.url, prefix: o.prefix ?? 'events', codec: o.codec ?? (jsonEventCodec as EventCodec<E>) }
}

export function redisStreamsSource<E>(options: RedisStreamOptions<E>): Source<E> {
  const r = check(options)
  return {
    description: `Redis streams ${r.prefix}:<key group> at ${r.url}`,
    open: async (o) => RedisReader.open(r, o),
  }
}

function entryIdOf(p: SourcePosition | undefined, keyGroup: number): string {
  if (p === undefined) return '0-0'
  if (typeof p !== 'string' || !ENTRY_ID.test(p)) {
    throw new KeyedStateError('CORRUPTION', `Redis source: position of key group ${keyGroup} is ${JSON.stringify(p)}, not a stream entry id`, { keyGroup })
  }
  return p
}

type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null

class RedisReader<E> implements SourceReader<E> {
  readonly finished = false
  /** Per key group of the range: the last entry id fetched (XREAD continues there). */
  private readonly fetched: string[]
  /** Per key group of the range: the last entry id returned by poll (the position). */
  private readonly returned: string[]
  private readonly buffer: { index: number; id: string; data: Buffer }[] = []
  private readonly keys: string[]

  private constructor(
    private readonly r: { url: string; prefix: string; codec: EventCodec<E> },
    private readonly open: SourceOpenOptions<E>,
    private readonly client: Redis,
  ) {
    const { start, end } = open.keyGroupRange
    this.keys = []
    this.fetched = []
    for (let kg = start; kg <= end; kg++) {
      this.keys.push(`${r.prefix}:${kg}`)
      this.fetched.push(entryIdOf(open.positions.get(kg), kg))
    }
    this.returned = [...this.fetched]
  }

  static async open<E>(r: { url: string; prefix: string; codec: EventCodec<E> }, o: SourceOpenOptions<E>): Promise<RedisReader<E>> {
    return new RedisReader(r, o, await connect(r.url))
  }

  async poll(maxRecords: number): Promise<SourceRecord<E>[]> {
    if (this.buffer.length === 0) {
      const reply = (await this.client.xreadBuffer('COUNT', maxRecords, 'BLOCK', BLOCK_MS, 'STREAMS', ...this.keys, ...this.fetched)) as XReadReply
      if (!reply) return []
      const { start } = this.open.keyGroupRange
      for (const [key, entries] of reply) {
        const kg = Number(key.toString('utf8').slice(this.r.prefix.length + 1))
        const index = kg - start
        for (const [id, fields] of entries) {
          const idText = id.toString('utf8')
          const at = fields.findIndex((f, i) => i % 2 === 0 && f.toString('utf8') === 'd')
          if (at < 0) throw new KeyedStateError('CORRUPTION', `Redis stream ${key.toString('utf8')} entry ${idText} has no field 'd'`, { keyGroup: kg })
          this.buffer.push({ index, id: idText, data: fields[at + 1]! })
          this.fetched[index] = idText
        }
      }
    }
    const out: SourceRecord<E>[] = []
    const { start } = this.open.keyGroupRange
    for (const entry of this.buffer.splice(0, maxRecords)) {
      const kg = start + entry.index
      const event = this.r.codec.decode(entry.data)
      const actual = this.open.keyGroupOf(event)
      if (actual !== kg) throw misroutedError(`Redis stream ${this.keys[entry.index]} entry ${entry.id}`, kg, actual)
      out.push({ keyGroup: kg, event })
      this.returned[entry.index] = entry.id
    }
    return out
  }

  positions(): Map<number, SourcePosition> {
    const { start } = this.open.keyGroupRange
    return new Map(this.returned.map((id, i) => [start + i, id]))
  }

  async close(): Promise<void> {
    this.client.disconnect()
  }
}

export interface RedisProducer<E> {
  /** Appends `event` to its key group's stream; resolves with the entry id. */
  send(event: E): Promise<string>
  close(): Promise<void>
}

export async function redisStreamsProducer<E, K>(options: RedisStreamOptions<E> & KeyRouting<E, K>): Promise<RedisProducer<E>> {
  const r = check(options)
  const route = keyGroupRouter(options)
  const client = await connect(r.url)
  return {
    send: async (event) => (await client.xadd(`${r.prefix}:${route(event)}`, '*', 'd', Buffer.from(r.codec.encode(event))))!,
    close: async () => {
      await client.quit().catch(() => client.disconnect())
    },
  }
}
