// What every StorageOutput (fs.ts, s3-output.ts) shares: its life cycle
// (open → committed or discarded), the byte count, operations run one after
// another (so discard() during a write waits for it instead of racing it),
// and the CLOSED error for a write or commit that comes too late; and the
// CANCELLED error of an upload whose signal fired.
import { KeyedStateError } from '../errors.js'

export abstract class SerialStorageOutput {
  protected state: 'open' | 'committed' | 'discarded' = 'open'
  protected written = 0
  private tail: Promise<unknown> = Promise.resolve()

  abstract readonly path: string

  get bytesWritten(): number {
    return this.written
  }

  /** Runs `op` after every operation started before it, whether those succeeded or failed. */
  protected serialize<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op, op)
    this.tail = result.catch(() => {})
    return result
  }

  /**
   * Throws CLOSED unless the output is open and `usable` (false when a failed
   * commit already gave up the file, although nothing was committed).
   */
  protected assertOpen(operation: 'write to' | 'commit of', usable = true): asserts usable {
    if (this.state === 'open' && usable) return
    const after = this.state === 'open' ? 'a failed commit' : this.state === 'committed' ? 'commit' : 'discard'
    throw new KeyedStateError('CLOSED', `${operation} ${this.path} after ${after}`, { file: this.path })
  }
}

/** Throws CANCELLED naming the file once `signal` has fired (the caller of an upload gave up). */
export function throwIfUploadCancelled(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted) throw new KeyedStateError('CANCELLED', `upload of ${path} was cancelled`, { file: path })
}
