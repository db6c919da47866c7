// Reads FullSnapshotResources back into plain records, checking the canonical
// layout on the way: composite keys of the right key group, ascending within a
// (state, key group), well-framed chunks.
import assert from 'node:assert/strict'
import { decodeListElements, parseCompositeKey } from '../../src/encoding.js'
import type { FullSnapshotResources } from '../../src/snapshot/types.js'
import { int32Serializer, stringSerializer } from '../../src/index.js'
import { forEachPacked } from '../../src/snapshot/format/packed.js'
import { KINDS, NAMESPACES, stateName, type Kind, type Model } from '../model/model.js'

/** record key `${state}|${namespace}|${key}|${userKey}` -> decoded value */
export type Dump = Map<string, unknown>

export function recordKey(state: string, ns: string, key: string, userKey = ''): string {
  return `${state}|${ns}|${key}|${userKey}`
}

function kindOfState(name: string): Kind {
  return name.replace(/-ns$/, '') as Kind
}

/** Raw entries of every (state, key group), in the order the resources give them. */
export function rawEntries(resources: FullSnapshotResources): { state: string; keyGroup: number; key: Uint8Array; value: Uint8Array }[] {
  const out: { state: string; keyGroup: number; key: Uint8Array; value: Uint8Array }[] = []
  const { start, end } = resources.keyGroupRange
  resources.metaInfos.forEach((meta, index) => {
    for (let kg = start; kg <= end; kg++) {
      let previous: Uint8Array | undefined
      for (const chunk of resources.keyGroupChunks(index, kg)) {
        forEachPacked(chunk, (key, value) => {
          assert.equal((key[0]! << 8) | key[1]!, kg, `entry of state ${meta.name} listed under key group ${kg}`)
          if (previous !== undefined) assert.ok(Buffer.compare(previous, key) < 0, `keys ascend within ${meta.name}/${kg}`)
          previous = key
          out.push({ state: meta.name, keyGroup: kg, key: key.slice(), value: value.slice() })
        }, 'test')
      }
    }
  })
  return out
}

/** Decodes the model test's states (see model.ts) from snapshot resources. */
export function dumpResources(resources: FullSnapshotResources): Dump {
  const dump: Dump = new Map()
  for (const { state, key, value } of rawEntries(resources)) {
    const parts = parseCompositeKey(key)
    const ns = parts.namespace.length === 0 ? '' : stringSerializer.deserialize(parts.namespace)
    const k = stringSerializer.deserialize(parts.key)
    switch (kindOfState(state)) {
      case 'value':
      case 'reducing':
        dump.set(recordKey(state, ns, k), int32Serializer.deserialize(value))
        break
      case 'list':
        dump.set(recordKey(state, ns, k), decodeListElements(value).map((e) => stringSerializer.deserialize(e)))
        break
      case 'map':
        dump.set(recordKey(state, ns, k, stringSerializer.deserialize(parts.userKey)), int32Serializer.deserialize(value))
        break
      case 'aggregating': {
        // tuple(int32, int32): (varint len | bytes) x 2
        assert.equal(value.length, 10)
        dump.set(recordKey(state, ns, k), [int32Serializer.deserialize(value.subarray(1, 5)), int32Serializer.deserialize(value.subarray(6, 10))])
        break
      }
    }
  }
  return dump
}

/** The same records from the in-memory model. */
export function dumpModel(model: Model, keys: readonly string[]): Dump {
  const dump: Dump = new Map()
  for (const kind of KINDS) {
    for (const n of NAMESPACES) {
      for (const key of keys) {
        const view = model.view(kind, n, key)
        const name = stateName(kind, n)
        const ns = n ?? ''
        if (view === undefined || (Array.isArray(view) && view.length === 0)) continue
        if (kind === 'map') {
          for (const [uk, v] of view as [string, number][]) dump.set(recordKey(name, ns, key, uk), v)
        } else if (kind === 'aggregating') {
          const [sum, count] = (view as string).split('/').map(Number)
          dump.set(recordKey(name, ns, key), [sum, count])
        } else {
          dump.set(recordKey(name, ns, key), view)
        }
      }
    }
  }
  return dump
}

export function assertSameDump(actual: Dump, expected: Dump, message?: string): void {
  const sortedEntries = (d: Dump) => [...d].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  assert.deepEqual(sortedEntries(actual), sortedEntries(expected), message)
}
