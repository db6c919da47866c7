// The bench-only addon (binding.gyp target keyed_state_bench, built by
// `npm run bench`): the production binding plus benchRawLoop, which refuses bad
// arguments and closed databases like every other entry point. The production
// addon's lack of benchRawLoop is checked in loader.test.ts. These cases run
// when the bench addon is built (after `npm run bench`, or
// `node scripts/setup.mjs --bench`); `npm test` does not build it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isKeyedStateError } from '../../../src/errors.js'
import { loadBenchNative, nativeAddonPath } from '../../../src/backends/rocksdb/native/binding.js'

const benchAddon = join(nativeAddonPath(), '..', 'keyed_state_bench.node')
const skip = existsSync(benchAddon) ? false : `the bench addon is not built (${benchAddon}); node scripts/setup.mjs --bench builds it`

test('benchRawLoop runs on a real database and refuses bad or closed ones', { skip }, () => {
  const bench = loadBenchNative()
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-addon-'))
  try {
    const db = bench.open(join(dir, 'db'), { columnFamilies: ['value'] })
    const cf = db.columnFamily('value')
    assert.ok(bench.benchRawLoop(db, cf, 100, 16) > 0)
    assert.equal(db.get(cf, new Uint8Array(8))?.length, 16)
    assert.throws(() => bench.benchRawLoop({} as never, 0, 1, 1), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
    db.close()
    assert.throws(() => bench.benchRawLoop(db, cf, 1, 1), (e) => isKeyedStateError(e, 'CLOSED'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
