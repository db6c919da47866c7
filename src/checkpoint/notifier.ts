// Tells the operator instances that a checkpoint completed or was aborted,
// without waiting for them to take it. As in Flink, notifications are
// fire-and-forget: completion is decided by the acknowledgements and the
// durable `_metadata`, so an instance whose event loop is busy must not hold
// the "completed" event or the next trigger (issue 14: one slow instance held
// both for the whole 10 s notification timeout).
//
// Ordering still holds without waiting: each call is made synchronously, in
// the order the coordinator decides (an in-process instance acts inside the
// call; a child process gets the message on the same ordered channel as the
// next trigger), so an instance hears "complete N" before it is asked for
// checkpoint N+1. A notification that fails, or is not taken within the grace
// period, is only reported as a warning.
import type { OperatorInstance } from './instance.js'

export type NotificationOutcome = 'complete' | 'aborted'

export type NotificationWarning = (checkpointId: number, message: string, error?: unknown) => void

export class CheckpointNotifier {
  /** Timers that report notifications not taken within graceMs; one per outstanding notification. */
  private readonly lateTimers = new Set<NodeJS.Timeout>()
  private closed = false

  constructor(
    private readonly instances: readonly OperatorInstance[],
    private readonly graceMs: number,
    private readonly warn: NotificationWarning,
  ) {}

  /** Sends the notification to every instance and returns at once. */
  send(outcome: NotificationOutcome, checkpointId: number): void {
    for (const inst of this.instances) this.sendTo(inst, outcome, checkpointId)
  }

  /** Notifications outstanding (sent, neither taken nor failed, not yet reported late). */
  get outstanding(): number {
    return this.lateTimers.size
  }

  /** Stops watching outstanding notifications: a coordinator that is closed reports nothing more. */
  close(): void {
    this.closed = true
    for (const t of this.lateTimers) clearTimeout(t)
    this.lateTimers.clear()
  }

  private sendTo(inst: OperatorInstance, outcome: NotificationOutcome, checkpointId: number): void {
    const what = `notifyCheckpoint${outcome === 'complete' ? 'Complete' : 'Aborted'}(${checkpointId})`
    let call: Promise<void>
    try {
      call = outcome === 'complete' ? inst.notifyCheckpointComplete(checkpointId) : inst.notifyCheckpointAborted(checkpointId)
    } catch (e) {
      call = Promise.reject(e)
    }
    const timer = setTimeout(() => {
      this.lateTimers.delete(timer)
      this.warn(checkpointId, `${inst.name} did not take ${what} within ${this.graceMs} ms`)
    }, this.graceMs)
    // A warning timer must not keep the process alive.
    timer.unref()
    this.lateTimers.add(timer)
    Promise.resolve(call).then(
      () => {
        clearTimeout(timer)
        this.lateTimers.delete(timer)
      },
      (e: unknown) => {
        clearTimeout(timer)
        this.lateTimers.delete(timer)
        if (!this.closed) this.warn(checkpointId, `${inst.name} did not take ${what}`, e)
      },
    )
  }
}
