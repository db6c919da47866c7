// The checkpoint history: one JSON line per checkpoint or savepoint that
// completed or failed, in `_checkpoint_history.jsonl` at the storage root
// (docs/FORMAT.md 9). `keyed-state ui` shows it, so the page knows more than
// the retained checkpoints (whose `_metadata` is deleted when subsumed) and
// the failures (which leave no `_metadata` at all). Bounded: the newest
// maxEntries lines are kept. Object stores have no append, so each record
// rewrites the file atomically (it is small: a line is ~300 bytes plus ~120
// per instance), from a copy kept in memory after the first read.
import { KeyedStateError, isKeyedStateError } from '../errors.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { SnapshotType } from '../snapshot/types.js'
import type { CheckpointStorage } from '../storage/types.js'
import { HISTORY_FILE_NAME } from './layout.js'
import type { CheckpointMetadata } from './metadata.js'

export { HISTORY_FILE_NAME }

export const HISTORY_VERSION = 1
export const DEFAULT_HISTORY_MAX_ENTRIES = 1000
/** A history file larger than this is not ours and is not parsed. */
export const HISTORY_MAX_BYTES = 64 * 1024 * 1024

export interface HistoryInstanceEntry {
  index: number
  keyGroupRange: KeyGroupRange
  sizeBytes: number
  incrementalSizeBytes: number
  syncDurationMs: number
  asyncDurationMs: number
}

export interface CheckpointHistoryEntry {
  v: typeof HISTORY_VERSION
  checkpointId: number
  type: SnapshotType
  status: 'completed' | 'failed'
  /** Storage-relative directory of the snapshot. */
  dir: string
  triggeredAtMs: number
  /** When `_metadata` was written, or when the failure was settled. */
  endedAtMs: number
  durationMs: number
  /** The longest synchronous part of any instance: the pause processing saw. Completed only. */
  syncPauseMs?: number
  /** The longest asynchronous part of any instance. Completed only. */
  asyncDurationMs?: number
  sizeBytes?: number
  incrementalSizeBytes?: number
  parallelism?: number
  instances?: HistoryInstanceEntry[]
  /** Why it failed (the error's code and message). */
  failure?: { code: string; message: string }
}

export function historyEntryOfCompleted(md: CheckpointMetadata): CheckpointHistoryEntry {
  const instances = md.instances.map((i) => ({
    index: i.index,
    keyGroupRange: { start: i.keyGroupRange.start, end: i.keyGroupRange.end },
    sizeBytes: i.sizeBytes,
    incrementalSizeBytes: i.incrementalSizeBytes,
    syncDurationMs: i.syncDurationMs,
    asyncDurationMs: i.asyncDurationMs,
  }))
  return {
    v: HISTORY_VERSION,
    checkpointId: md.checkpointId,
    type: md.type,
    status: 'completed',
    dir: md.dir,
    triggeredAtMs: md.triggeredAtMs,
    endedAtMs: md.completedAtMs,
    durationMs: Math.max(0, md.completedAtMs - md.triggeredAtMs),
    syncPauseMs: Math.max(0, ...instances.map((i) => i.syncDurationMs)),
    asyncDurationMs: Math.max(0, ...instances.map((i) => i.asyncDurationMs)),
    sizeBytes: md.sizeBytes,
    incrementalSizeBytes: md.incrementalSizeBytes,
    parallelism: md.parallelism,
    instances,
  }
}

export function historyEntryOfFailed(
  f: { checkpointId: number; type: SnapshotType; dir: string; triggeredAtMs: number; reason: KeyedStateError },
  endedAtMs = Date.now(),
): CheckpointHistoryEntry {
  return {
    v: HISTORY_VERSION,
    checkpointId: f.checkpointId,
    type: f.type,
    status: 'failed',
    dir: f.dir,
    triggeredAtMs: f.triggeredAtMs,
    endedAtMs,
    durationMs: Math.max(0, endedAtMs - f.triggeredAtMs),
    failure: { code: f.reason.code, message: f.reason.message },
  }
}

export interface CheckpointHistory {
  entries: CheckpointHistoryEntry[]
  /** Lines that are not history entries (named by line number); they are skipped, not guessed at. */
  problems: string[]
}

function isEntry(x: unknown): x is CheckpointHistoryEntry {
  if (typeof x !== 'object' || x === null) return false
  const e = x as Record<string, unknown>
  return (
    e.v === HISTORY_VERSION &&
    Number.isSafeInteger(e.checkpointId) &&
    (e.type === 'checkpoint' || e.type === 'savepoint') &&
    (e.status === 'completed' || e.status === 'failed') &&
    typeof e.dir === 'string' &&
    typeof e.triggeredAtMs === 'number' &&
    typeof e.endedAtMs === 'number' &&
    typeof e.durationMs === 'number'
  )
}

export function parseHistory(text: string, file: string): CheckpointHistory {
  const entries: CheckpointHistoryEntry[] = []
  const problems: string[] = []
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      problems.push(`${file} line ${i + 1}: not JSON`)
      return
    }
    if (isEntry(parsed)) entries.push(parsed)
    else problems.push(`${file} line ${i + 1}: not a version ${HISTORY_VERSION} history entry`)
  })
  return { entries, problems }
}

/** Reads the history of a storage; an empty one when there is no history file. */
export async function readCheckpointHistory(storage: CheckpointStorage): Promise<CheckpointHistory> {
  if (!(await storage.exists(HISTORY_FILE_NAME))) return { entries: [], problems: [] }
  const size = await storage.size(HISTORY_FILE_NAME)
  if (size > HISTORY_MAX_BYTES) {
    throw new KeyedStateError('CORRUPTION', `${HISTORY_FILE_NAME} is ${size} bytes, more than a history file can be (${HISTORY_MAX_BYTES})`, { file: HISTORY_FILE_NAME })
  }
  return parseHistory((await storage.read(HISTORY_FILE_NAME)).toString('utf8'), HISTORY_FILE_NAME)
}

/** Appends entries one at a time, in order; failures go to `onError` and never reach the checkpoint. */
export class CheckpointHistoryWriter {
  private lines: string[] | undefined
  private tail: Promise<void> = Promise.resolve()

  constructor(
    private readonly storage: CheckpointStorage,
    private readonly maxEntries: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Queues the entry; the promise resolves once it is written (or failed), and never rejects. */
  record(entry: CheckpointHistoryEntry): Promise<void> {
    this.tail = this.tail.then(() => this.write(entry)).catch((e: unknown) => this.onError(e))
    return this.tail
  }

  /** Resolves once every recorded entry is written (or failed). */
  flush(): Promise<void> {
    return this.tail
  }

  private async write(entry: CheckpointHistoryEntry): Promise<void> {
    if (this.lines === undefined) {
      let existing: CheckpointHistory
      try {
        existing = await readCheckpointHistory(this.storage)
      } catch (e) {
        // An unreadable history is replaced, not appended to; the caller hears why.
        if (!isKeyedStateError(e)) throw e
        this.onError(e)
        existing = { entries: [], problems: [] }
      }
      this.lines = existing.entries.map((e) => JSON.stringify(e))
    }
    this.lines.push(JSON.stringify(entry))
    if (this.lines.length > this.maxEntries) this.lines.splice(0, this.lines.length - this.maxEntries)
    await this.storage.writeAtomic(HISTORY_FILE_NAME, Buffer.from(`${this.lines.join('\n')}\n`, 'utf8'))
  }
}
