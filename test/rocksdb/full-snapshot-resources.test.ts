// The RocksDB full-snapshot resources read through iterators opened at the
// barrier (no db.snapshot()): their view must survive later writes, flushes
// and compactions, and reads of one state that interleave must each see
// their own entries.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChunkCursor } from '../../src/backends/rocksdb/packed-chunks.js'
import { parseCompositeKey } from '../../src/encoding.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import { openIn, tempDir } from './helpers.js'

const KEYS = 20_000

function entriesOf(chunks: Iterable<Uint8Array>): string[] {
  const out: string[] = []
  const cursor = new ChunkCursor(new Uint8Array(0))
  for (const chunk of chunks) {
    cursor.reset(chunk)
    while (cursor.next()) out.push(`${parseCompositeKey(cursor.key()).keyGroup}:${Buffer.from(cursor.key()).toString('hex')}=${Buffer.from(cursor.value()).toString('hex')}`)
  }
  return out
}

test('resources keep the barrier view across later writes, a flush and a compaction; interleaved reads of one state stay correct', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path, { maxParallelism: 8 })
    const v = new ValueStateDescriptor('v', int32Serializer)
    const m = new MapStateDescriptor('m', stringSerializer, int32Serializer)
    for (let i = 0; i < KEYS; i++) {
      b.setCurrentKey(`k${i}`)
      b.getState(v).update(i)
      if (i % 2 === 0) b.getMapState(m).put(`x${i % 7}`, i)
    }
    const resources = b.captureFullSnapshotResources()
    const whole = entriesOf(resources.stateChunks!(0))
    assert.equal(whole.length, KEYS)
    // More entries than one snapshot chunk holds (8192), so reads take several steps.
    // Per key group reads return the same entries, in the same order.
    const perKeyGroup: string[] = []
    for (let kg = 0; kg < 8; kg++) {
      const list = entriesOf(resources.keyGroupChunks(0, kg))
      assert.ok(list.every((e) => e.startsWith(`${kg}:`)))
      perKeyGroup.push(...list)
    }
    assert.deepEqual(perKeyGroup, whole)

    // After the barrier: overwrite and delete everything, flush and compact.
    for (let i = 0; i < KEYS; i++) {
      b.setCurrentKey(`k${i}`)
      if (i % 2 === 0) b.getState(v).clear()
      else b.getState(v).update(-i)
    }
    b.db.flush()
    b.db.compactRange(b.columnFamilyId('v'))

    // Two reads of state 0 and one of state 1, advanced in turns, each with small steps.
    const a = resources.stateChunks!(0)[Symbol.iterator]()
    const c = resources.keyGroupChunks(0, 3)[Symbol.iterator]()
    const mapRead = resources.stateChunks!(1)[Symbol.iterator]()
    const fromA: Uint8Array[] = []
    const fromC: Uint8Array[] = []
    const fromMap: Uint8Array[] = []
    for (let done = 0; done < 3; ) {
      done = 0
      for (const [it, into] of [[a, fromA], [c, fromC], [mapRead, fromMap]] as const) {
        const r = it.next()
        if (r.done) done++
        else into.push(r.value)
      }
    }
    assert.deepEqual(entriesOf(fromA), whole)
    assert.deepEqual(entriesOf(fromC), whole.filter((e) => e.startsWith('3:')))
    assert.equal(entriesOf(fromMap).length, KEYS / 2)
    assert.ok(fromA.length > 1)
    resources.release()
    await b.close()
  } finally {
    await dir.remove()
  }
})
