// The generator source as the runtime reads it: workers each read their key
// groups, checkpoint positions, fail, rescale and read on. Model test: for any
// parallelism and rescale, the events that reached the state (read before a
// checkpoint's positions, then after them) are exactly the single-reader
// stream, each key group's in stream order. With a key space (keys.indexAt), a
// reader generates only its own events, plus one per key index to learn its
// key group.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generatorSource, type GeneratorSourceOptions } from '../../src/sources/generator.js'
import { assignToKeyGroup, keyGroupRangeForOperator, type KeyGroupRange } from '../../src/keygroups.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { SourcePosition, SourceRecord } from '../../src/runtime/source.js'
import { isKeyedStateError } from '../../src/errors.js'

interface Ev {
  offset: number
  key: string
}

/** A stream over `keys` keys; key index of an offset by a cheap mix (skewed: squared). */
function stream(events: number, keys: number, seed: number, withKeys: boolean, calls = { eventAt: 0 }): GeneratorSourceOptions<Ev> {
  const indexAt = (o: number): number => {
    const u = ((Math.imul(o + seed, 0x9e3779b1) >>> 0) % 1000) / 1000
    return Math.floor(u * u * keys)
  }
  return {
    events,
    eventAt: (offset) => {
      calls.eventAt++
      return { offset, key: `k${indexAt(offset)}` }
    },
    ...(withKeys ? { keys: { count: keys, indexAt } } : {}),
  }
}

const keyGroupOf = (maxParallelism: number) => (e: Ev) => assignToKeyGroup(stringSerializer.serialize(e.key), maxParallelism)

async function openReader(options: GeneratorSourceOptions<Ev>, maxParallelism: number, range: KeyGroupRange, positions: Map<number, SourcePosition>) {
  const rangePositions = new Map<number, SourcePosition | undefined>()
  for (let kg = range.start; kg <= range.end; kg++) rangePositions.set(kg, positions.get(kg))
  return generatorSource(options).open({ keyGroupRange: range, maxParallelism, positions: rangePositions, keyGroupOf: keyGroupOf(maxParallelism) })
}

/** Per key group, the offsets of the single-reader stream (one reader owning everything, read to the end). */
async function singleReader(options: GeneratorSourceOptions<Ev>, maxParallelism: number): Promise<Map<number, number[]>> {
  const reader = await openReader(options, maxParallelism, { start: 0, end: maxParallelism - 1 }, new Map())
  const kgOf = keyGroupOf(maxParallelism)
  const out = new Map<number, number[]>()
  while (!reader.finished) {
    for (const r of await reader.poll(7)) push(out, kgOf(r.event), r.event.offset)
  }
  return out
}

function push(m: Map<number, number[]>, kg: number, offset: number): void {
  const list = m.get(kg)
  if (list) list.push(offset)
  else m.set(kg, [offset])
}

const phase = fc.record({
  parallelism: fc.integer({ min: 1, max: 6 }),
  /** Per worker: polls before the checkpoint, and polls after it that a failure then loses. */
  polls: fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 })), { minLength: 6, maxLength: 6 }),
  maxRecords: fc.integer({ min: 1, max: 40 }),
})

test('workers at any parallelism, rescaled and failed at any point, together read exactly the single-reader stream', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 400 }),
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 6, max: 24 }),
      fc.integer(),
      fc.boolean(),
      fc.array(phase, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 6 }),
      async (events, keys, maxParallelism, seed, withKeys, phases, finalParallelism) => {
        const options = stream(events, keys, seed, withKeys)
        const kgOf = keyGroupOf(maxParallelism)
        /** What reached the state: per key group, the offsets in the order the workers processed them. */
        const committed = new Map<number, number[]>()
        let positions = new Map<number, SourcePosition>()
        const record = (r: SourceRecord<Ev>, sink: Map<number, number[]>) => {
          const kg = kgOf(r.event)
          if (r.keyGroup !== -1) assert.equal(r.keyGroup, kg, `offset ${r.event.offset} read as key group ${r.keyGroup}`)
          push(sink, kg, r.event.offset)
        }
        for (const p of [...phases, { parallelism: finalParallelism, polls: [], maxRecords: 16 }]) {
          const parallelism = Math.min(p.parallelism, maxParallelism)
          const final = p === undefined || p.polls.length === 0
          const next = new Map<number, SourcePosition>()
          for (let w = 0; w < parallelism; w++) {
            const range = keyGroupRangeForOperator(maxParallelism, parallelism, w)
            const reader = await openReader(options, maxParallelism, range, positions)
            const [before, lost] = final ? [Infinity, 0] : p.polls[w]!
            for (let i = 0; i < before && !reader.finished; i++) for (const r of await reader.poll(p.maxRecords)) record(r, committed)
            // The checkpoint: state and positions together; what is read after it is lost with the worker.
            for (const [kg, position] of reader.positions()) {
              assert.ok(kg >= range.start && kg <= range.end, `position for key group ${kg} outside ${range.start}-${range.end}`)
              next.set(kg, position)
            }
            for (let i = 0; i < lost; i++) for (const r of await reader.poll(p.maxRecords)) record(r, new Map())
            await reader.close()
          }
          positions = next
        }
        assert.deepEqual(
          [...committed].sort(([a], [b]) => a - b),
          [...(await singleReader(options, maxParallelism))].sort(([a], [b]) => a - b),
        )
      },
    ),
    { numRuns: 150 },
  )
})

test('with a key space, a reader generates only its own events and one per key index', async () => {
  const events = 20_000
  const keys = 500
  const maxParallelism = 128
  for (const parallelism of [2, 4, 16]) {
    const calls = { eventAt: 0 }
    const options = stream(events, keys, 7, true, calls)
    const reader = await openReader(options, maxParallelism, keyGroupRangeForOperator(maxParallelism, parallelism, 1), new Map())
    let own = 0
    while (!reader.finished) own += (await reader.poll(256)).length
    assert.ok(own > 0 && own < events, `parallelism ${parallelism}: read ${own} of ${events}`)
    assert.ok(calls.eventAt <= own + keys, `parallelism ${parallelism}: ${calls.eventAt} events made for ${own} of its own`)
  }
})

test('a key index outside the key space is refused with INVALID_ARGUMENT naming the offset', async () => {
  const options: GeneratorSourceOptions<Ev> = { events: 10, eventAt: (offset) => ({ offset, key: 'k' }), keys: { count: 3, indexAt: (o) => (o === 4 ? 3 : 0) } }
  const reader = await openReader(options, 8, { start: 0, end: 3 }, new Map())
  await assert.rejects(
    async () => {
      while (!reader.finished) await reader.poll(100)
    },
    (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /keys\.indexAt\(4\) is 3, not a key index 0 \.\. 2/.test(e.message),
  )
  assert.throws(() => generatorSource({ events: 1, eventAt: () => 0, keys: { count: 0, indexAt: () => 0 } }), (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
})
