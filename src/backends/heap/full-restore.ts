// Restore into the heap backend. The snapshot reader hands over raw entries
// before the user has said which descriptors (and so which serializers) the
// states use, so entries stay as packed chunks until a descriptor is bound;
// then they become objects. Until then keys() and snapshots read the chunks.
import { parseCompositeKey, decodeListElements } from '../../encoding.js'
import { isKeyedStateError, KeyedStateError } from '../../errors.js'
import { rangeContains, type KeyGroupRange } from '../../keygroups.js'
import type { Serializer } from '../../serializers/serializer.js'
import type { HeapStateData, RawEntries, StateCodec } from './state-data.js'
import { latin1, type KeyId } from './key-ids.js'
import { forEachPacked, packEntries, type PackedEntry } from '../../snapshot/format/packed.js'
import { StateTable, type Entry } from './state-table.js'

/**
 * Adds a chunk to `raw`. Entries are checked for framing and key group: the
 * reader is trusted to send only key groups of the range, but an entry of a
 * foreign key group must never become visible state.
 */
export function addRawChunk(raw: RawEntries, range: KeyGroupRange, stateName: string, keyGroup: number, chunk: Uint8Array): void {
  if (!rangeContains(range, keyGroup)) return
  const where = `restored state '${stateName}', key group ${keyGroup}`
  let foreign = false
  forEachPacked(chunk, (key) => {
    if (key.length < 2 || ((key[0]! << 8) | key[1]!) !== keyGroup) foreign = true
  }, where)
  if (!foreign) {
    // The reader may reuse its buffer; keep our own copy.
    push(raw, keyGroup - range.start, Uint8Array.prototype.slice.call(chunk))
    return
  }
  const byKeyGroup = new Map<number, PackedEntry[]>()
  forEachPacked(chunk, (key, value) => {
    if (key.length < 2) throw new KeyedStateError('CORRUPTION', `${where}: entry key of ${key.length} bytes`, { state: stateName, keyGroup })
    const kg = (key[0]! << 8) | key[1]!
    if (!rangeContains(range, kg)) return
    let list = byKeyGroup.get(kg)
    if (!list) byKeyGroup.set(kg, (list = []))
    list.push([key, value])
  }, where)
  for (const [kg, entries] of byKeyGroup) for (const c of packEntries(entries)) push(raw, kg - range.start, c)
}

function push(raw: RawEntries, index: number, chunk: Uint8Array): void {
  if (chunk.length === 0) return
  ;(raw[index] ??= []).push(chunk)
}

/** Converts restored chunks to objects with the bound codec; throws (naming the state) without changing anything on bad data. */
export function materialize(data: HeapStateData, raw: RawEntries, codec: StateCodec, keySerializer: Serializer<unknown>, range: KeyGroupRange): StateTable {
  const table = new StateTable()
  let keyGroup = -1
  const where = () => `restored state '${data.name}', key group ${keyGroup}`
  try {
    for (let index = 0; index < raw.length; index++) {
      const chunks = raw[index]
      if (chunks === undefined) continue
      keyGroup = range.start + index
      for (const chunk of chunks) {
        forEachPacked(chunk, (entryKey, value) => {
          const parts = parseCompositeKey(entryKey)
          if (parts.keyGroup !== keyGroup) return
          const key = keySerializer.deserialize(parts.key)
          const keyId = codec.keys.idOf(key, parts.key)
          const direct = codec.keys.isDirect(keyId)
          const nsId = latin1(parts.namespace)
          switch (codec.kind) {
            case 'value':
            case 'reducing':
            case 'aggregating':
              table.insert(nsId, parts.namespace.slice(), keyId, direct, key, codec.value.deserialize(value))
              break
            case 'list': {
              const elements = decodeListElements(value).map((e) => codec.value.deserialize(e))
              if (elements.length > 0) table.insert(nsId, parts.namespace.slice(), keyId, direct, key, elements)
              break
            }
            case 'map': {
              const userKeyId: KeyId = codec.userKeys!.idOfBytes(parts.userKey)
              const userValue = codec.value.deserialize(value)
              const nt = table.read(nsId)
              const existing = nt?.entries.get(keyId) as Entry | undefined
              if (existing) (existing.value as Map<KeyId, unknown>).set(userKeyId, userValue)
              else table.insert(nsId, parts.namespace.slice(), keyId, direct, key, new Map([[userKeyId, userValue]]))
              break
            }
          }
        }, where())
      }
    }
  } catch (e) {
    throw new KeyedStateError(
      isKeyedStateError(e) && e.code !== 'INVALID_ARGUMENT' ? e.code : 'SERIALIZER_MISMATCH',
      `${where()}: cannot read the restored entries with the bound descriptor: ${(e as Error)?.message ?? e}`,
      { state: data.name, keyGroup, cause: e },
    )
  }
  return table
}

/** Keys of restored, unbound state (restricted to a namespace when given), each once. */
export function* rawKeys<K>(raw: RawEntries, keySerializer: Serializer<K>, namespaceBytes: Uint8Array | undefined, stateName: string): Generator<K> {
  const nsId = namespaceBytes === undefined ? undefined : latin1(namespaceBytes)
  for (const chunks of raw) {
    if (chunks === undefined) continue
    // Keys never span key groups, so de-duplication per key group is enough.
    const seen = new Set<string>()
    const found: Uint8Array[] = []
    for (const chunk of chunks) {
      forEachPacked(chunk, (entryKey) => {
        const parts = parseCompositeKey(entryKey)
        if (nsId !== undefined && latin1(parts.namespace) !== nsId) return
        const id = latin1(parts.key)
        if (seen.has(id)) return
        seen.add(id)
        found.push(parts.key)
      }, `restored state '${stateName}'`)
    }
    for (const k of found) yield keySerializer.deserialize(k)
  }
}
