import { listSnapshots } from '../../checkpoint/catalog.js'
import { filesOfHandle } from '../../checkpoint/handles.js'
import type { CheckpointMetadata } from '../../checkpoint/metadata.js'
import { isKeyedStateError } from '../../errors.js'
import { formatRange } from '../../keygroups.js'
import { describeSerializer, type SerializerConfig } from '../../serializers/serializer.js'
import { openFullSnapshot } from '../../snapshot/format/open-snapshot.js'
import type { KeyedStateHandle } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { decodeMetaFile } from '../../backends/rocksdb/incremental-meta-file.js'
import type { CheckpointStorage } from '../../storage/types.js'
import { openSnapshotDirectory } from '../lib/open.js'
import { formatBytes, formatTime, progress, table, writeJson, writeLine } from '../lib/output.js'

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

async function sharedReferences(storage: CheckpointStorage, md: CheckpointMetadata): Promise<Map<string, number[]>> {
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

export async function inspectCommand(path: string, options: { json?: boolean }): Promise<number> {
  const { storage, metadata: md, directory } = await openSnapshotDirectory(path)
  const refs = await sharedReferences(storage, md)
  const bar = progress('reading', md.instances.length, 'instances')
  const instances: InspectedInstance[] = []
  const states = new Map<string, StateSummary>()
  try {
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
      bar.increment()
    }
  } finally {
    bar.stop()
  }

  const { instances: _omit, ...summary } = md
  const report = { directory, root: storage.location, ...summary, states: [...states.values()], instances }
  if (options.json) {
    await writeJson(report)
    return 0
  }
  const lines: string[] = []
  lines.push(`${md.type} ${md.checkpointId}  ${directory}`)
  lines.push(`  root               ${storage.location}`)
  lines.push(`  triggered          ${formatTime(md.triggeredAtMs)}`)
  lines.push(`  completed          ${formatTime(md.completedAtMs)}`)
  lines.push(`  parallelism        ${md.parallelism} (maxParallelism ${md.maxParallelism})`)
  const keySerializers = [...new Set(instances.filter((i) => i.keySerializer !== undefined).map((i) => i.keySerializer ?? 'not recorded'))]
  if (keySerializers.length > 0) lines.push(`  key serializer     ${keySerializers.join(', ')}`)
  lines.push(`  size               ${formatBytes(md.sizeBytes)} (${formatBytes(md.incrementalSizeBytes)} written for this ${md.type})`)
  if (md.restoredFrom) {
    const r = md.restoredFrom
    lines.push(`  restored from      ${r.type} ${r.checkpointId} (${r.location}/${r.dir}, ${r.mode})`)
  }
  lines.push('', 'states')
  lines.push(
    table(
      ['  NAME', 'KIND', 'NAMESPACE', 'VALUE', 'MAP KEY', 'TTL'],
      [...states.values()].map((s) => [`  ${s.name}`, s.kind, s.namespaceSerializer, s.valueSerializer, s.userKeySerializer ?? '-', s.ttlMs === undefined ? '-' : `${s.ttlMs} ms`]),
    ),
  )
  for (const i of instances) {
    lines.push('')
    const kind = i.handleType === null ? 'no state' : `${i.handleType} v${i.formatVersion}${i.codec ? ` ${i.codec}` : ''}`
    const kgs = i.keyGroupsWithData === undefined ? '' : `, ${i.keyGroupsWithData} key groups with data`
    lines.push(`instance ${i.index}  key groups ${formatRange(i.keyGroupRange)}  ${kind}  ${formatBytes(i.sizeBytes)}${kgs}`)
    lines.push(`  shared ${formatBytes(i.sharedBytes)}, exclusive ${formatBytes(i.exclusiveBytes)}, pause ${i.syncDurationMs} ms, upload ${i.asyncDurationMs} ms`)
    if (i.problem) lines.push(`  PROBLEM: ${i.problem}`)
    if (i.files.length > 0) {
      lines.push(
        table(
          ['  OWNERSHIP', 'ROLE', 'SIZE', 'CRC32', 'PATH'],
          i.files.map((f) => [
            `  ${f.shared ? `shared${f.referencedBy ? ` (checkpoints ${f.referencedBy.join(',')})` : ''}` : 'exclusive'}`,
            f.role,
            formatBytes(f.sizeBytes),
            f.crc32.toString(16).padStart(8, '0'),
            f.path,
          ]),
        ),
      )
    }
  }
  await writeLine(lines.join('\n'))
  return instances.some((i) => i.problem) ? 1 : 0
}
