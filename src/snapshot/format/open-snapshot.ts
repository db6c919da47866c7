// Reading a full snapshot for tools (keyed-state inspect / dump / verify):
// open a handle or a bare file path, look at its meta-info, iterate its entries.
import type { KeyGroupRange } from '../../keygroups.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { CheckpointStorage } from '../../storage/types.js'
import type { CompressionCodec, FullSnapshotHandle } from '../types.js'
import { corruptSnapshot, readKeyGroupBlocks, readLayout, storageByteSource, type ByteSource, type SnapshotLayout } from './decoder.js'
import { unpackEntries } from './packed.js'

export interface SnapshotSection {
  keyGroup: number
  stateIndex: number
  stateName: string
  /** Packed entries: repeated (u32le keyLength | key | u32le valueLength | value). */
  chunk: Uint8Array
  entryCount: number
}

export interface SnapshotEntry {
  keyGroup: number
  stateName: string
  /** Composite key (encoding.ts): u16be keyGroup | varint keyLen | key | varint nsLen | namespace [| mapUserKey]. */
  key: Uint8Array
  value: Uint8Array
}

export interface FullSnapshotReader {
  /** The file, for messages (absolute path on local storage). */
  readonly file: string
  /** Its storage path. */
  readonly path: string
  /** The handle it was opened with; undefined when opened by path. */
  readonly handle: FullSnapshotHandle | undefined
  readonly layout: SnapshotLayout
  readonly formatVersion: number
  readonly codec: CompressionCodec
  readonly maxParallelism: number
  readonly keyGroupRange: KeyGroupRange
  readonly states: readonly StateMetaInfo[]
  /** The key serializer recorded in the file; undefined for files written before it was recorded. */
  readonly keySerializer: SerializerConfig | undefined
  readonly checkpointId: number | undefined
  readonly sizeBytes: number
  /** Offset of each key group's first block (-1 when empty), index i = keyGroupRange.start + i. */
  readonly keyGroupOffsets: readonly number[]
  /** Verified sections, ascending by key group then state; `range` defaults to the file's range. */
  sections(range?: KeyGroupRange): AsyncGenerator<SnapshotSection>
  entries(range?: KeyGroupRange): AsyncGenerator<SnapshotEntry>
}

class Reader implements FullSnapshotReader {
  constructor(
    readonly path: string,
    readonly handle: FullSnapshotHandle | undefined,
    private readonly src: ByteSource,
    readonly layout: SnapshotLayout,
  ) {}

  get file(): string {
    return this.layout.file
  }
  get formatVersion(): number {
    return this.layout.formatVersion
  }
  get codec(): CompressionCodec {
    return this.layout.codec
  }
  get maxParallelism(): number {
    return this.layout.meta.maxParallelism
  }
  get keyGroupRange(): KeyGroupRange {
    return this.layout.meta.keyGroupRange
  }
  get states(): readonly StateMetaInfo[] {
    return this.layout.meta.states
  }
  get keySerializer(): SerializerConfig | undefined {
    return this.layout.meta.keySerializer
  }
  get checkpointId(): number | undefined {
    return this.layout.meta.checkpointId
  }
  get sizeBytes(): number {
    return this.layout.sizeBytes
  }
  get keyGroupOffsets(): readonly number[] {
    return this.layout.keyGroupOffsets
  }

  async *sections(range: KeyGroupRange = this.keyGroupRange): AsyncGenerator<SnapshotSection> {
    for await (const block of readKeyGroupBlocks(this.src, this.layout, range)) {
      for (const s of block.sections) {
        yield { keyGroup: block.keyGroup, stateIndex: s.stateIndex, stateName: this.states[s.stateIndex]!.name, chunk: s.chunk, entryCount: s.entryCount }
      }
    }
  }

  async *entries(range?: KeyGroupRange): AsyncGenerator<SnapshotEntry> {
    for await (const s of this.sections(range)) {
      for (const [key, value] of unpackEntries(s.chunk, `state '${s.stateName}', key group ${s.keyGroup}`)) yield { keyGroup: s.keyGroup, stateName: s.stateName, key, value }
    }
  }
}

/**
 * Opens a full snapshot by handle or by storage path and checks its fixed
 * records (header, meta-info, index, footer). With a handle, the file must
 * also match it (size, range, offsets).
 */
export async function openFullSnapshot(storage: CheckpointStorage, target: FullSnapshotHandle | string): Promise<FullSnapshotReader> {
  const handle = typeof target === 'string' ? undefined : target
  const path = typeof target === 'string' ? target : target.file.path
  const src = storageByteSource(storage, path)
  const layout = await readLayout(src, handle?.file.sizeBytes)
  if (handle) {
    const r = layout.meta.keyGroupRange
    const same =
      layout.meta.maxParallelism === handle.maxParallelism && r.start === handle.keyGroupRange.start && r.end === handle.keyGroupRange.end &&
      layout.keyGroupOffsets.length === handle.keyGroupOffsets.length && layout.keyGroupOffsets.every((o, i) => o === handle.keyGroupOffsets[i])
    if (!same) throw corruptSnapshot('CORRUPTION', layout.file, 'the file does not match its handle (maxParallelism, key-group range or offsets differ)')
  }
  return new Reader(path, handle, src, layout)
}
