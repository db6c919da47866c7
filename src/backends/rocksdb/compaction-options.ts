// Which compaction the working database runs, from the user's
// RocksDBCompactionOptions and the checkpoint mode. Incremental checkpoints
// upload every SST file written since the last one, flushes and compaction
// output alike. Level compaction rewrites the whole last level every few
// flushes when updates are spread over the key space (key groups are hashed);
// universal compaction merges new runs with each other and the big one rarely.
// RocksDB's universal trigger of 4 sorted runs still merged nearly every
// flush into the newest large run of a 1 GB state, so incremental mode waits
// for more runs: a few more bloom-filter probes per point read for much less
// compaction output per checkpoint (bench/notes/profiles.md).
import type { RocksDBCompactionOptions } from '../../state-backend/types.js'
import { KeyedStateError } from '../../errors.js'
import type { NativeOpenOptions } from './native/types.js'
import { checkKnownOptions } from '../../option-checks.js'

type CompactionOpenOptions = Pick<
  NativeOpenOptions,
  | 'compactionStyle'
  | 'level0FileNumCompactionTrigger'
  | 'level0SlowdownWritesTrigger'
  | 'level0StopWritesTrigger'
  | 'targetFileSizeBytes'
  | 'universalSizeRatio'
  | 'universalMinMergeWidth'
  | 'universalMaxMergeWidth'
  | 'universalMaxSizeAmplificationPercent'
  | 'universalStopStyle'
>

/** Sorted runs before universal compaction merges, in incremental mode. */
export const INCREMENTAL_COMPACTION_TRIGGER = 16

// RocksDB's own write triggers (20 and 36 level-0 files) sit above its
// compaction trigger of 4; ours keep the same headroom above a raised trigger.
const SLOWDOWN_HEADROOM = 16
const STOP_HEADROOM = 32
const MAX_TRIGGER = 65536 - STOP_HEADROOM

const KNOWN = [
  'compactionStyle', 'compactionTrigger', 'sizeRatioPercent', 'minMergeWidth', 'maxMergeWidth',
  'maxSizeAmplificationPercent', 'stopStyle', 'targetFileSizeBytes',
] as const

function integerIn(options: RocksDBCompactionOptions, name: keyof RocksDBCompactionOptions, min: number, max: number): number | undefined {
  const value = options[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new KeyedStateError('INVALID_ARGUMENT', `rocksdb.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

function oneOf<T extends string>(options: RocksDBCompactionOptions, name: keyof RocksDBCompactionOptions, allowed: readonly T[]): T | undefined {
  const value = options[name]
  if (value === undefined) return undefined
  if (!allowed.includes(value as T)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `rocksdb.${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(value)}`)
  }
  return value as T
}

/** Checks `options` and returns the native open options it and the checkpoint mode stand for. */
export function compactionOpenOptions(
  options: RocksDBCompactionOptions | undefined,
  checkpointMode: 'incremental' | 'full',
): CompactionOpenOptions {
  const given = options ?? {}
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `rocksdb must be an object of compaction options, got ${JSON.stringify(given)}`)
  }
  checkKnownOptions(given, KNOWN, 'rocksdb option')
  const style = oneOf(given, 'compactionStyle', ['universal', 'level'] as const) ?? (checkpointMode === 'incremental' ? 'universal' : 'level')
  const universal = style === 'universal'
  const universalOnly = ['sizeRatioPercent', 'minMergeWidth', 'maxMergeWidth', 'maxSizeAmplificationPercent', 'stopStyle'] as const
  if (!universal) {
    const misplaced = universalOnly.find((name) => given[name] !== undefined)
    if (misplaced) {
      throw new KeyedStateError('INVALID_ARGUMENT', `rocksdb.${misplaced} applies to universal compaction only, but compactionStyle is 'level'`)
    }
  }
  const defaultTrigger = universal && checkpointMode === 'incremental' ? INCREMENTAL_COMPACTION_TRIGGER : undefined
  const trigger = integerIn(given, 'compactionTrigger', 1, MAX_TRIGGER) ?? defaultTrigger
  const minMergeWidth = integerIn(given, 'minMergeWidth', 2, 65536)
  const maxMergeWidth = integerIn(given, 'maxMergeWidth', 2, 65536)
  if (minMergeWidth !== undefined && maxMergeWidth !== undefined && minMergeWidth > maxMergeWidth) {
    throw new KeyedStateError('INVALID_ARGUMENT', `rocksdb.minMergeWidth (${minMergeWidth}) must not be above rocksdb.maxMergeWidth (${maxMergeWidth})`)
  }
  const out: CompactionOpenOptions = { compactionStyle: style }
  if (trigger !== undefined) {
    out.level0FileNumCompactionTrigger = trigger
    out.level0SlowdownWritesTrigger = Math.max(20, trigger + SLOWDOWN_HEADROOM)
    out.level0StopWritesTrigger = Math.max(36, trigger + STOP_HEADROOM)
  }
  const sizeRatio = integerIn(given, 'sizeRatioPercent', 0, 100000)
  if (sizeRatio !== undefined) out.universalSizeRatio = sizeRatio
  if (minMergeWidth !== undefined) out.universalMinMergeWidth = minMergeWidth
  if (maxMergeWidth !== undefined) out.universalMaxMergeWidth = maxMergeWidth
  const amplification = integerIn(given, 'maxSizeAmplificationPercent', 1, 1_000_000)
  if (amplification !== undefined) out.universalMaxSizeAmplificationPercent = amplification
  const stopStyle = oneOf(given, 'stopStyle', ['total-size', 'similar-size'] as const)
  if (stopStyle !== undefined) out.universalStopStyle = stopStyle
  const targetFileSize = integerIn(given, 'targetFileSizeBytes', 64 * 1024, Number.MAX_SAFE_INTEGER)
  if (targetFileSize !== undefined) out.targetFileSizeBytes = targetFileSize
  return out
}
