// keyed-state run <job module> / keyed-state stop <pid | pid file>: start a
// job from its module in the foreground (what happened goes to stderr, one
// line per event), and stop it from another terminal. A stop (SIGTERM or
// SIGINT) takes a savepoint and prints its directory on stdout, so
// `keyed-state run ... --restore-from <that directory>` resumes it. With
// --metrics-port the job's Prometheus metrics are served on /metrics.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { KeyedStateError } from '../../errors.js'
import { runJob, type JobEvent } from '../../runtime/job.js'
import { openCheckpointStorage, s3OptionsFromEnv } from '../../storage/open.js'
import type { BackendKind } from '../../state-backend/types.js'
import { writeLine } from '../lib/output.js'
import { serveMetrics, type MetricsServer } from '../../metrics/server.js'

export interface RunOptions {
  storage: string
  parallelism: number
  maxParallelism?: number
  backend: BackendKind
  params?: string
  checkpointIntervalMs?: number
  restoreFrom?: string
  pidFile?: string
  savepoint: boolean
  /** Serve job.metrics on this port (0: any free one); not served when absent. */
  metricsPort?: number
  metricsHost?: string
  rocksdbStatistics?: boolean
}

function describe(e: JobEvent): string | undefined {
  switch (e.type) {
    case 'state':
      return `job ${e.state}`
    case 'started':
      return `started ${e.parallelism} workers (attempt ${e.attempt})${e.restoredFrom ? ` from ${e.restoredFrom.dir || 'savepoint'} (checkpoint ${e.restoredFrom.checkpointId})` : ''} in ${Math.round(e.startMs)} ms`
    case 'checkpoint':
      return `${e.metadata.type} ${e.metadata.checkpointId} completed (${e.metadata.dir})`
    case 'checkpoint-aborted':
      return `checkpoint ${e.checkpointId} aborted: ${e.reason}`
    case 'failure':
      return `failure (restart ${e.restarts}): ${e.error.message}`
  }
}

export async function runCommand(module: string, o: RunOptions): Promise<number> {
  let params: unknown = null
  if (o.params !== undefined) {
    try {
      params = JSON.parse(o.params)
    } catch (e) {
      throw new KeyedStateError('INVALID_ARGUMENT', `--params is not JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  const job = await runJob({
    job: module,
    params,
    parallelism: o.parallelism,
    ...(o.maxParallelism !== undefined ? { maxParallelism: o.maxParallelism } : {}),
    backend: o.backend,
    ...(o.rocksdbStatistics ? { rocksdbStatistics: true } : {}),
    storage: openCheckpointStorage(o.storage, { s3: s3OptionsFromEnv() }),
    ...(o.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: o.checkpointIntervalMs } : {}),
    ...(o.restoreFrom !== undefined ? { restoreFrom: o.restoreFrom } : {}),
    onEvent: (e) => {
      const line = describe(e)
      if (line) process.stderr.write(`${new Date().toISOString()} ${line}\n`)
    },
  })
  let metrics: MetricsServer | undefined
  if (o.metricsPort !== undefined) {
    try {
      metrics = await serveMetrics(job.metrics, { port: o.metricsPort, host: o.metricsHost ?? '127.0.0.1' })
    } catch (e) {
      await job.stop().catch(() => {})
      throw new KeyedStateError('INVALID_ARGUMENT', `cannot serve metrics on ${o.metricsHost ?? '127.0.0.1'}:${o.metricsPort}: ${e instanceof Error ? e.message : String(e)}`)
    }
    process.stderr.write(`${new Date().toISOString()} metrics at ${metrics.url}\n`)
  }
  if (o.pidFile) writeFileSync(o.pidFile, `${process.pid}\n`)
  const stop = (): void => {
    void job.stop({ savepoint: o.savepoint }).catch((e: unknown) => {
      process.stderr.write(`stop failed: ${e instanceof Error ? e.message : String(e)}\n`)
    })
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  try {
    const result = await job.done
    if (result.snapshot) await writeLine(result.snapshot.dir)
    return 0
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`)
    return 1
  } finally {
    process.off('SIGTERM', stop)
    process.off('SIGINT', stop)
    if (o.pidFile) rmSync(o.pidFile, { force: true })
    await metrics?.close()
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Sends SIGTERM to a `keyed-state run` (by pid or its --pid-file) and waits until it has exited. */
export async function stopCommand(target: string, o: { timeoutMs: number }): Promise<number> {
  const pid = /^\d+$/.test(target) ? Number(target) : existsSync(target) ? Number(readFileSync(target, 'utf8').trim()) : NaN
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new KeyedStateError('INVALID_ARGUMENT', `'${target}' is neither a pid nor a pid file`)
  if (!alive(pid)) throw new KeyedStateError('NOT_FOUND', `no process ${pid}`)
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + o.timeoutMs
  while (alive(pid)) {
    if (Date.now() > deadline) throw new KeyedStateError('ABORTED', `process ${pid} is still running after ${o.timeoutMs} ms`)
    await sleep(50)
  }
  return 0
}
