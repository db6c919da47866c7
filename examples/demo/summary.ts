// The demo's report: collected while the job runs, printed as a few readable
// lines (or as JSON with --json).
import type { CheckpointMetadata } from '../../src/index.js'
import type { Mismatch } from './expected.js'

export interface AttemptReport {
  label: string
  instances: number
  restoredFrom: number | null
  /** Fork to every worker's backend open (restored) and source positioned. */
  startMs: number
  checkpointsCompleted: number
  checkpointsAborted: number
}

export interface DemoReport {
  pass: boolean
  settings: {
    events: number
    keys: number
    seed: number
    backend: string
    parallelism: number
    rescaleTo: number
    checkpointIntervalMs: number
    storage: string
  }
  attempts: AttemptReport[]
  failure: { instance: string; pid: number; processed: number; latestCheckpoint: number | null }
  checkpoints: {
    completed: number
    aborted: number
    lastId: number | null
    lastSizeBytes: number
    medianNewBytes: number
    syncPauseMs: { median: number; max: number }
    uploadMs: { median: number }
  }
  check: {
    keys: number
    events: number
    ttlLive: number
    ttlExpired: number
    minuteWindows: number
    mismatches: number
    firstMismatches: Mismatch[]
  }
  durationMs: number
}

function median(values: number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export function checkpointStats(completed: readonly CheckpointMetadata[], aborted: number): DemoReport['checkpoints'] {
  const last = completed.at(-1)
  const perInstance = completed.flatMap((md) => md.instances)
  return {
    completed: completed.length,
    aborted,
    lastId: last?.checkpointId ?? null,
    lastSizeBytes: last?.sizeBytes ?? 0,
    medianNewBytes: median(completed.map((md) => md.incrementalSizeBytes)),
    syncPauseMs: { median: median(perInstance.map((i) => i.syncDurationMs)), max: Math.max(0, ...perInstance.map((i) => i.syncDurationMs)) },
    uploadMs: { median: median(perInstance.map((i) => i.asyncDurationMs)) },
  }
}

const n = (v: number): string => v.toLocaleString('en-US')
const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : Math.round(v).toString()} ms`

function bytes(v: number): string {
  if (v < 1024) return `${v} B`
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} kB`
  return `${(v / 1024 / 1024).toFixed(1)} MB`
}

export function formatReport(r: DemoReport): string {
  const lines: string[] = []
  const [first, recovery, rescale] = r.attempts
  const c = r.checkpoints
  lines.push('')
  const restoredFrom = (a: AttemptReport): string =>
    a.restoredFrom === null ? 'started from the beginning (no checkpoint had completed)' : `restored from checkpoint ${a.restoredFrom}`
  if (first) {
    lines.push(`run       ${first.instances} instances from scratch, ${first.checkpointsCompleted} checkpoints completed`)
    lines.push(`failure   SIGKILL to ${r.failure.instance} (pid ${r.failure.pid}) after ${n(r.failure.processed)} of its events` +
      (r.failure.latestCheckpoint === null ? ', before any checkpoint completed' : `, latest complete checkpoint ${r.failure.latestCheckpoint}`))
  }
  if (recovery) {
    lines.push(`recovery  the job restarted ${recovery.instances} instances ${restoredFrom(recovery)} ` +
      `in ${ms(recovery.startMs)}, each key group resuming at the source position recorded with its state; ` +
      `${recovery.checkpointsCompleted} checkpoints completed`)
  }
  if (rescale) {
    lines.push(`rescale   ${recovery?.instances ?? '?'} → ${rescale.instances} instances ${restoredFrom(rescale)} in ${ms(rescale.startMs)}; ` +
      `${rescale.checkpointsCompleted} checkpoints completed, the last one at the end of the stream`)
  }
  lines.push(`checkpoints ${c.completed} completed, ${c.aborted} aborted; the last (${c.lastId ?? '-'}) references ${bytes(c.lastSizeBytes)}, ` +
    `a checkpoint writes ${bytes(c.medianNewBytes)} new (median)`)
  lines.push(`pauses    sync part per instance: median ${ms(c.syncPauseMs.median)}, max ${ms(c.syncPauseMs.max)}; upload median ${ms(c.uploadMs.median)}`)
  const k = r.check
  lines.push(`check     ${n(k.keys)} users, ${n(k.events)} events: count, count-by-type, recent, last-activity ` +
    `(TTL: ${n(k.ttlLive)} live, ${n(k.ttlExpired)} expired), minute windows (${n(k.minuteWindows)}) — ` +
    (k.mismatches === 0 ? 'every value equals the expected one' : `${n(k.mismatches)} values differ`))
  for (const m of k.firstMismatches) {
    lines.push(`          ${m.key} ${m.what}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`)
  }
  lines.push(`${r.pass ? 'PASS' : 'FAIL'}      (${(r.durationMs / 1000).toFixed(1)} s)`)
  return lines.join('\n')
}
