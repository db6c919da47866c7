// Restart strategies, as Flink's: after a failure the job restarts from the
// latest completed checkpoint after a delay, a bounded number of times.
//   fixed-delay   the same delay before every restart
//   exponential   the delay doubles (multiplier) up to maxDelayMs
//   none          the first failure fails the job
// Attempts are counted over the job's life (a restart that then runs fine
// still counts), so a job that keeps failing fails for good.
import { KeyedStateError } from '../errors.js'
import { checkKnownOptions } from '../option-checks.js'

export type RestartStrategy =
  | { kind: 'none' }
  | { kind: 'fixed-delay'; maxAttempts: number; delayMs: number }
  | { kind: 'exponential'; maxAttempts: number; initialDelayMs: number; maxDelayMs: number; multiplier?: number }

export const DEFAULT_RESTART_STRATEGY: RestartStrategy = { kind: 'exponential', maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2 }

const KNOWN: Record<RestartStrategy['kind'], string[]> = {
  'none': ['kind'],
  'fixed-delay': ['kind', 'maxAttempts', 'delayMs'],
  'exponential': ['kind', 'maxAttempts', 'initialDelayMs', 'maxDelayMs', 'multiplier'],
}

export function checkRestartStrategy(s: RestartStrategy): void {
  if (typeof s !== 'object' || s === null || !(s.kind in KNOWN)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `restartStrategy.kind must be one of ${Object.keys(KNOWN).join(', ')}, got ${JSON.stringify((s as { kind?: unknown })?.kind)}`)
  }
  checkKnownOptions(s, KNOWN[s.kind], `restartStrategy (${s.kind}) option`)
  const integer = (name: string, v: unknown, min: number): void => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new KeyedStateError('INVALID_ARGUMENT', `restartStrategy.${name} must be an integer >= ${min}, got ${String(v)}`)
    }
  }
  if (s.kind === 'fixed-delay') {
    integer('maxAttempts', s.maxAttempts, 0)
    integer('delayMs', s.delayMs, 0)
  } else if (s.kind === 'exponential') {
    integer('maxAttempts', s.maxAttempts, 0)
    integer('initialDelayMs', s.initialDelayMs, 0)
    integer('maxDelayMs', s.maxDelayMs, s.initialDelayMs)
    if (s.multiplier !== undefined && !(typeof s.multiplier === 'number' && s.multiplier >= 1)) {
      throw new KeyedStateError('INVALID_ARGUMENT', `restartStrategy.multiplier must be a number >= 1, got ${String(s.multiplier)}`)
    }
  }
}

/** The delay before restart number `attempt` (1-based), or undefined when no attempts are left. */
export function restartDelayMs(s: RestartStrategy, attempt: number): number | undefined {
  switch (s.kind) {
    case 'none':
      return undefined
    case 'fixed-delay':
      return attempt <= s.maxAttempts ? s.delayMs : undefined
    case 'exponential':
      if (attempt > s.maxAttempts) return undefined
      return Math.min(s.maxDelayMs, s.initialDelayMs * (s.multiplier ?? 2) ** (attempt - 1))
  }
}

export function maxAttemptsOf(s: RestartStrategy): number {
  return s.kind === 'none' ? 0 : s.maxAttempts
}
