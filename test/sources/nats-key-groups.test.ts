// The NATS JetStream source against a real nats-server (started by the test on
// 127.0.0.1): a worker owning some key groups reads them through one consumer
// per key-group subject, from each key group's own position (a stream
// sequence), and the server delivers it no message of another key group.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { assignToKeyGroup } from '../../src/keygroups.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { SourcePosition, SourceRecord } from '../../src/runtime/source.js'
import { natsJetStreamProducer, natsJetStreamSource } from '../../src/sources/nats-jetstream.js'
import { isInstalled, startNatsServer } from '../../examples/brokers/local-servers.js'
import { eventAt, type CountEvent } from '../../examples/counting-job.js'

const MAX_PARALLELISM = 16
const EVENTS = 1500
const KEYS = 200
const keyGroupOf = (e: CountEvent) => assignToKeyGroup(stringSerializer.serialize(e.key), MAX_PARALLELISM)

function skipWithout(t: TestContext): boolean {
  if (isInstalled('nats-server') || process.env.CI) return false
  t.skip('nats-server is not installed (scripts/setup.mjs installs it as root on Debian)')
  return true
}

/** Read until caught up: poll answers [] only when no message of the range is pending. */
async function readAll(reader: { poll(n: number): Promise<SourceRecord<CountEvent>[]> }): Promise<SourceRecord<CountEvent>[]> {
  const read: SourceRecord<CountEvent>[] = []
  for (;;) {
    const batch = await reader.poll(100)
    if (batch.length === 0) return read
    read.push(...batch)
  }
}

const CASES = [
  // A quarter of the key groups: per key group by default.
  { name: 'a worker owning a quarter of the key groups', range: { start: 4, end: 7 }, perKeyGroupConsumers: undefined },
  { name: 'perKeyGroupConsumers: true, half of the key groups', range: { start: 2, end: 9 }, perKeyGroupConsumers: true },
]

test('a worker receives only its key groups\' messages, each from its own position', async (t) => {
  if (skipWithout(t)) return
  const server = await startNatsServer()
  const nc = await connect({ servers: server.url })
  try {
    const producer = await natsJetStreamProducer<CountEvent, string>({ servers: server.url, stream: 'kg', keyOf: (e) => e.key, keySerializer: stringSerializer, maxParallelism: MAX_PARALLELISM })
    const published: { seq: number; event: CountEvent }[] = []
    for (let o = 0; o < EVENTS; o++) published.push({ seq: await producer.send(eventAt(KEYS, o)), event: eventAt(KEYS, o) })
    await producer.close()
    const jsm = await jetstreamManager(nc)

    for (const c of CASES) {
      const { range } = c
      // Key groups 5 and 7 resume from a checkpointed sequence, the others from the start.
      const positions = new Map<number, SourcePosition | undefined>()
      for (let kg = range.start; kg <= range.end; kg++) positions.set(kg, kg === 5 ? 400 : kg === 7 ? 1200 : undefined)
      const source = natsJetStreamSource<CountEvent>({ servers: server.url, stream: 'kg', ...(c.perKeyGroupConsumers !== undefined ? { perKeyGroupConsumers: c.perKeyGroupConsumers } : {}) })
      const reader = await source.open({ keyGroupRange: range, maxParallelism: MAX_PARALLELISM, positions, keyGroupOf })
      try {
        const read = await readAll(reader)
        const expected = published.filter(({ seq, event }) => {
          const kg = keyGroupOf(event)
          return kg >= range.start && kg <= range.end && seq >= ((positions.get(kg) as number | undefined) ?? 1)
        })
        const byKeyGroup = (rs: { keyGroup: number; offset: number }[]) => rs.sort((a, b) => a.keyGroup - b.keyGroup || a.offset - b.offset)
        // Exactly the key groups' events from their positions, each key group's in stream order.
        assert.deepEqual(
          byKeyGroup(read.map((r) => ({ keyGroup: r.keyGroup, offset: r.event.offset }))),
          byKeyGroup(expected.map(({ event }) => ({ keyGroup: keyGroupOf(event), offset: event.offset }))),
          c.name,
        )
        for (let kg = range.start; kg <= range.end; kg++) {
          const offsets = read.filter((r) => r.keyGroup === kg).map((r) => r.event.offset)
          assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `${c.name}: key group ${kg} in stream order`)
        }
        // The server's side: one consumer per key group of the range, filtered to its subject, and
        // together they delivered exactly the messages read — none of another key group.
        const consumers = await jsm.consumers.list('kg').next()
        const subjects = []
        for (let kg = range.start; kg <= range.end; kg++) subjects.push(`kg.${kg}`)
        assert.deepEqual(consumers.map((x) => x.config.filter_subject).sort(), subjects.sort(), c.name)
        assert.equal(consumers.reduce((n, x) => n + x.delivered.consumer_seq, 0), read.length, `${c.name}: messages delivered`)
        // Positions: after the last message read of each key group.
        const after = reader.positions()
        for (let kg = range.start; kg <= range.end; kg++) {
          const last = expected.filter(({ event }) => keyGroupOf(event) === kg).at(-1)
          assert.equal(after.get(kg), last ? last.seq + 1 : ((positions.get(kg) as number | undefined) ?? 1), `${c.name}: position of key group ${kg}`)
        }
      } finally {
        await reader.close()
      }
      // Ordered consumers are ephemeral: the server forgets them once the reader is closed.
      await until(async () => (await jsm.consumers.list('kg').next()).length === 0)
    }
  } finally {
    await nc.close()
    await server.stop()
  }
})

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await condition()); i++) {
    if (i > 200) throw new Error('the closed reader\'s consumers are still on the server')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
