// A restore must cover the backend's key-group range: restoreFrom given as an
// empty list, or a list of null/undefined, is a restore of nothing and fails
// naming the key groups no handle covers, on both backends. Opening without
// restoreFrom stays a fresh, empty backend.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isKeyedStateError } from '../../src/errors.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { KINDS, openKind, testDirs } from './helpers.js'

const value = new ValueStateDescriptor('v', int32Serializer)

for (const kind of KINDS) {
  test(`${kind}: restoreFrom [], [null] or [undefined] fails naming the uncovered key groups`, async () => {
    const t = await testDirs()
    try {
      const cases: unknown[][] = [[], [null], [undefined], [null, undefined]]
      for (const restoreFrom of cases) {
        await assert.rejects(
          openKind<string>(kind, t, {
            keySerializer: stringSerializer,
            maxParallelism: 16,
            keyGroupRange: { start: 4, end: 11 },
            storage: t.storage,
            restoreFrom: restoreFrom as KeyedStateHandle[],
          }),
          (e: unknown) => isKeyedStateError(e, 'NOT_FOUND') && e.keyGroup === 4 && /key groups 4\.\.11 are not covered/.test(e.message),
          `restoreFrom ${JSON.stringify(restoreFrom)}`,
        )
      }
      // Known-empty ranges (instances that held no state) complete the coverage.
      await assert.rejects(
        openKind<string>(kind, t, {
          keySerializer: stringSerializer, maxParallelism: 16, keyGroupRange: { start: 4, end: 11 }, storage: t.storage,
          restoreFrom: [], knownEmptyRanges: [{ start: 0, end: 7 }],
        }),
        (e: unknown) => isKeyedStateError(e, 'NOT_FOUND') && /key groups 8\.\.11/.test(e.message),
      )
      const known = await openKind<string>(kind, t, {
        keySerializer: stringSerializer, maxParallelism: 16, keyGroupRange: { start: 4, end: 11 }, storage: t.storage,
        restoreFrom: [], knownEmptyRanges: [{ start: 0, end: 15 }],
      })
      assert.deepEqual(known.stateNames(), [])
      await known.close()
      // No restore at all: a fresh, empty backend.
      const fresh = await openKind<string>(kind, t, { keySerializer: stringSerializer, maxParallelism: 16, keyGroupRange: { start: 4, end: 11 } })
      assert.deepEqual(fresh.stateNames(), [])
      await fresh.close()
    } finally {
      await t.remove()
    }
  })

  test(`${kind}: null entries next to a real handle are ignored only if the handle covers the range`, async () => {
    const t = await testDirs()
    try {
      const a = await openKind<string>(kind, t, { keySerializer: stringSerializer, maxParallelism: 16 })
      a.setCurrentKey('k')
      a.getState(value).update(7)
      const handle = (await a.snapshot(1, { type: 'savepoint', storage: t.storage }).done).handle!
      await a.close()
      const b = await openKind<string>(kind, t, { keySerializer: stringSerializer, maxParallelism: 16, storage: t.storage, restoreFrom: [null as never, handle] })
      b.setCurrentKey('k')
      assert.equal(b.getState(value).value(), 7)
      await b.close()
    } finally {
      await t.remove()
    }
  })
}
