// Prometheus metrics of a checkpoint coordinator, in a prom-client Registry the
// user merges into theirs (Registry.merge) or serves with serveMetrics. Fed by
// the coordinator's events (subscribe), so the coordinator knows nothing of
// metrics. Names follow Prometheus conventions: base units (seconds, bytes),
// counters end in _total, and labels are bounded (snapshot type and outcome;
// never a key, key group or checkpoint id).
//
// A job runtime (job-metrics.ts) makes one set and attaches each new
// coordinator of a restart or rescale to it.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CheckpointCoordinator, CheckpointEvent } from '../checkpoint/coordinator.js'

export interface CheckpointMetricsOptions {
  /** Where the metrics are registered; a new Registry when omitted. */
  registry?: Registry
  /** Name prefix; default 'keyed_state_'. */
  prefix?: string
  /** Histogram buckets in seconds for durations; default 5 ms .. 10 min. */
  durationBucketsSeconds?: number[]
  /** "Now" for the age of the last checkpoint; default Date.now. */
  nowMs?: () => number
}

export interface CheckpointMetrics {
  readonly registry: Registry
  /** Listens to `coordinator` from now on instead of the one before (a job's restart or rescale makes a new one). */
  attach(coordinator: CheckpointCoordinator): void
  /** Records how long a restore (or a restore at another parallelism: rescale) took. */
  recordRestore(durationMs: number, rescale: boolean): void
  /** Stops listening to the coordinator (the metrics stay registered). */
  detach(): void
}

const DEFAULT_DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

/** Metrics fed by `coordinator` (or, when undefined, by the first one attached). */
export function checkpointMetrics(coordinator: CheckpointCoordinator | undefined, options: CheckpointMetricsOptions = {}): CheckpointMetrics {
  const registry = options.registry ?? new Registry()
  const p = options.prefix ?? 'keyed_state_'
  const buckets = options.durationBucketsSeconds ?? DEFAULT_DURATION_BUCKETS_SECONDS
  const nowMs = options.nowMs ?? Date.now
  const registers = [registry]

  const checkpoints = new Counter({ name: `${p}checkpoints_total`, help: 'Checkpoints and savepoints by outcome', labelNames: ['type', 'outcome'], registers })
  const histogram = (name: string, help: string): Histogram<'type'> => new Histogram({ name, help, labelNames: ['type'], buckets, registers })
  const syncPause = histogram(`${p}checkpoint_sync_pause_seconds`, 'Longest synchronous part of any instance (the pause processing saw)')
  const asyncDuration = histogram(`${p}checkpoint_async_duration_seconds`, 'Longest asynchronous part of any instance')
  const duration = histogram(`${p}checkpoint_duration_seconds`, 'Trigger to _metadata written')
  const sizeBytes = new Gauge({ name: `${p}last_checkpoint_size_bytes`, help: 'Bytes of every file the last completed snapshot references', labelNames: ['type'], registers })
  const incrementalBytes = new Gauge({ name: `${p}last_checkpoint_incremental_bytes`, help: 'Bytes written for the last completed snapshot', labelNames: ['type'], registers })
  const writtenBytes = new Counter({ name: `${p}checkpoint_written_bytes_total`, help: 'Bytes written by completed snapshots', labelNames: ['type'], registers })
  let last: { id: number; completedAtMs: number } | undefined
  new Gauge({
    name: `${p}last_completed_checkpoint_id`, help: 'Id of the last completed checkpoint', registers,
    collect() { if (last) this.set(last.id) },
  })
  new Gauge({
    name: `${p}last_completed_checkpoint_age_seconds`, help: 'Time since the last checkpoint completed', registers,
    collect() { if (last) this.set(Math.max(0, nowMs() - last.completedAtMs) / 1000) },
  })
  const restore = new Histogram({ name: `${p}restore_duration_seconds`, help: 'Restores, by whether the parallelism changed', labelNames: ['kind'], buckets, registers })

  const onEvent = (e: CheckpointEvent): void => {
    if (e.type === 'aborted') {
      checkpoints.inc({ type: e.snapshotType, outcome: 'failed' })
      return
    }
    if (e.type !== 'completed') return
    const md = e.metadata
    const type = md.type
    checkpoints.inc({ type, outcome: 'completed' })
    syncPause.observe({ type }, Math.max(0, ...md.instances.map((i) => i.syncDurationMs)) / 1000)
    asyncDuration.observe({ type }, Math.max(0, ...md.instances.map((i) => i.asyncDurationMs)) / 1000)
    duration.observe({ type }, Math.max(0, md.completedAtMs - md.triggeredAtMs) / 1000)
    sizeBytes.set({ type }, md.sizeBytes)
    incrementalBytes.set({ type }, md.incrementalSizeBytes)
    writtenBytes.inc({ type }, md.incrementalSizeBytes)
    if (type === 'checkpoint') last = { id: md.checkpointId, completedAtMs: md.completedAtMs }
  }
  let detach = coordinator?.subscribe(onEvent)
  return {
    registry,
    attach(next) {
      detach?.()
      detach = next.subscribe(onEvent)
    },
    recordRestore: (durationMs, rescale) => restore.observe({ kind: rescale ? 'rescale' : 'restore' }, Math.max(0, durationMs) / 1000),
    detach() {
      detach?.()
      detach = undefined
    },
  }
}
