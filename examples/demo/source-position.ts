// Where an instance reads the source from, kept as operator state in every
// checkpoint (the instance acknowledges it with its handle and the
// coordinator writes it into `_metadata`), so the offsets and the keyed state
// are committed together: exactly once with respect to state.
//
// Offsets are kept per run of key groups, not per instance. After a rescale
// an instance owns key groups that old instances had read up to different
// offsets; each key group must resume exactly where its old owner stopped, or
// events would be counted twice (resume too early) or never (too late).
import {
  formatRange,
  rangeIntersection,
  rangeSize,
  type CheckpointMetadata,
  type KeyGroupRange,
} from '../../src/index.js'

// Type aliases rather than interfaces: they are plain JSON (JsonValue), as operator state must be.
export type OffsetRun = {
  keyGroups: { start: number; end: number }
  /** Every event before this offset whose key is in `keyGroups` is in the keyed state. */
  nextOffset: number
}

/** The operator state of one instance. */
export type SourceOperatorState = {
  sourceOffsets: OffsetRun[]
}

/**
 * The offsets an instance owning `range` resumes from, taken from the
 * operator states of the old instances that owned those key groups at the
 * checkpoint (offset 0 everywhere when there is no checkpoint).
 */
export function resumeOffsetsFor(checkpoint: CheckpointMetadata | undefined, range: KeyGroupRange): OffsetRun[] {
  if (!checkpoint) return [{ keyGroups: range, nextOffset: 0 }]
  const runs: OffsetRun[] = []
  for (const inst of checkpoint.instances) {
    if (rangeSize(rangeIntersection(inst.keyGroupRange, range)) === 0) continue
    const state = inst.operatorState as SourceOperatorState | undefined
    if (!state || !Array.isArray(state.sourceOffsets)) {
      throw new Error(`checkpoint ${checkpoint.checkpointId}: instance ${inst.index} recorded no source offsets (was it written by this job?)`)
    }
    for (const run of state.sourceOffsets) {
      const keyGroups = rangeIntersection(run.keyGroups, range)
      if (rangeSize(keyGroups) > 0) runs.push({ keyGroups, nextOffset: run.nextOffset })
    }
  }
  runs.sort((a, b) => a.keyGroups.start - b.keyGroups.start)
  let next = range.start
  for (const run of runs) {
    if (run.keyGroups.start !== next) break
    next = run.keyGroups.end + 1
  }
  if (next !== range.end + 1) {
    throw new Error(`checkpoint ${checkpoint.checkpointId}: the source offsets do not cover key groups ${formatRange(range)}`)
  }
  return runs
}

/** An instance's reading position: the offsets it resumed from, and how far it has read since. */
export class SourcePosition {
  /** Per key group of the range: apply events from this offset on. */
  private readonly resumeAt: number[]
  /** Where reading starts: the smallest resume offset. */
  readonly startOffset: number

  constructor(
    readonly range: KeyGroupRange,
    resumeFrom: readonly OffsetRun[],
  ) {
    this.resumeAt = new Array<number>(rangeSize(range)).fill(-1)
    for (const run of resumeFrom) {
      for (let kg = run.keyGroups.start; kg <= run.keyGroups.end; kg++) this.resumeAt[kg - range.start] = run.nextOffset
    }
    if (this.resumeAt.includes(-1)) throw new Error(`no resume offset for some key groups of ${formatRange(range)}`)
    this.startOffset = Math.min(...this.resumeAt)
  }

  /** Whether the event at `offset` in `keyGroup` (one of ours) still has to be applied. */
  shouldApply(keyGroup: number, offset: number): boolean {
    return offset >= this.resumeAt[keyGroup - this.range.start]!
  }

  /** The operator state at a barrier, when the next event to read is `nextOffset`. */
  snapshot(nextOffset: number): SourceOperatorState {
    const runs: OffsetRun[] = []
    for (let i = 0; i < this.resumeAt.length; i++) {
      // A key group that resumed beyond nextOffset already holds the events up to its resume offset.
      const offset = Math.max(this.resumeAt[i]!, nextOffset)
      const last = runs.at(-1)
      if (last && last.nextOffset === offset) last.keyGroups = { start: last.keyGroups.start, end: this.range.start + i }
      else runs.push({ keyGroups: { start: this.range.start + i, end: this.range.start + i }, nextOffset: offset })
    }
    return { sourceOffsets: runs }
  }
}
