// Time-to-live configuration for a state (issue: TTL and timers).

export type TtlUpdateType = 'onCreateAndWrite' | 'onReadAndWrite'
export type TtlVisibility = 'neverReturnExpired' | 'returnExpiredIfNotCleanedUp'

export interface TtlClock {
  now(): number
}

export const systemClock: TtlClock = { now: () => Date.now() }

export interface StateTtlConfig {
  readonly ttlMs: number
  readonly updateType?: TtlUpdateType
  readonly visibility?: TtlVisibility
  /** Replaceable in tests. */
  readonly clock?: TtlClock
}
