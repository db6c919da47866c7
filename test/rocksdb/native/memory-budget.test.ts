// The process's memory budget (native/memory_budget.cc): databases opened with
// memoryBudgetBytes share one block cache and charge their memtables to it;
// one budget per process while any database uses it; a default budget joins.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { b, codeOf, native, openDb, tempDir } from './helpers.js'
import { join } from 'node:path'

const MiB = 1024 * 1024
const usage = (db: ReturnType<typeof openDb>['db']): number => Number(db.getProperty(0, 'rocksdb.block-cache-usage'))
const capacity = (db: ReturnType<typeof openDb>['db']): number => Number(db.getProperty(0, 'rocksdb.block-cache-capacity'))

test('databases with the same budget share one cache, and memtables are charged to it', () => {
  const first = openDb({ memoryBudgetBytes: 32 * MiB, disableWal: true }).db
  const second = openDb({ memoryBudgetBytes: 32 * MiB, disableWal: true }).db
  assert.equal(capacity(first), 32 * MiB)
  assert.equal(capacity(second), 32 * MiB)
  const before = usage(second)
  const value = Buffer.alloc(1000, 'x')
  for (let i = 0; i < 4000; i++) first.put(0, b(`k${i}`), value)
  // About 4 MB in the first DB's memtable shows in the cache the second DB reads through.
  assert.ok(usage(second) - before >= 2 * MiB, `usage grew by ${usage(second) - before} bytes`)
  first.close()
  second.close()
})

test('one budget per process: another is refused while a database uses one; a default joins; after close a new one is taken', () => {
  const holder = openDb({ memoryBudgetBytes: 16 * MiB }).db
  assert.equal(codeOf(() => native.open(join(tempDir(), 'db'), { memoryBudgetBytes: 8 * MiB })), 'INVALID_ARGUMENT')
  const joined = openDb({ memoryBudgetBytes: 8 * MiB, memoryBudgetIsDefault: true }).db
  assert.equal(capacity(joined), 16 * MiB, 'the default joins the budget in use')
  holder.close()
  joined.close()
  const fresh = openDb({ memoryBudgetBytes: 8 * MiB }).db
  assert.equal(capacity(fresh), 8 * MiB)
  fresh.close()
})

test('a budget is checked: at least 1 MiB, and not together with blockCacheBytes', () => {
  const dir = (): string => join(tempDir(), 'db')
  assert.equal(codeOf(() => native.open(dir(), { memoryBudgetBytes: 1000 })), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(dir(), { memoryBudgetBytes: 8 * MiB, blockCacheBytes: MiB })), 'INVALID_ARGUMENT')
})
