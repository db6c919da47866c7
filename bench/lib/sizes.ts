// The size-dependent groups run the same measure at each configured state size,
// skipping (and saying so) a size that does not fit on this machine.
import type { RunContext } from './context.js'
import { sizeLabel } from './format.js'
import type { Footprint } from './machine.js'
import { Unavailable } from './pieces.js'

/** The value of a per-size measure, or why that size was skipped. */
export type PerSize<T> = Map<number, T | Unavailable>

/**
 * Runs `measure` at each size (ascending). A size that does not fit, or whose
 * measure failed, gets an Unavailable with the reason; the next size still runs.
 */
export async function forEachSize<T>(
  ctx: RunContext,
  footprint: Footprint,
  measure: (sizeBytes: number) => Promise<T | Unavailable>,
  /** The memo key of the measure at a size: a measure another group already ran needs no room. */
  memoKeyOf?: (sizeBytes: number) => string,
): Promise<PerSize<T>> {
  const out: PerSize<T> = new Map()
  for (const size of ctx.config.sizes) {
    const reason = memoKeyOf && ctx.hasMemo(memoKeyOf(size)) ? undefined : ctx.whyNotFits(size, footprint)
    if (reason) {
      ctx.progress.log(reason)
      out.set(size, new Unavailable(reason))
      continue
    }
    out.set(size, await measure(size))
  }
  return out
}

export function largestMeasured<T>(perSize: PerSize<T>): { size: number; value: T } | undefined {
  let best: { size: number; value: T } | undefined
  for (const [size, v] of perSize) if (!(v instanceof Unavailable) && (!best || size > best.size)) best = { size, value: v }
  return best
}

/** '1 GB' or, when the largest configured size could not be measured, '100 MB (1 GB skipped)'. */
export function whereLabel(ctx: RunContext, measuredSize: number | undefined): string {
  const largest = Math.max(...ctx.config.sizes)
  if (measuredSize === undefined) return 'no size measured'
  return measuredSize === largest ? sizeLabel(measuredSize) : `${sizeLabel(measuredSize)} (${sizeLabel(largest)} not measured)`
}
