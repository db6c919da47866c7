// Which key groups a set of handles covers. A restore must be refused before
// it starts when any key group of the target has no handle: silently starting
// with empty state for those keys would lose data.
import { KeyedStateError } from './errors.js'
import { formatRange, rangeIntersection, rangeSize, type KeyGroupRange } from './keygroups.js'

/** "40..63" or "7" */
function describeRun(r: KeyGroupRange): string {
  return r.start === r.end ? `${r.start}` : `${r.start}..${r.end}`
}

export function describeKeyGroups(ranges: readonly KeyGroupRange[]): string {
  return ranges.map(describeRun).join(', ')
}

/** The parts of `target` that no range covers, ascending. */
export function uncoveredKeyGroups(ranges: readonly KeyGroupRange[], target: KeyGroupRange): KeyGroupRange[] {
  const gaps: KeyGroupRange[] = []
  if (rangeSize(target) === 0) return gaps
  const sorted = ranges.filter((r) => rangeSize(rangeIntersection(r, target)) > 0).sort((a, b) => a.start - b.start)
  let next = target.start
  for (const r of sorted) {
    if (r.start > next) gaps.push({ start: next, end: Math.min(r.start - 1, target.end) })
    next = Math.max(next, r.end + 1)
    if (next > target.end) break
  }
  if (next <= target.end) gaps.push({ start: next, end: target.end })
  return gaps
}

/** Throws NOT_FOUND naming the key groups of `target` that no range covers; `note` is added to the message. */
export function checkCoverage(ranges: readonly KeyGroupRange[], target: KeyGroupRange, note = ''): void {
  const gaps = uncoveredKeyGroups(ranges, target)
  if (gaps.length === 0) return
  const count = gaps.reduce((n, g) => n + rangeSize(g), 0)
  const given = (ranges.length === 0 ? 'no handles were given' : `the handles cover ${ranges.map(formatRange).join(', ')}`) + note
  throw new KeyedStateError(
    'NOT_FOUND',
    `key group${count === 1 ? '' : 's'} ${describeKeyGroups(gaps)} ${count === 1 ? 'is' : 'are'} not covered by any handle ` +
      `(restoring ${formatRange(target)}; ${given})`,
    { keyGroup: gaps[0]!.start },
  )
}

/** The first key group of `target` that two ranges both cover, or undefined. */
export function firstOverlap(ranges: readonly KeyGroupRange[], target: KeyGroupRange): { keyGroup: number; a: number; b: number } | undefined {
  const clipped = ranges
    .map((r, i) => ({ r: rangeIntersection(r, target), i }))
    .filter((x) => rangeSize(x.r) > 0)
    .sort((x, y) => x.r.start - y.r.start)
  for (let k = 1; k < clipped.length; k++) {
    const prev = clipped[k - 1]!
    const cur = clipped[k]!
    if (cur.r.start <= prev.r.end) return { keyGroup: cur.r.start, a: prev.i, b: cur.i }
  }
  return undefined
}

/**
 * The handles of a backend's `restoreFrom` option: null and undefined entries
 * are dropped (they restore nothing; checkRestoreCoverage mentions them).
 */
export function presentHandles<H extends { keyGroupRange: KeyGroupRange }>(restoreFrom: readonly (H | null | undefined)[]): H[] {
  if (!Array.isArray(restoreFrom)) throw new KeyedStateError('INVALID_ARGUMENT', 'restoreFrom must be an array of snapshot handles')
  const handles: H[] = []
  restoreFrom.forEach((h, i) => {
    if (h === null || h === undefined) return
    const r = h.keyGroupRange
    if (typeof h !== 'object' || !r || !Number.isInteger(r.start) || !Number.isInteger(r.end)) {
      throw new KeyedStateError('INVALID_ARGUMENT', `restoreFrom[${i}] is not a snapshot handle (no key-group range)`)
    }
    handles.push(h)
  })
  return handles
}

/**
 * A backend's restore must cover its range: the handles with `knownEmptyRanges`
 * (instances that held no state) cover `target`, or NOT_FOUND names the key
 * groups they miss. A restore from nothing (`restoreFrom: []`) is an error,
 * not an empty backend. Checked before anything is opened or wiped.
 */
export function checkRestoreCoverage(
  handles: readonly { keyGroupRange: KeyGroupRange }[],
  given: readonly unknown[],
  knownEmptyRanges: readonly KeyGroupRange[] | undefined,
  target: KeyGroupRange,
): void {
  if (knownEmptyRanges !== undefined && !Array.isArray(knownEmptyRanges)) throw new KeyedStateError('INVALID_ARGUMENT', 'knownEmptyRanges must be an array of key-group ranges')
  const dropped = given.length - handles.length
  const note = dropped === 0 ? '' : ` (${dropped} entr${dropped === 1 ? 'y' : 'ies'} of restoreFrom ${dropped === 1 ? 'is' : 'are'} null or undefined)`
  checkCoverage([...handles.map((h) => h.keyGroupRange), ...(knownEmptyRanges ?? [])], target, note)
}
