// Model-based test of timer services on every implementation: random
// register / delete / advance (and savepoint + restore) on a backend and on a
// plain sorted model; every advance must fire exactly the model's due timers,
// in the model's order, with the right key and namespace.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import fc from 'fast-check'
import { int32Serializer, openKeyedStateBackend, stringSerializer, type KeyedStateBackend } from '../../src/index.js'
import { assignToKeyGroup, type KeyGroupRange } from '../../src/keygroups.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { compareTimers, encodeTimer } from '../../src/timers/entry.js'
import type { TimeDomain, TimerService } from '../../src/timers/types.js'

const RUNS = process.env.SOAK === '1' ? 200 : 15
const MAX_PARALLELISM = 4
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f']

type Op =
  | { op: 'register' | 'delete'; domain: TimeDomain; key: string; ns: number; ts: number }
  | { op: 'advance'; domain: TimeDomain; to: number }
  | { op: 'restore' }

const domainArb = fc.constantFrom<TimeDomain>('event', 'processing')
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('register' as const), domain: domainArb, key: fc.constantFrom(...KEYS), ns: fc.integer({ min: 0, max: 2 }), ts: fc.integer({ min: -20, max: 120 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), domain: domainArb, key: fc.constantFrom(...KEYS), ns: fc.integer({ min: 0, max: 2 }), ts: fc.integer({ min: -20, max: 120 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), domain: domainArb, to: fc.integer({ min: -30, max: 130 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restore' as const }) },
)

interface ModelTimer {
  key: string
  ns: number
  ts: number
  domain: TimeDomain
}

const keyGroup = (key: string): number => assignToKeyGroup(stringSerializer.serialize(key), MAX_PARALLELISM)
const entryOf = (t: ModelTimer) => encodeTimer(keyGroup(t.key), t.ts, stringSerializer.serialize(t.key), int32Serializer.serialize(t.ns))
const idOf = (t: ModelTimer): string => `${t.domain}|${entryOf(t).id}`

class Model {
  readonly timers = new Map<string, ModelTimer>()
  readonly time: Record<TimeDomain, number> = { event: -Infinity, processing: -Infinity }
  advance(domain: TimeDomain, to: number): ModelTimer[] {
    this.time[domain] = Math.max(this.time[domain], to)
    const due = [...this.timers.values()].filter((t) => t.domain === domain && t.ts <= this.time[domain])
    due.sort((a, b) => compareTimers(entryOf(a), entryOf(b)))
    for (const t of due) this.timers.delete(idOf(t))
    return due
  }
}

interface Config {
  name: string
  kind: 'heap' | 'rocksdb'
  timers: 'heap' | 'rocksdb'
}

const CONFIGS: Config[] = [
  { name: 'heap backend', kind: 'heap', timers: 'heap' },
  { name: 'RocksDB backend, RocksDB timers', kind: 'rocksdb', timers: 'rocksdb' },
  { name: 'RocksDB backend, heap timers', kind: 'rocksdb', timers: 'heap' },
]

const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

for (const config of CONFIGS) {
  test(`timers match a sorted model: ${config.name}`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'ks-timer-model-'))
    dirs.push(root)
    const storage = new FileSystemCheckpointStorage(join(root, 'storage'))
    let instance = 0
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
        const fired: ModelTimer[] = []
        const open = async (restoreFrom?: unknown[], knownEmptyRanges?: KeyGroupRange[]): Promise<{ b: KeyedStateBackend<string>; s: TimerService<string, number> }> => {
          const b = await openKeyedStateBackend<string>({
            kind: config.kind,
            keySerializer: stringSerializer,
            maxParallelism: MAX_PARALLELISM,
            ...(config.kind === 'rocksdb' ? { dir: join(root, `db-${instance++}`), timers: config.timers, checkpointMode: 'full' as const } : {}),
            ...(restoreFrom ? { storage, restoreFrom: restoreFrom as never, knownEmptyRanges } : {}),
          })
          const s = b.timerService('model', {
            namespaceSerializer: int32Serializer,
            onTimer: (t) => {
              assert.equal(b.getCurrentKey(), t.key)
              fired.push({ key: t.key, ns: t.namespace, ts: t.timestamp, domain: t.domain })
            },
          })
          return { b, s }
        }
        const model = new Model()
        let { b, s } = await open()
        let checkpointId = 1
        try {
          for (const o of ops) {
            switch (o.op) {
              case 'register':
              case 'delete': {
                b.setCurrentKey(o.key)
                const t: ModelTimer = { key: o.key, ns: o.ns, ts: o.ts, domain: o.domain }
                if (o.op === 'register') {
                  if (o.domain === 'event') s.registerEventTimeTimer(o.ts, o.ns)
                  else s.registerProcessingTimeTimer(o.ts, o.ns)
                  model.timers.set(idOf(t), t)
                } else {
                  if (o.domain === 'event') s.deleteEventTimeTimer(o.ts, o.ns)
                  else s.deleteProcessingTimeTimer(o.ts, o.ns)
                  model.timers.delete(idOf(t))
                }
                break
              }
              case 'advance': {
                fired.length = 0
                const n = o.domain === 'event' ? s.advanceWatermark(o.to) : s.advanceProcessingTime(o.to)
                const expected = model.advance(o.domain, o.to)
                assert.deepEqual(fired, expected)
                assert.equal(n, expected.length)
                break
              }
              case 'restore': {
                // Time is not part of a snapshot: a restored service starts at -Infinity.
                const { handle } = await b.snapshot(checkpointId++, { type: 'savepoint', storage }).done
                await b.close()
                // A backend without timers writes no handle: its whole range is known to be empty.
                ;({ b, s } = await (handle ? open([handle]) : open([], [{ start: 0, end: MAX_PARALLELISM - 1 }])))
                model.time.event = -Infinity
                model.time.processing = -Infinity
                break
              }
            }
          }
          for (const domain of ['event', 'processing'] as const) {
            const next = [...model.timers.values()].filter((t) => t.domain === domain).sort((x, y) => compareTimers(entryOf(x), entryOf(y)))[0]
            assert.equal(s.nextTimerTimestamp(domain), next?.ts)
          }
        } finally {
          await b.close()
        }
      }),
      { numRuns: RUNS },
    )
  })
}
