// Prometheus metrics of a job the runtime runs (runJob): events processed and
// source lag per worker, restarts by cause, restore and rescale durations, the
// checkpoint metrics of its coordinators and the state metrics its workers
// report. The job feeds it plain numbers (workers report theirs with each
// heartbeat), so this module knows nothing of the runtime.
//
// Labels stay bounded: `worker` is a worker index (below the largest
// parallelism the job ran at), `cause` one of RESTART_CAUSES. Source lag is per
// worker, not per partition: the runtime's partitions are key groups.
import { Counter, Gauge, Registry } from 'prom-client'
import type { CheckpointCoordinator } from '../checkpoint/coordinator.js'
import type { BackendStats } from '../state-backend/types.js'
import { backendStatsMetrics } from './backend-metrics.js'
import { checkpointMetrics } from './checkpoint-metrics.js'

/** Why the job restarted. */
export const RESTART_CAUSES = [
  /** The operator or source threw in a worker, which reported it and exited. */
  'worker-error',
  /** A worker process (or remote worker) went away without a word: killed, crashed, its host gone. */
  'worker-exit',
  /** A worker stopped answering; the job killed it. */
  'heartbeat-timeout',
  /** A restart's new workers could not start (the next restart is counted too). */
  'start-failed',
  /** The final checkpoint of a finished bounded input failed with every worker alive. */
  'final-checkpoint-failed',
] as const
export type RestartCause = (typeof RESTART_CAUSES)[number]

/** What one worker index reports. */
export interface WorkerSample {
  worker: number
  /** Events this worker index processed over the life of the job (replays after a restart count again). */
  processed: number
  /** Records its source reader has still to read, when the source can tell. */
  lagRecords?: number
  /** Its backend's stats, while its worker runs. */
  stats?: BackendStats
}

export interface JobMetricsOptions {
  registry?: Registry
  /** Name prefix; default 'keyed_state_'. */
  prefix?: string
}

export interface JobMetrics {
  readonly registry: Registry
  /** The checkpoint metrics follow `coordinator` from now on. */
  attach(coordinator: CheckpointCoordinator): void
  recordRestart(cause: RestartCause): void
  /** A new set of workers started from a snapshot: after a restart or restoreFrom, or at a new parallelism (rescale). */
  recordRestore(durationMs: number, rescale: boolean): void
}

/** Metrics over `workers`, called on every scrape (once per metric). */
export function jobMetrics(workers: () => readonly WorkerSample[], options: JobMetricsOptions = {}): JobMetrics {
  const registry = options.registry ?? new Registry()
  const p = options.prefix ?? 'keyed_state_'
  const registers = [registry]
  const checkpoints = checkpointMetrics(undefined, { registry, prefix: p })
  backendStatsMetrics(() => workers().flatMap((w) => (w.stats ? [{ instance: w.worker, stats: w.stats }] : [])), { registry, prefix: p })
  new Counter({
    name: `${p}events_total`, help: 'Events processed, by worker index (replays after a restart count again; rate() gives events per second)',
    labelNames: ['worker'], registers,
    collect() {
      this.reset()
      for (const w of workers()) this.inc({ worker: String(w.worker) }, w.processed)
    },
  })
  new Gauge({
    name: `${p}source_lag_records`, help: 'Records the worker\'s source reader has still to read (generator, NATS JetStream)',
    labelNames: ['worker'], registers,
    collect() {
      this.reset()
      for (const w of workers()) if (w.lagRecords !== undefined) this.set({ worker: String(w.worker) }, w.lagRecords)
    },
  })
  const restarts = new Counter({ name: `${p}job_restarts_total`, help: 'Restarts of the job, by cause', labelNames: ['cause'], registers })
  // Every cause from the start: a series that appears only at the first restart hides that restart from rate().
  for (const cause of RESTART_CAUSES) restarts.inc({ cause }, 0)
  return {
    registry,
    attach: (c) => checkpoints.attach(c),
    recordRestart: (cause) => restarts.inc({ cause }),
    recordRestore: (durationMs, rescale) => checkpoints.recordRestore(durationMs, rescale),
  }
}
