// What every group gets: the run's configuration, temp space, progress, a memo
// so measures shared by groups (a 1 GB fixture) run once, and error collection.
import type { GoalResult } from './goals.js'
import type { Progress } from './progress.js'
import type { Table } from './table.js'
import type { TempSpace } from './tmp.js'
import { forceGc, whyNotFits, type Footprint } from './machine.js'

export interface BenchConfig {
  quick: boolean
  /** State sizes for the size-dependent groups, ascending. */
  sizes: number[]
  /** Distinct keys in the state-access group. */
  accessKeys: number
  /** Distinct keys in the hot-path group (issue 17 measured at 1 M). */
  hotPathKeys: number
  /** Value length (characters) in the state-access group. */
  accessValueChars: number
  /** Value length (characters) of the state built for checkpoint/restore sizes. */
  stateValueChars: number
  /** tinybench time per measure, split over `rounds` interleaved rounds. */
  benchTimeMs: number
  benchWarmupMs: number
  /** Interleaved rounds per throughput measure (median of the rounds). */
  rounds: number
}

export function defaultConfig(quick: boolean): BenchConfig {
  return quick
    ? { quick, sizes: [1e6, 3e6, 10e6], accessKeys: 20_000, hotPathKeys: 50_000, accessValueChars: 100, stateValueChars: 200, benchTimeMs: 150, benchWarmupMs: 50, rounds: 3 }
    : { quick, sizes: [10e6, 100e6, 1e9], accessKeys: 100_000, hotPathKeys: 1_000_000, accessValueChars: 100, stateValueChars: 200, benchTimeMs: 1500, benchWarmupMs: 100, rounds: 5 }
}

/** A point of the checkpoint-cost chart: one method at one state size. */
export interface CostPoint {
  method: string
  stateBytes: number
  timeMs: number
  bytesWritten: number
}

export interface GroupResult {
  tables: Table[]
  goals: GoalResult[]
  notes: string[]
  chart: CostPoint[]
}

export function emptyResult(): GroupResult {
  return { tables: [], goals: [], notes: [], chart: [] }
}

export class RunContext {
  private readonly memos = new Map<string, Promise<unknown>>()
  /** Failures of pieces that exist but broke, with their stack, for the report. */
  readonly failures: string[] = []

  constructor(
    readonly config: BenchConfig,
    readonly tmp: TempSpace,
    readonly progress: Progress,
  ) {}

  /** Runs `fn` once per key in this run; later callers get the same promise. */
  memo<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memos.get(key) as Promise<T> | undefined
    if (!p) {
      p = fn()
      this.memos.set(key, p)
    }
    return p
  }

  hasMemo(key: string): boolean {
    return this.memos.has(key)
  }

  recordFailure(where: string, e: unknown): void {
    const text = e instanceof Error ? (e.stack ?? e.message) : String(e)
    this.failures.push(`${where}: ${text}`)
    this.progress.log(`! ${where}: ${e instanceof Error ? e.message : String(e)}`)
  }

  /** Error callback for attempt(): records failures under `where`. */
  onError(where: string): (e: unknown) => void {
    return (e) => this.recordFailure(where, e)
  }

  whyNotFits(sizeBytes: number, footprint: Footprint): string | undefined {
    // Garbage of the previous measure (a disposed 1 GB heap backend) would count as used heap.
    forceGc()
    return whyNotFits(sizeBytes, footprint)
  }
}

export interface BenchGroup {
  id: string
  title: string
  /** One paragraph for RESULTS.md: what is measured and against what. */
  description: string
  /** How many progress steps run() will take. */
  steps(config: BenchConfig): number
  run(ctx: RunContext): Promise<GroupResult>
}
