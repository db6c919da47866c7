// The `memory` backend option: backends of one process share the budget's
// block cache (read back through RocksDB's own property), bad values are
// refused with INVALID_ARGUMENT naming the option, and a second budget while
// the first is in use is refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { isKeyedStateError } from '../../src/errors.js'
import { DEFAULT_MEMORY_BUDGET_BYTES } from '../../src/backends/rocksdb/memory-budget.js'
import { openIn, tempDir } from './helpers.js'

const MiB = 1024 * 1024
const invalid = (e: unknown): boolean => isKeyedStateError(e) && e.code === 'INVALID_ARGUMENT'
const cacheCapacity = (backend: object): number =>
  Number((backend as unknown as { db: { getProperty(cf: number, name: string): string } }).db.getProperty(0, 'rocksdb.block-cache-capacity'))

test('backends share the process budget: the default, a named one, and a default that joins it', async () => {
  const t = await tempDir()
  const root = t.path
  const a = await openIn(join(root, 'a'))
  assert.equal(cacheCapacity(a), DEFAULT_MEMORY_BUDGET_BYTES)
  await a.close()
  const b = await openIn(join(root, 'b'), { memory: { budgetBytes: 48 * MiB } })
  const c = await openIn(join(root, 'c'))
  assert.equal(cacheCapacity(b), 48 * MiB)
  assert.equal(cacheCapacity(c), 48 * MiB, 'a backend that names no budget joins the one in use')
  await assert.rejects(openIn(join(root, 'd'), { memory: { budgetBytes: 96 * MiB } }), invalid)
  await b.close()
  await c.close()
  await t.remove()
})

test('bad memory options are refused before anything opens', async () => {
  const t = await tempDir()
  const root = t.path
  for (const memory of [{ budgetBytes: 1000 }, { budgetBytes: MiB + 0.5 }, { budgetBytes: '64MB' }, { budget: MiB }, 5]) {
    await assert.rejects(openIn(join(root, 'x'), { memory: memory as never }), invalid, JSON.stringify(memory))
  }
  await t.remove()
})
