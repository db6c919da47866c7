// Source positions as operator state. Every checkpoint records, per key group,
// the source position from which the events of that key group are not yet in
// the keyed state; the instance acknowledges them with its handle and the
// coordinator writes them into `_metadata`, so positions and state become
// durable together (exactly once with respect to state).
//
// Positions are kept per key group, not per worker: after a rescale a worker
// owns key groups that old workers had read to different positions, and each
// key group must resume exactly where its old owner stopped. Adjacent key
// groups at the same position are stored as one run, to keep `_metadata` small.
import { KeyedStateError } from '../errors.js'
import { formatRange, rangeContains, rangeIntersection, rangeSize, type KeyGroupRange } from '../keygroups.js'
import { canonicalJson, type CheckpointMetadata, type JsonValue } from '../checkpoint/metadata.js'
import type { SourcePosition } from './source.js'

/** [first key group, last key group, position]: a plain JSON tuple. */
export type PositionRun = [number, number, SourcePosition]

/** The operator state a runtime worker acknowledges. */
export type WorkerOperatorState = { sourcePositions: PositionRun[] }

/** Positions of a range, as runs of adjacent key groups with equal positions. */
export function positionRuns(range: KeyGroupRange, positions: ReadonlyMap<number, SourcePosition>): PositionRun[] {
  const runs: PositionRun[] = []
  let lastKey = ''
  for (let kg = range.start; kg <= range.end; kg++) {
    const position = positions.get(kg)
    if (position === undefined) throw new KeyedStateError('INTERNAL', `the source reported no position for key group ${kg}`, { keyGroup: kg })
    const key = canonicalJson(position)
    const last = runs.at(-1)
    if (last && key === lastKey) last[1] = kg
    else runs.push([kg, kg, position])
    lastKey = key
  }
  return runs
}

function isRun(v: JsonValue): v is PositionRun {
  return Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[0]) && Number.isSafeInteger(v[1]) && (v[0] as number) <= (v[1] as number)
}

/**
 * Where each key group of `range` resumes, from the operator states that the
 * checkpoint's instances recorded; every key group maps to undefined (start of
 * its partition) when there is no checkpoint. A checkpoint without positions
 * for a key group of the range was not written by a runtime job: refused
 * rather than silently re-reading from the start.
 */
export function resumePositions(checkpoint: CheckpointMetadata | undefined, range: KeyGroupRange): Map<number, SourcePosition | undefined> {
  const out = new Map<number, SourcePosition | undefined>()
  for (let kg = range.start; kg <= range.end; kg++) out.set(kg, undefined)
  if (!checkpoint) return out
  const covered = new Set<number>()
  for (const inst of checkpoint.instances) {
    if (rangeSize(rangeIntersection(inst.keyGroupRange, range)) === 0) continue
    const state = inst.operatorState as { sourcePositions?: JsonValue } | undefined
    const runs = state?.sourcePositions
    if (!Array.isArray(runs) || !runs.every(isRun)) {
      throw new KeyedStateError(
        'CORRUPTION',
        `checkpoint ${checkpoint.checkpointId} (${checkpoint.dir || 'savepoint'}): instance ${inst.index} recorded no source positions; ` +
          'was it written by a runtime job?',
      )
    }
    for (const [start, end, position] of runs) {
      for (let kg = Math.max(start, range.start); kg <= Math.min(end, range.end); kg++) {
        out.set(kg, position)
        covered.add(kg)
      }
    }
  }
  for (let kg = range.start; kg <= range.end; kg++) {
    if (!covered.has(kg)) {
      throw new KeyedStateError('CORRUPTION', `checkpoint ${checkpoint.checkpointId}: no source position for key group ${kg} of ${formatRange(range)}`, { keyGroup: kg })
    }
  }
  return out
}

/** Checks that a reader's positions cover exactly its range (a bug in a source otherwise). */
export function checkPositionsCover(range: KeyGroupRange, positions: ReadonlyMap<number, SourcePosition>): void {
  for (const kg of positions.keys()) {
    if (!rangeContains(range, kg)) throw new KeyedStateError('INTERNAL', `the source reported a position for key group ${kg}, outside ${formatRange(range)}`, { keyGroup: kg })
  }
}
