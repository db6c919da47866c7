// What a checkpoint or savepoint holds, read from its `_metadata` and each
// instance's handle: states, key serializer, operator state, files (shared or
// exclusive, and which checkpoints share them), sizes and times. One reader,
// one shape: `keyed-state inspect` prints it (text, or JSON with --json) and the
// checkpoint page (src/ui/) serves the same report as JSON.
import { listSnapshots } from '../../checkpoint/catalog.js'
import { filesOfHandle } from '../../checkpoint/handles.js'
import type { CheckpointMetadata, JsonValue } from '../../checkpoint/metadata.js'
import { isKeyedStateError } from '../../errors.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import { openFullSnapshot } from '../../snapshot/format/open-snapshot.js'
import type { KeyedStateHandle } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { decodeMetaFile } from '../../backends/rocksdb/incremental-meta-file.js'
import type { CheckpointStorage } from '../../storage/types.js'

export interface InspectedFile {
  path: string
  role: string
  name?: string
  sizeBytes: number
  crc32: number
  shared: boolean
  /** Shared files: the complete checkpoints in the root that reference it. */
  referencedBy?: number[]
}

/**
 * One instance in the inspect report. Serializers and TTL have one shape
 * everywhere in the report: a serializer is its recorded config
 * ({ id, version, config? }), TTL is { ttlMs }, as in the snapshot's meta-info.
 */
export interface InspectedInstance {
  index: number
  keyGroupRange: { start: number; end: number }
  handleType: KeyedStateHandle['type'] | null
  formatVersion?: number
  codec?: string
  keyGroupsWithData?: number
  sizeBytes: number
  incrementalSizeBytes: number
  sharedBytes: number
  exclusiveBytes: number
  fileCount: number
  syncDurationMs: number
  asyncDurationMs: number
  /** The names of the states this instance's snapshot holds (the report's `states` describes them). */
  states: string[]
  /** The key serializer the snapshot recorded, null when it records none. */
  keySerializer?: SerializerConfig | null
  /** The instance's non-keyed state at the barrier (e.g. committed source positions), when it gave one. */
  operatorState?: JsonValue
  /** Only when asked for (`inspect --files`). */
  files?: InspectedFile[]
  /** Its handle could not be read. */
  problem?: string
}

/**
 * What `keyed-state inspect --json` prints and the checkpoint page
 * (src/ui/) shows: the `_metadata` without its instances, where it is, every
 * state once (as its meta-info records it) and each instance read from its handle.
 */
export interface InspectReport extends Omit<CheckpointMetadata, 'instances'> {
  /** The snapshot's directory (absolute path or URL). */
  directory: string
  /** The storage root it belongs to. */
  root: string
  states: StateMetaInfo[]
  instances: InspectedInstance[]
}

export interface InspectReportOptions {
  /** The directory to name in the report (default: the storage location and the snapshot's dir). */
  directory?: string
  /** Also list every instance's files, with the checkpoints that share them (costs a listing of the root). */
  files?: boolean
  /** Called after each instance is read (progress). */
  onInstance?: () => void
}

interface HandleContents {
  states: StateMetaInfo[]
  /** Undefined when the snapshot does not record it (full snapshots written before it was recorded). */
  keySerializer: SerializerConfig | undefined
  codec?: string
}

/** The state meta-info and key serializer of a handle, from its file's meta-info or its meta file. */
export async function statesOfHandle(storage: CheckpointStorage, handle: KeyedStateHandle): Promise<HandleContents> {
  if (handle.type === 'full') {
    const reader = await openFullSnapshot(storage, handle)
    return { states: [...reader.states], keySerializer: reader.keySerializer, codec: reader.codec }
  }
  const meta = decodeMetaFile(await storage.read(handle.metaFile.path), handle.metaFile.path)
  return { states: meta.states.map((s) => s.meta), keySerializer: meta.keySerializer ?? undefined }
}

export async function sharedReferences(storage: CheckpointStorage, md: CheckpointMetadata): Promise<Map<string, number[]>> {
  const refs = new Map<string, number[]>()
  if (md.type !== 'checkpoint') return refs
  for (const l of await listSnapshots(storage)) {
    for (const inst of l.metadata?.instances ?? []) {
      if (!inst.handle) continue
      for (const f of filesOfHandle(inst.handle)) {
        if (!f.shared) continue
        const ids = refs.get(f.path) ?? []
        if (!ids.includes(l.metadata!.checkpointId)) ids.push(l.metadata!.checkpointId)
        refs.set(f.path, ids.sort((a, b) => a - b))
      }
    }
  }
  return refs
}

/** Reads every instance's handle of `md`. A handle that cannot be read is a `problem` of its instance, not a failure of the report. */
export async function inspectReport(storage: CheckpointStorage, md: CheckpointMetadata, options: InspectReportOptions = {}): Promise<InspectReport> {
  const refs = options.files ? await sharedReferences(storage, md) : new Map<string, number[]>()
  const instances: InspectedInstance[] = []
  const states = new Map<string, StateMetaInfo>()
  for (const inst of md.instances) {
    const h = inst.handle
    const handleFiles = h ? filesOfHandle(h) : []
    const row: InspectedInstance = {
      index: inst.index,
      keyGroupRange: inst.keyGroupRange,
      handleType: h?.type ?? null,
      sizeBytes: inst.sizeBytes,
      incrementalSizeBytes: inst.incrementalSizeBytes,
      sharedBytes: handleFiles.filter((f) => f.shared).reduce((n, f) => n + f.sizeBytes, 0),
      exclusiveBytes: handleFiles.filter((f) => !f.shared).reduce((n, f) => n + f.sizeBytes, 0),
      fileCount: handleFiles.length,
      syncDurationMs: inst.syncDurationMs,
      asyncDurationMs: inst.asyncDurationMs,
      states: [],
    }
    if (inst.operatorState !== undefined) row.operatorState = inst.operatorState
    if (options.files) {
      row.files = handleFiles.map((f) => {
        const out: InspectedFile = { path: f.path, role: f.role, sizeBytes: f.sizeBytes, crc32: f.crc32, shared: f.shared }
        if (f.name !== undefined) out.name = f.name
        if (f.shared) out.referencedBy = refs.get(f.path) ?? [md.checkpointId]
        return out
      })
    }
    if (h) {
      row.formatVersion = h.formatVersion
      if (h.type === 'full') row.keyGroupsWithData = h.keyGroupOffsets.filter((o) => o >= 0).length
      try {
        const { states: found, keySerializer, codec } = await statesOfHandle(storage, h)
        row.states = found.map((s) => s.name)
        row.keySerializer = keySerializer ?? null
        if (codec) row.codec = codec
        for (const s of found) if (!states.has(s.name)) states.set(s.name, s)
      } catch (e) {
        row.problem = isKeyedStateError(e) || e instanceof Error ? e.message : String(e)
      }
    }
    instances.push(row)
    options.onInstance?.()
  }
  const { instances: _omit, ...summary } = md
  return {
    directory: options.directory ?? `${storage.location}/${md.dir}`,
    root: storage.location,
    ...summary,
    states: [...states.values()],
    instances,
  }
}
