// What a checkpoint or savepoint holds, read from its `_metadata` and each
// instance's handle: states, key serializer, files (shared or exclusive, and
// which checkpoints share them), sizes and times. `keyed-state inspect` prints
// it and the checkpoint page (src/ui/) serves it as JSON.
import { listSnapshots } from '../../checkpoint/catalog.js'
import { filesOfHandle } from '../../checkpoint/handles.js'
import type { CheckpointMetadata } from '../../checkpoint/metadata.js'
import { isKeyedStateError } from '../../errors.js'
import { describeSerializer, type SerializerConfig } from '../../serializers/serializer.js'
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
  syncDurationMs: number
  asyncDurationMs: number
  states: StateMetaInfo[]
  /** The key serializer the snapshot recorded ("string@1"), null when it records none. */
  keySerializer?: string | null
  files: InspectedFile[]
  problem?: string
}

export interface StateSummary {
  name: string
  kind: string
  namespaceSerializer: string
  valueSerializer: string
  userKeySerializer?: string
  ttlMs?: number
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

export function summarizeState(s: StateMetaInfo): StateSummary {
  const out: StateSummary = {
    name: s.name,
    kind: s.kind,
    namespaceSerializer: describeSerializer(s.namespaceSerializer),
    valueSerializer: describeSerializer(s.valueSerializer),
  }
  if (s.userKeySerializer) out.userKeySerializer = describeSerializer(s.userKeySerializer)
  if (s.ttl) out.ttlMs = s.ttl.ttlMs
  return out
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

export interface InspectedSnapshot {
  states: StateSummary[]
  instances: InspectedInstance[]
}

/** Reads every instance's handle of `md`; `onInstance` is called after each (progress). A handle that cannot be read is a `problem` of its instance. */
export async function inspectSnapshot(storage: CheckpointStorage, md: CheckpointMetadata, onInstance: () => void = () => {}): Promise<InspectedSnapshot> {
  const refs = await sharedReferences(storage, md)
  const instances: InspectedInstance[] = []
  const states = new Map<string, StateSummary>()
  for (const inst of md.instances) {
    const h = inst.handle
    const files: InspectedFile[] = (h ? filesOfHandle(h) : []).map((f) => {
      const out: InspectedFile = { path: f.path, role: f.role, sizeBytes: f.sizeBytes, crc32: f.crc32, shared: f.shared }
      if (f.name !== undefined) out.name = f.name
      if (f.shared) out.referencedBy = refs.get(f.path) ?? [md.checkpointId]
      return out
    })
    const row: InspectedInstance = {
      index: inst.index,
      keyGroupRange: inst.keyGroupRange,
      handleType: h?.type ?? null,
      sizeBytes: inst.sizeBytes,
      incrementalSizeBytes: inst.incrementalSizeBytes,
      sharedBytes: files.filter((f) => f.shared).reduce((n, f) => n + f.sizeBytes, 0),
      exclusiveBytes: files.filter((f) => !f.shared).reduce((n, f) => n + f.sizeBytes, 0),
      syncDurationMs: inst.syncDurationMs,
      asyncDurationMs: inst.asyncDurationMs,
      states: [],
      files,
    }
    if (h) {
      row.formatVersion = h.formatVersion
      if (h.type === 'full') row.keyGroupsWithData = h.keyGroupOffsets.filter((o) => o >= 0).length
      try {
        const { states: found, keySerializer, codec } = await statesOfHandle(storage, h)
        row.states = found
        row.keySerializer = keySerializer ? describeSerializer(keySerializer) : null
        if (codec) row.codec = codec
        for (const s of found) if (!states.has(s.name)) states.set(s.name, summarizeState(s))
      } catch (e) {
        row.problem = isKeyedStateError(e) || e instanceof Error ? e.message : String(e)
      }
    }
    instances.push(row)
    onInstance()
  }
  return { states: [...states.values()], instances }
}
