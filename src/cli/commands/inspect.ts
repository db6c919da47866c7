import { filesOfHandle } from '../../checkpoint/handles.js'
import type { CheckpointMetadata, JsonValue } from '../../checkpoint/metadata.js'
import { isKeyedStateError } from '../../errors.js'
import { formatRange } from '../../keygroups.js'
import { describeSerializer, type SerializerConfig } from '../../serializers/serializer.js'
import type { KeyedStateHandle } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { type InspectedFile, sharedReferences, statesOfHandle } from '../lib/inspect-snapshot.js'
import { openSnapshotDirectory } from '../lib/open.js'
import { formatBytes, formatTime, progress, table, writeJson, writeLine } from '../lib/output.js'

/**
 * One instance in `inspect --json`. Serializers and TTL have one shape
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
  /** With --files only. */
  files?: InspectedFile[]
  problem?: string
}

function ttlText(s: StateMetaInfo): string {
  return s.ttl === undefined ? '-' : `${s.ttl.ttlMs} ms`
}

export interface InspectOptions {
  json?: boolean
  /** List every file (text) or include them (JSON); the default is a summary. */
  files?: boolean
}

/** Operator state on one line, cut to `maxChars` for the text summary (the JSON report has it whole). */
function operatorStateText(v: JsonValue, maxChars = 160): string {
  const text = JSON.stringify(v)
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 3)}...`
}

export async function inspectCommand(path: string, options: InspectOptions): Promise<number> {
  const { storage, metadata: md, directory } = await openSnapshotDirectory(path)
  const refs = options.files ? await sharedReferences(storage, md) : new Map<string, number[]>()
  const bar = progress('reading', md.instances.length, 'instances')
  const instances: InspectedInstance[] = []
  const states = new Map<string, StateMetaInfo>()
  try {
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
  await writeLine(inspectText(md, directory, storage.location, [...states.values()], instances, options.files ?? false))
  return instances.some((i) => i.problem) ? 1 : 0
}

function inspectText(
  md: CheckpointMetadata,
  directory: string,
  root: string,
  states: readonly StateMetaInfo[],
  instances: readonly InspectedInstance[],
  withFiles: boolean,
): string {
  const lines: string[] = []
  lines.push(`${md.type} ${md.checkpointId}  ${directory}`)
  lines.push(`  root               ${root}`)
  lines.push(`  triggered          ${formatTime(md.triggeredAtMs)}`)
  lines.push(`  completed          ${formatTime(md.completedAtMs)}`)
  lines.push(`  parallelism        ${md.parallelism} (maxParallelism ${md.maxParallelism})`)
  const keySerializers = [...new Set(instances.filter((i) => i.keySerializer !== undefined).map((i) => (i.keySerializer ? describeSerializer(i.keySerializer) : 'not recorded')))]
  if (keySerializers.length > 0) lines.push(`  key serializer     ${keySerializers.join(', ')}`)
  lines.push(`  size               ${formatBytes(md.sizeBytes)} (${formatBytes(md.incrementalSizeBytes)} written for this ${md.type})`)
  const shared = instances.reduce((n, i) => n + i.sharedBytes, 0)
  const exclusive = instances.reduce((n, i) => n + i.exclusiveBytes, 0)
  const fileCount = instances.reduce((n, i) => n + i.fileCount, 0)
  lines.push(`  files              ${fileCount} (shared ${formatBytes(shared)}, exclusive ${formatBytes(exclusive)})${withFiles ? '' : '; --files lists them'}`)
  if (md.restoredFrom) {
    const r = md.restoredFrom
    lines.push(`  restored from      ${r.type} ${r.checkpointId} (${r.location}/${r.dir}, ${r.mode})`)
  }
  lines.push('', 'states')
  lines.push(
    table(
      ['  NAME', 'KIND', 'NAMESPACE', 'VALUE', 'MAP KEY', 'TTL'],
      states.map((s) => [
        `  ${s.name}`,
        s.kind,
        describeSerializer(s.namespaceSerializer),
        describeSerializer(s.valueSerializer),
        s.userKeySerializer ? describeSerializer(s.userKeySerializer) : '-',
        ttlText(s),
      ]),
    ),
  )
  lines.push('', 'instances')
  lines.push(
    table(
      ['  INSTANCE', 'KEY GROUPS', 'SNAPSHOT', 'SIZE', 'SHARED', 'EXCLUSIVE', 'FILES', 'KEY GROUPS WITH DATA'],
      instances.map((i) => [
        `  ${i.index}`,
        formatRange(i.keyGroupRange),
        i.handleType === null ? 'no state' : `${i.handleType} v${i.formatVersion}${i.codec ? ` ${i.codec}` : ''}`,
        formatBytes(i.sizeBytes),
        formatBytes(i.sharedBytes),
        formatBytes(i.exclusiveBytes),
        String(i.fileCount),
        i.keyGroupsWithData === undefined ? '-' : String(i.keyGroupsWithData),
      ]),
    ),
  )
  const withOperatorState = instances.filter((i) => i.operatorState !== undefined)
  if (withOperatorState.length > 0) {
    lines.push('', 'operator state')
    for (const i of withOperatorState) lines.push(`  instance ${i.index}  ${operatorStateText(i.operatorState!)}`)
  }
  for (const i of instances) if (i.problem) lines.push(`PROBLEM in instance ${i.index}: ${i.problem}`)
  if (withFiles) {
    for (const i of instances) {
      if (!i.files || i.files.length === 0) continue
      lines.push('', `instance ${i.index} files  (pause ${i.syncDurationMs} ms, upload ${i.asyncDurationMs} ms)`)
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
  return lines.join('\n')
}
