// Timing: tinybench for per-operation throughput, process.hrtime for whole
// bulk operations (a checkpoint of 1 GB runs once, not thousands of times).
import { Bench } from 'tinybench'

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Runs `fn` once and returns its wall time in milliseconds with its value. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint()
  const value = await fn()
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export interface ThroughputTask {
  name: string
  /** Performs `opsPerCall` operations; may return a promise. */
  fn: () => unknown
  opsPerCall: number
  /**
   * For work timed elsewhere (the native C++ loop times itself): returns the
   * duration in ms of one call, which replaces tinybench's own measurement.
   */
  selfTimed?: boolean
}

export interface ThroughputOptions {
  timeMs: number
  warmupMs: number
}

/**
 * Operations per second of each task (median of tinybench samples, which is
 * robust against a GC pause landing in one sample). Tasks run one after the
 * other in one process, so their ratios are comparable.
 */
export async function measureThroughput(task: ThroughputTask, options: ThroughputOptions): Promise<number> {
  const bench = new Bench({ time: options.timeMs, warmupTime: options.warmupMs, iterations: 5, warmupIterations: 2, throws: true })
  if (task.selfTimed) {
    bench.add(task.name, () => ({ overriddenDuration: task.fn() as number }))
  } else {
    bench.add(task.name, task.fn)
  }
  await bench.run()
  const result = bench.tasks[0]!.result
  if (!result || result.error) throw result?.error ?? new Error(`benchmark '${task.name}' produced no result`)
  const latencyMs = result.latency.p50 ?? result.latency.mean
  return (task.opsPerCall * 1000) / latencyMs
}

/**
 * Measures every task once per round, `rounds` times, in the given order, and
 * returns each task's median. Load from other processes drifts over a run;
 * interleaving spreads it over all tasks instead of penalising whichever ran
 * during a spike. A task that throws is not run again; its error is returned.
 */
export async function interleavedMedians(
  tasks: readonly ThroughputTask[],
  rounds: number,
  options: ThroughputOptions,
  beforeRound?: (round: number) => void,
): Promise<Array<number | { error: unknown }>> {
  const results = await interleavedRounds(tasks, rounds, options, beforeRound)
  return results.map((r) => (Array.isArray(r) ? median(r) : r))
}

/**
 * interleavedMedians without the median: each task's rate in every round, so
 * that a ratio of two tasks can be taken round by round (the rounds of two tasks
 * ran seconds apart, under the same load) and its spread shown.
 */
export async function interleavedRounds(
  tasks: readonly ThroughputTask[],
  rounds: number,
  options: ThroughputOptions,
  beforeRound?: (round: number) => void,
): Promise<Array<number[] | { error: unknown }>> {
  const samples: number[][] = tasks.map(() => [])
  const errors: Array<{ error: unknown } | undefined> = tasks.map(() => undefined)
  const perRound = { ...options, timeMs: options.timeMs / rounds }
  for (let round = 1; round <= rounds; round++) {
    beforeRound?.(round)
    for (const [i, task] of tasks.entries()) {
      if (errors[i]) continue
      try {
        samples[i]!.push(await measureThroughput(task, perRound))
      } catch (error) {
        errors[i] = { error }
      }
    }
  }
  return tasks.map((_, i) => errors[i] ?? samples[i]!)
}

/** Median and range of the round-by-round ratios a[i] / b[i]. */
export function ratioSpread(a: readonly number[], b: readonly number[]): { median: number; min: number; max: number; rounds: number } {
  const ratios = a.slice(0, b.length).map((x, i) => x / b[i]!)
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), rounds: ratios.length }
}
