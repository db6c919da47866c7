// The heap backend's side of a full snapshot. The synchronous part pins the
// key-group tables of every state (copy-on-write keeps them unchanged from
// then on); the asynchronous part serializes one (state, key group) at a time,
// sorted by composite key bytes, exactly as RocksDB would hold the same state.
import { compositeKey, encodeListElements } from '../../encoding.js'
import { isKeyedStateError, KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { FullSnapshotResources } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { HeapStateData, RawEntries, StateCodec } from './data.js'
import type { KeyId } from './key-ids.js'
import { compareBytes, packEntries, type PackedEntry } from './packed.js'
import { unpin, valueOf, type KeyGroupTable, type PinnedTables } from './state-table.js'
import type { CapturedInternalState } from './timers.js'

type PinnedState =
  | { readonly meta: StateMetaInfo; readonly raw: RawEntries }
  | { readonly meta: StateMetaInfo; readonly internal: CapturedInternalState }
  | { readonly meta: StateMetaInfo; readonly codec: StateCodec; readonly tables: PinnedTables }

export class HeapSnapshotResources implements FullSnapshotResources {
  readonly metaInfos: readonly StateMetaInfo[]
  private readonly pinned: PinnedState[]
  private released = false

  /** The synchronous part: O(states x key groups), no data copied. */
  constructor(
    readonly keyGroupRange: KeyGroupRange,
    states: readonly { meta: StateMetaInfo; data: HeapStateData }[],
    private readonly onRelease?: () => void,
  ) {
    this.pinned = states.map(({ meta, data }): PinnedState => {
      if (data.raw !== undefined) return { meta, raw: data.raw.slice() }
      if (data.internal !== undefined) return { meta, internal: data.internal.capture() }
      return { meta, codec: data.codec!, tables: data.table.pin() }
    })
    this.metaInfos = this.pinned.map((p) => p.meta)
  }

  keyGroupChunks(stateIndex: number, keyGroup: number): Iterable<Uint8Array> {
    if (this.released) throw new KeyedStateError('INTERNAL', 'heap snapshot resources used after release')
    const state = this.pinned[stateIndex]
    if (state === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `no state with index ${stateIndex} in this snapshot`)
    const index = keyGroup - this.keyGroupRange.start
    if (index < 0 || keyGroup > this.keyGroupRange.end) return []
    if ('raw' in state) return state.raw[index] ?? []
    if ('internal' in state) return state.internal.chunks(index)
    const kt = state.tables[index]
    if (kt === undefined) return []
    return packEntries(sortedEntries(state.meta.name, state.codec, keyGroup, kt))
  }

  isEmpty(): boolean {
    return this.pinned.every((p) =>
      'raw' in p
        ? p.raw.every((chunks) => chunks === undefined || chunks.length === 0)
        : 'internal' in p
          ? p.internal.isEmpty()
          : p.tables.every((kt) => kt === undefined),
    )
  }

  release(): void {
    if (this.released) return
    this.released = true
    for (const p of this.pinned) if ('tables' in p) unpin(p.tables)
    this.onRelease?.()
  }
}

/** Every entry of one state in one key group in the canonical layout, ascending by key bytes. */
export function sortedEntries(stateName: string, codec: StateCodec, keyGroup: number, kt: KeyGroupTable): PackedEntry[] {
  const out: PackedEntry[] = []
  let keyId: KeyId | undefined
  try {
    for (const nt of kt.namespaces.values()) {
      const ns = nt.namespaceBytes
      for (const [id, stored] of nt.entries) {
        keyId = id
        const key = codec.keys.bytesOf(id)
        const value = valueOf(stored)
        switch (codec.kind) {
          case 'value':
          case 'reducing':
          case 'aggregating':
            out.push([compositeKey(keyGroup, key, ns), codec.value.serialize(value)])
            break
          case 'list': {
            const elements = (value as unknown[]).map((e) => codec.value.serialize(e))
            out.push([compositeKey(keyGroup, key, ns), encodeListElements(elements)])
            break
          }
          case 'map':
            for (const [userKeyId, userValue] of value as Map<KeyId, unknown>) {
              out.push([compositeKey(keyGroup, key, ns, codec.userKeys!.bytesOf(userKeyId)), codec.value.serialize(userValue)])
            }
            break
        }
      }
    }
  } catch (e) {
    throw new KeyedStateError(
      isKeyedStateError(e) ? e.code : 'INVALID_ARGUMENT',
      `state '${stateName}', key group ${keyGroup}: cannot serialize the value of key ${String(keyId)}: ${(e as Error)?.message ?? e}`,
      { state: stateName, keyGroup, cause: e },
    )
  }
  out.sort((a, b) => compareBytes(a[0], b[0]))
  return out
}
