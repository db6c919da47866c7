// Snapshot runs whose resources (native snapshot, iterators, checkpoint
// directories) are still held. close() cancels them and waits until every one
// has settled and released, so the database never closes under a reader.
import type { SnapshotRun } from '../../snapshot/types.js'

export interface InFlightTicket {
  /** Called once the run settled (success, failure or cancel); releases its resources. Idempotent. */
  readonly settle: () => void
  /** Hands over the run object (after its synchronous part returned it). */
  attach(run: SnapshotRun): void
}

interface Entry {
  run: SnapshotRun | undefined
  settled: boolean
  release: () => void
}

export class InFlightRuns {
  private readonly entries = new Set<Entry>()

  get size(): number {
    return this.entries.size
  }

  /** Starts tracking resources before the run exists (the strategy may settle synchronously). */
  begin(release: () => void): InFlightTicket {
    const entry: Entry = { run: undefined, settled: false, release }
    this.entries.add(entry)
    const settle = (): void => {
      if (entry.settled) return
      entry.settled = true
      this.entries.delete(entry)
      entry.release()
    }
    return {
      settle,
      attach: (run) => {
        // A run nobody awaits is still cancelled by close(); its rejection must not
        // become an unhandled rejection. Callers who await `done` still see it.
        run.done.catch(() => {})
        if (!entry.settled) entry.run = run
      },
    }
  }

  /**
   * Cancels every run still in flight and waits until all have settled, at most
   * `waitMs`: a run that ignores cancellation must not keep close() pending
   * forever (the addon refuses its reads once the database is closed).
   */
  async cancelAll(waitMs: number): Promise<void> {
    const entries = [...this.entries]
    for (const e of entries) e.run?.cancel()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs)
    })
    await Promise.race([Promise.allSettled(entries.map((e) => e.run?.done)), timeout])
    clearTimeout(timer)
    // Runs settle through their strategy's onSettled; this covers a strategy that did not.
    for (const e of entries) {
      if (!e.settled) {
        e.settled = true
        this.entries.delete(e)
        e.release()
      }
    }
  }
}
