// The entries of one state, handed to the writer key group by key group. A
// backend that can read a whole state in one pass (FullSnapshotResources.
// stateChunks) saves the fixed cost of one read per key group; its chunks
// cross key-group boundaries, so runs are cut at the u16be key-group prefix
// of the composite keys. Either way every entry is checked to belong to the
// key group it is written under.
import { KeyedStateError } from '../../errors.js'
import type { FullSnapshotResources } from '../types.js'
import { packedEntryEnd, readU32le } from '../format/packed.js'

export class StateEntries {
  /** One pass over the whole state, when the backend offers it. */
  private readonly whole: Iterator<Uint8Array> | undefined
  /** Per-key-group reads otherwise: the chunks of the key group in progress. */
  private perKeyGroup: Iterator<Uint8Array> | undefined
  private perKeyGroupOf = -1
  private chunk: Uint8Array | undefined
  private pos = 0

  constructor(
    private readonly resources: FullSnapshotResources,
    private readonly stateIndex: number,
    private readonly stateName: string,
  ) {
    this.whole = resources.stateChunks?.(stateIndex)[Symbol.iterator]()
  }

  /**
   * The next run of whole packed entries of `keyGroup` (a view into a chunk of
   * the backend, valid until the next call), or undefined once the key group
   * has no more. Key groups must be asked in ascending order.
   */
  nextRun(keyGroup: number): Uint8Array | undefined {
    for (;;) {
      if (this.chunk === undefined) {
        const next = this.nextChunk(keyGroup)
        if (next === undefined) return undefined
        this.chunk = next
        this.pos = 0
      }
      const chunk = this.chunk
      const start = this.pos
      let pos = start
      while (pos < chunk.length) {
        const end = packedEntryEnd(chunk, pos)
        if (end < 0 || readU32le(chunk, pos) < 2) throw this.malformed(keyGroup, pos)
        const entryKeyGroup = (chunk[pos + 4]! << 8) | chunk[pos + 5]!
        if (entryKeyGroup !== keyGroup) {
          if (this.whole === undefined || entryKeyGroup < keyGroup || entryKeyGroup > this.resources.keyGroupRange.end) {
            throw new KeyedStateError(
              'INTERNAL',
              `state '${this.stateName}' gave an entry of key group ${entryKeyGroup} while key group ${keyGroup} was read (entry at byte ${pos} of its chunk)`,
              { state: this.stateName, keyGroup, offset: pos },
            )
          }
          break
        }
        pos = end
      }
      this.pos = pos
      if (pos === chunk.length) this.chunk = undefined
      if (pos > start) return chunk.subarray(start, pos)
      // The entry at `pos` belongs to a later key group: this one is complete.
      if (this.chunk !== undefined) return undefined
    }
  }

  private nextChunk(keyGroup: number): Uint8Array | undefined {
    if (this.whole) {
      const r = this.whole.next()
      return r.done ? undefined : r.value
    }
    if (this.perKeyGroupOf !== keyGroup) {
      this.perKeyGroup = this.resources.keyGroupChunks(this.stateIndex, keyGroup)[Symbol.iterator]()
      this.perKeyGroupOf = keyGroup
    }
    const r = this.perKeyGroup!.next()
    return r.done ? undefined : r.value
  }

  private malformed(keyGroup: number, pos: number): KeyedStateError {
    return new KeyedStateError('INTERNAL', `state '${this.stateName}' gave a malformed packed chunk for key group ${keyGroup} (entry at byte ${pos})`, {
      state: this.stateName,
      keyGroup,
    })
  }

  /** Ends the backend's iteration early (a failed or cancelled run). */
  close(): void {
    this.whole?.return?.()
    this.perKeyGroup?.return?.()
  }
}
