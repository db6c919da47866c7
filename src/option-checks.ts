// Friendly checks of option objects at the public edge: an unknown option is
// refused with the known one it most likely meant ("readOnly" → "readonly").
import { KeyedStateError, type ErrorDetails } from './errors.js'

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The known name closest to `name`: case differences and up to two typos. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}

/**
 * Throws INVALID_ARGUMENT for the first key of `options` not in `known`,
 * naming `what` (e.g. "CheckpointCoordinator option") and the likely intended name.
 */
export function checkKnownOptions(options: object, known: ReadonlySet<string> | readonly string[], what: string, details?: ErrorDetails): void {
  const knownSet: ReadonlySet<string> = known instanceof Set ? known : new Set(known as readonly string[])
  for (const key of Object.keys(options)) {
    if (knownSet.has(key)) continue
    const hint = closestName(key, knownSet)
    throw new KeyedStateError('INVALID_ARGUMENT', `unknown ${what} '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`, details)
  }
}

/** A boolean option: `defaultValue` when absent, else INVALID_ARGUMENT unless it is a boolean. */
export function booleanOption(value: unknown, name: string, defaultValue: boolean): boolean {
  if (value === undefined) return defaultValue
  if (typeof value !== 'boolean') throw new KeyedStateError('INVALID_ARGUMENT', `${name} must be a boolean, got ${JSON.stringify(value)}`)
  return value
}
