// The job the runtime benchmark runs (bench/runtime.ts): the shared counting
// job (examples/counting-job.ts) whose workers measure themselves. With
// `reportDir`, each worker measures itself from its first event to the end of
// its input (events, wall time, its process's CPU time) and writes it there:
// the coordinator's view (heartbeats) is late and coarse.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { defineJob, type OperatorContext } from '../src/index.js'
import { Counter, countingJob, type CountEvent, type CountingParams } from '../examples/counting-job.js'

export interface BenchParams extends CountingParams {
  /** Where each worker writes its WorkerMeasure as worker-<index>.json. */
  reportDir?: string
}

export interface WorkerMeasure {
  events: number
  /** Epoch milliseconds of the first event and of the end of input. */
  startMs: number
  endMs: number
  /** CPU seconds of the worker process (all threads) from the first event to the end of input. */
  cpuSeconds: number
}

const nowMs = (): number => performance.timeOrigin + performance.now()
const cpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

class MeasuredCounter extends Counter {
  private events = 0
  private startMs = 0
  private startCpu = 0

  constructor(private readonly reportDir?: string) {
    super()
  }

  override processElement(e: CountEvent): void {
    if (this.events++ === 0) {
      this.startMs = nowMs()
      this.startCpu = cpuSeconds()
    }
    super.processElement(e)
  }

  endOfInput(ctx: OperatorContext<string>): void {
    if (!this.reportDir) return
    const m: WorkerMeasure = { events: this.events, startMs: this.startMs, endMs: nowMs(), cpuSeconds: cpuSeconds() - this.startCpu }
    writeFileSync(join(this.reportDir, `worker-${ctx.workerIndex}.json`), JSON.stringify(m))
  }
}

export default defineJob<CountEvent, string, BenchParams>({ ...countingJob, operator: (p) => new MeasuredCounter(p.reportDir) })
