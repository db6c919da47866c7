// `keyed-state inspect <dir> [which] [--files] [--json]`: the report of
// cli/lib/inspect-snapshot.ts as text (a summary, every file with --files) or JSON.
import type { CheckpointMetadata, JsonValue } from '../../checkpoint/metadata.js'
import { formatRange } from '../../keygroups.js'
import { describeSerializer } from '../../serializers/serializer.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { type InspectedInstance, type InspectReport, inspectReport } from '../lib/inspect-snapshot.js'
import { openSnapshotDirectory } from '../lib/open.js'
import { formatBytes, formatTime, progress, table, writeJson, writeLine } from '../lib/output.js'

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
  const bar = progress('reading', md.instances.length, 'instances')
  let report: InspectReport
  try {
    report = await inspectReport(storage, md, { directory, files: options.files ?? false, onInstance: () => bar.increment() })
  } finally {
    bar.stop()
  }
  if (options.json) {
    await writeJson(report)
    return 0
  }
  await writeLine(inspectText(md, directory, storage.location, report.states, report.instances, options.files ?? false))
  return report.instances.some((i) => i.problem) ? 1 : 0
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
