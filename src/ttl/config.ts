// Checks a descriptor's StateTtlConfig once, when the state is bound, and
// resolves it into the flags the TTL layer reads on every access.
import { KeyedStateError } from '../errors.js'
import { checkKnownOptions } from '../option-checks.js'
import type { StateTtlConfig, TtlClock } from '../state/ttl.js'
import { systemClock } from '../state/ttl.js'

export interface ResolvedTtl {
  readonly ttlMs: number
  /** 'onReadAndWrite': a read of a live value renews its timestamp. */
  readonly updateOnRead: boolean
  /** 'returnExpiredIfNotCleanedUp': a read may still return an expired value (once; the read removes it). */
  readonly returnExpired: boolean
  readonly clock: TtlClock
}

const KNOWN_KEYS = ['ttlMs', 'updateType', 'visibility', 'clock'] as const
const UPDATE_TYPES = ['onCreateAndWrite', 'onReadAndWrite']
const VISIBILITIES = ['neverReturnExpired', 'returnExpiredIfNotCleanedUp']

function invalid(state: string, what: string): KeyedStateError {
  return new KeyedStateError('INVALID_ARGUMENT', `state '${state}': TTL config ${what}`, { state })
}

export function resolveTtl(state: string, config: StateTtlConfig): ResolvedTtl {
  if (config === null || typeof config !== 'object') throw invalid(state, 'must be an object like { ttlMs: 60_000 }')
  checkKnownOptions(config, KNOWN_KEYS, `TTL option of state '${state}':`, { state })
  const { ttlMs, updateType = 'onCreateAndWrite', visibility = 'neverReturnExpired', clock = systemClock } = config
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw invalid(state, `ttlMs must be a positive integer, got ${String(ttlMs)}`)
  if (!UPDATE_TYPES.includes(updateType)) throw invalid(state, `updateType must be ${UPDATE_TYPES.map((t) => `'${t}'`).join(' or ')}, got '${String(updateType)}'`)
  if (!VISIBILITIES.includes(visibility)) throw invalid(state, `visibility must be ${VISIBILITIES.map((t) => `'${t}'`).join(' or ')}, got '${String(visibility)}'`)
  if (!clock || typeof clock.now !== 'function') throw invalid(state, 'clock must have a now() method returning milliseconds')
  return { ttlMs, updateOnRead: updateType === 'onReadAndWrite', returnExpired: visibility === 'returnExpiredIfNotCleanedUp', clock }
}

/** The clock's time as integer milliseconds; a clock returning something else is a bug worth reporting. */
export function nowOf(ttl: ResolvedTtl, state: string): number {
  const t = ttl.clock.now()
  if (Number.isSafeInteger(t)) return t
  if (typeof t !== 'number' || !Number.isFinite(t) || Math.abs(t) > Number.MAX_SAFE_INTEGER) {
    throw invalid(state, `clock.now() returned ${String(t)}, expected milliseconds as a finite number`)
  }
  return Math.floor(t)
}

/** Whether a value last accessed at `lastAccessMs` has expired at `nowMs`. */
export function isExpired(lastAccessMs: number, ttlMs: number, nowMs: number): boolean {
  return lastAccessMs + ttlMs <= nowMs
}
