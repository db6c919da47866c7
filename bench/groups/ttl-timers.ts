// Group 6: state TTL and timers (issue 7). The read overhead of TTL on
// ValueState, and timer register + fire throughput, on both backends.
import { stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { StateTtlConfig } from '../../src/state/ttl.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { openBackend, type Backend, type Kind } from '../lib/keyed.js'
import { attempt, isUnavailable, NOT_BUILT, Unavailable } from '../lib/pieces.js'
import { accessWorkload, blackhole, cursor, type AccessWorkload } from '../lib/subjects/types.js'
import { table } from '../lib/table.js'
import { interleavedMedians, type ThroughputTask } from '../lib/timing.js'
import { timerThroughput } from '../lib/timers.js'

const KINDS: Kind[] = ['rocksdb', 'heap']
const TIMER_VARIANTS: ReadonlyArray<[Kind, 'heap' | 'rocksdb']> = [
  ['rocksdb', 'rocksdb'],
  ['rocksdb', 'heap'],
  ['heap', 'heap'],
]
const OPS_PER_CALL = 1000

function ttlDescriptor(name: string, ttl: StateTtlConfig | undefined): ValueStateDescriptor<string> {
  const d = new ValueStateDescriptor(name, stringSerializer)
  return ttl ? d.enableTimeToLive(ttl) : d
}

/**
 * Whether the backend really applies TTL (a backend that accepts the config
 * but ignores it would make the overhead look like zero).
 */
async function ttlIsApplied(ctx: RunContext, kind: Kind): Promise<void> {
  let now = 1_000_000
  const opened = await openBackend(ctx.tmp, kind, `ttl-probe-${kind}`)
  try {
    const state = opened.backend.getState(ttlDescriptor('probe', { ttlMs: 10, visibility: 'neverReturnExpired', clock: { now: () => now } }))
    opened.backend.setCurrentKey('k')
    state.update('v')
    now += 1000
    if (state.value() !== undefined) throw new Unavailable(NOT_BUILT)
  } finally {
    await opened.dispose()
  }
}

interface TtlMeasures {
  plainReads: number
  ttlReads: number
  plainWrites: number
  ttlWrites: number
}

async function measureTtl(ctx: RunContext, kind: Kind, w: AccessWorkload): Promise<TtlMeasures> {
  await ttlIsApplied(ctx, kind)
  // One backend each: two states in one RocksDB read at different speeds depending on which column
  // family was created and filled first, which would show up as a TTL "overhead" of either sign.
  const plainBackend = await openBackend(ctx.tmp, kind, `ttl-${kind}-plain`)
  const ttlBackend = await openBackend(ctx.tmp, kind, `ttl-${kind}-ttl`)
  try {
    const plain = plainBackend.backend.getState(ttlDescriptor('value', undefined))
    // An hour: nothing expires during the run, so both states read the same values.
    const withTtl = ttlBackend.backend.getState(ttlDescriptor('value', { ttlMs: 3_600_000, updateType: 'onCreateAndWrite', visibility: 'neverReturnExpired' }))
    for (const [b, state] of [[plainBackend.backend, plain], [ttlBackend.backend, withTtl]] as const) {
      for (let i = 0; i < w.keys.length; i++) {
        b.setCurrentKey(w.keys[i]!)
        state.update(w.values[i]!)
      }
    }
    const opts = { timeMs: ctx.config.benchTimeMs, warmupMs: ctx.config.benchWarmupMs }
    const reads = (b: Backend, state: typeof plain) => {
      const next = cursor(w.order)
      return () => {
        for (let j = 0; j < OPS_PER_CALL; j++) {
          b.setCurrentKey(w.keys[next()]!)
          blackhole.value = state.value()
        }
      }
    }
    const writes = (b: Backend, state: typeof plain) => {
      const next = cursor(w.order)
      return () => {
        for (let j = 0; j < OPS_PER_CALL; j++) {
          const i = next()
          b.setCurrentKey(w.keys[i]!)
          state.update(w.values[i]!)
        }
      }
    }
    const medians = async (tasks: ThroughputTask[]) =>
      (await interleavedMedians(tasks, ctx.config.rounds, opts)).map((r) => {
        if (typeof r !== 'number') throw r.error
        return r
      })
    // Reads first: writes grow the memtable, and the slower writer would leave its state faster to read.
    const [plainReads, ttlReads] = await medians([
      { name: `${kind} value()`, fn: reads(plainBackend.backend, plain), opsPerCall: OPS_PER_CALL },
      { name: `${kind} ttl value()`, fn: reads(ttlBackend.backend, withTtl), opsPerCall: OPS_PER_CALL },
    ])
    const [plainWrites, ttlWrites] = await medians([
      { name: `${kind} update()`, fn: writes(plainBackend.backend, plain), opsPerCall: OPS_PER_CALL },
      { name: `${kind} ttl update()`, fn: writes(ttlBackend.backend, withTtl), opsPerCall: OPS_PER_CALL },
    ])
    return { plainReads: plainReads!, ttlReads: ttlReads!, plainWrites: plainWrites!, ttlWrites: ttlWrites! }
  } finally {
    await plainBackend.dispose()
    await ttlBackend.dispose()
  }
}

export const ttlTimersGroup: BenchGroup = {
  id: 'ttl-timers',
  title: 'TTL and timers',
  description:
    'TTL: ValueState value() and update() with a one-hour TTL (nothing expires during the run) against the same state without TTL, ' +
    'per record with setCurrentKey, each state in a backend of its own, in interleaved rounds (median). Timers: registering event-time timers on distinct keys, then advancing the watermark past ' +
    'them so every timer fires once (register + fire per timer).',
  steps: () => KINDS.length + TIMER_VARIANTS.length,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const w = accessWorkload(ctx.config.accessKeys, ctx.config.accessValueChars)
    const ttl = table('TTL overhead on ValueState', [
      ['backend', 'text'],
      ['value() no TTL', 'ops/s'],
      ['value() TTL', 'ops/s'],
      ['TTL / no TTL', 'ratio'],
      ['update() no TTL', 'ops/s'],
      ['update() TTL', 'ops/s'],
      ['TTL / no TTL', 'ratio'],
    ])
    const timers = table('Timers: register + fire', [
      ['backend', 'text'],
      ['timers kept in', 'text'],
      ['timers', 'count'],
      ['register', 'ops/s'],
      ['fire', 'ops/s'],
      ['register + fire', 'ops/s'],
    ])
    for (const kind of KINDS) {
      ctx.progress.step(`ttl ${kind}`)
      const m = await attempt(() => measureTtl(ctx, kind, w), ctx.onError(`ttl ${kind}`))
      if (isUnavailable(m)) ttl.rows.push([kind, m.reason])
      else ttl.rows.push([kind, m.plainReads, m.ttlReads, m.ttlReads / m.plainReads, m.plainWrites, m.ttlWrites, m.ttlWrites / m.plainWrites])

    }
    const count = ctx.config.quick ? 20_000 : 200_000
    for (const [kind, timersKind] of TIMER_VARIANTS) {
      ctx.progress.step(`timers ${kind}/${timersKind}`)
      const t = await attempt(() => timerThroughput(ctx.tmp, kind, timersKind, w.keys, count), ctx.onError(`timers ${kind}/${timersKind}`))
      if (isUnavailable(t)) timers.rows.push([kind, timersKind, t.reason])
      else timers.rows.push([kind, timersKind, count, t.registerPerSec, t.firePerSec, t.bothPerSec])
    }
    timers.notes.push('Median of 3 rounds; each round registers the timers (one setCurrentKey each) and fires them with one watermark.')
    result.tables.push(ttl, timers)
    return result
  },
}
