// The process's RocksDB memory budget, from the `memory` backend option. Like
// Flink's managed memory: every RocksDB backend of the process shares one block
// cache of `budgetBytes`, and all their memtables are charged to it (a
// WriteBufferManager flushes the largest once they take half), so memory no
// longer grows with the number of states (64 MiB write buffers each) and
// backends (a 64 MiB block cache each). native/memory_budget.cc holds the pool.
import { KeyedStateError } from '../../errors.js'
import { checkKnownOptions } from '../../option-checks.js'
import type { MemoryOptions } from '../../state-backend/types.js'

/** The budget when no backend of the process names one: block cache, index/filter blocks and memtables together. */
export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024
const MIN_MEMORY_BUDGET_BYTES = 1024 * 1024

/** The native open options for `memory`: its budget checked, or the default (which joins a budget the process already has). */
export function memoryOpenOptions(options: MemoryOptions | undefined): { memoryBudgetBytes: number; memoryBudgetIsDefault: boolean } {
  const budget = budgetBytes(options)
  return { memoryBudgetBytes: budget ?? DEFAULT_MEMORY_BUDGET_BYTES, memoryBudgetIsDefault: budget === undefined }
}

function budgetBytes(options: MemoryOptions | undefined): number | undefined {
  if (options === undefined) return undefined
  if (options === null || typeof options !== 'object') {
    throw new KeyedStateError('INVALID_ARGUMENT', `memory must be an object like { budgetBytes }, got ${JSON.stringify(options)}`)
  }
  checkKnownOptions(options, new Set(['budgetBytes']), 'memory option')
  const value = options.budgetBytes
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < MIN_MEMORY_BUDGET_BYTES) {
    throw new KeyedStateError('INVALID_ARGUMENT', `memory.budgetBytes must be an integer of at least ${MIN_MEMORY_BUDGET_BYTES}, got ${JSON.stringify(value)}`)
  }
  return value
}
