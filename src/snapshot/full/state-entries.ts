// The entries of one state, handed to the writer key group by key group. A
// backend that can read a whole state in one pass (FullSnapshotResources.
// stateChunks) saves the fixed cost of one read per key group; its chunks
// cross key-group boundaries, so runs are cut at the u16be key-group prefix
// of the composite keys. Either way every entry is checked to belong to the
// key group it is written under. When the backend can read that pass off the
// event loop (stateChunksAsync), the next chunk is read while the writer
// frames, checksums and writes the current one.
import { KeyedStateError } from '../../errors.js'
import type { FullSnapshotResources } from '../types.js'
import { packedEntryEnd, readU32le } from '../format/packed.js'

/** scan() found the chunk used up without a run: the next chunk decides. */
const NEXT_CHUNK = Symbol('next chunk')

export class StateEntries {
  /** One pass over the whole state read off the event loop, when the backend offers it. */
  private readonly ahead: AsyncIterator<Uint8Array> | undefined
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
    this.ahead = resources.stateChunksAsync?.(stateIndex)[Symbol.asyncIterator]()
    if (this.ahead === undefined) this.whole = resources.stateChunks?.(stateIndex)[Symbol.iterator]()
  }

  /**
   * The next run of whole packed entries of `keyGroup` (a view into a chunk of
   * the backend, valid until the next call), or undefined once the key group
   * has no more. Key groups must be asked in ascending order. A promise only
   * when a chunk has to be read off the event loop first.
   */
  nextRun(keyGroup: number): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.chunk === undefined) {
        if (this.ahead) return this.nextRunAhead(keyGroup)
        const next = this.nextChunk(keyGroup)
        if (next === undefined) return undefined
        this.chunk = next
        this.pos = 0
      }
      const run = this.scan(keyGroup)
      if (run !== NEXT_CHUNK) return run
    }
  }

  private async nextRunAhead(keyGroup: number): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.chunk === undefined) {
        const r = await this.ahead!.next()
        if (r.done) return undefined
        this.chunk = r.value
        this.pos = 0
      }
      const run = this.scan(keyGroup)
      if (run !== NEXT_CHUNK) return run
    }
  }

  /** The run of `keyGroup` at the current position of the current chunk. */
  private scan(keyGroup: number): Uint8Array | undefined | typeof NEXT_CHUNK {
    const chunk = this.chunk!
    const start = this.pos
    let pos = start
    while (pos < chunk.length) {
      const end = packedEntryEnd(chunk, pos)
      if (end < 0 || readU32le(chunk, pos) < 2) throw this.malformed(keyGroup, pos)
      const entryKeyGroup = (chunk[pos + 4]! << 8) | chunk[pos + 5]!
      if (entryKeyGroup !== keyGroup) {
        const spansKeyGroups = this.whole !== undefined || this.ahead !== undefined
        if (!spansKeyGroups || entryKeyGroup < keyGroup || entryKeyGroup > this.resources.keyGroupRange.end) {
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
    return NEXT_CHUNK
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

  /** Ends the backend's iteration early (a failed or cancelled run); waits for a read in flight. */
  async close(): Promise<void> {
    this.whole?.return?.()
    this.perKeyGroup?.return?.()
    await this.ahead?.return?.()
  }
}
