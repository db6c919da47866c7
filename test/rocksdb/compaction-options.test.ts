// The `rocksdb` compaction options reach RocksDB (read back from the OPTIONS
// file the database writes), the checkpoint mode picks their defaults, and bad
// values are refused with INVALID_ARGUMENT before anything is created.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import type { RocksDBCompactionOptions } from '../../src/state-backend/types.js'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { INCREMENTAL_COMPACTION_TRIGGER } from '../../src/backends/rocksdb/compaction-options.js'
import { columnFamilyOf } from '../../src/backends/rocksdb/meta-store.js'
import { isKeyedStateError } from '../../src/errors.js'
import { loadNative } from '../../src/backends/rocksdb/native/binding.js'
import type { NativeOpenOptions } from '../../src/backends/rocksdb/native/types.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { newestOptionsText, openIn, tempDir, type TestOptions } from './helpers.js'

/** The [CFOptions "default"] section of the newest OPTIONS file, with compaction_options_universal unpacked. */
async function cfOptionsOf(dbDir: string): Promise<Map<string, string>> {
  const text = await newestOptionsText(dbDir)
  const section = text.split('[CFOptions "default"]')[1]!.split('\n[')[0]!
  const out = new Map<string, string>()
  for (const line of section.split('\n')) {
    const m = /^\s*([a-z0-9_]+)=(.*)$/.exec(line)
    if (!m) continue
    out.set(m[1]!, m[2]!)
    if (m[1] === 'compaction_options_universal') {
      for (const part of m[2]!.replace(/^\{|\}$/g, '').split(';')) {
        const [k, v] = part.split('=')
        if (k) out.set(`universal.${k}`, v!)
      }
    }
  }
  return out
}

async function optionsAfterOpen(options: TestOptions<string>): Promise<Map<string, string>> {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path, options)
    await b.close()
    return await cfOptionsOf(join(dir.path, 'db'))
  } finally {
    await dir.remove()
  }
}

const ROCKSDB_DEFAULT_TRIGGER = 4

const isInvalid = (text: RegExp) => (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && text.test(e.message)

test('incremental mode defaults to universal compaction that waits for more sorted runs; full mode keeps RocksDB level defaults', async () => {
  const incremental = await optionsAfterOpen({ checkpointMode: 'incremental' })
  assert.equal(incremental.get('compaction_style'), 'kCompactionStyleUniversal')
  assert.equal(incremental.get('level0_file_num_compaction_trigger'), String(INCREMENTAL_COMPACTION_TRIGGER))
  assert.ok(Number(incremental.get('level0_slowdown_writes_trigger')) > INCREMENTAL_COMPACTION_TRIGGER)
  assert.ok(Number(incremental.get('level0_stop_writes_trigger')) > Number(incremental.get('level0_slowdown_writes_trigger')))

  const full = await optionsAfterOpen({ checkpointMode: 'full' })
  assert.equal(full.get('compaction_style'), 'kCompactionStyleLevel')
  assert.equal(full.get('level0_file_num_compaction_trigger'), '4')
  assert.equal(full.get('level0_slowdown_writes_trigger'), '20')
  assert.equal(full.get('level0_stop_writes_trigger'), '36')
})

const universalOptions: fc.Arbitrary<RocksDBCompactionOptions> = fc.record(
  {
    compactionTrigger: fc.integer({ min: 1, max: 64 }),
    sizeRatioPercent: fc.integer({ min: 0, max: 500 }),
    widths: fc.tuple(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 0, max: 40 })),
    maxSizeAmplificationPercent: fc.integer({ min: 1, max: 5000 }),
    stopStyle: fc.constantFrom('total-size' as const, 'similar-size' as const),
    targetFileSizeBytes: fc.integer({ min: 64 * 1024, max: 1 << 30 }),
  },
  { requiredKeys: [] },
).map(({ widths, ...rest }) => {
  const options: RocksDBCompactionOptions = { compactionStyle: 'universal', ...rest }
  if (widths) {
    options.minMergeWidth = widths[0]
    options.maxMergeWidth = widths[0] + widths[1]
  }
  return options
})

test('every universal compaction option given reaches RocksDB', async () => {
  await fc.assert(
    fc.asyncProperty(universalOptions, fc.constantFrom('incremental' as const, 'full' as const), async (rocksdb, checkpointMode) => {
      const o = await optionsAfterOpen({ checkpointMode, rocksdb })
      assert.equal(o.get('compaction_style'), 'kCompactionStyleUniversal')
      const trigger = rocksdb.compactionTrigger ?? (checkpointMode === 'incremental' ? INCREMENTAL_COMPACTION_TRIGGER : ROCKSDB_DEFAULT_TRIGGER)
      assert.equal(o.get('level0_file_num_compaction_trigger'), String(trigger))
      // Writes slow down and stop only well after compaction starts.
      assert.ok(Number(o.get('level0_slowdown_writes_trigger')) >= trigger)
      assert.ok(Number(o.get('level0_stop_writes_trigger')) >= Number(o.get('level0_slowdown_writes_trigger')))
      assert.equal(o.get('universal.size_ratio'), String(rocksdb.sizeRatioPercent ?? 1))
      assert.equal(o.get('universal.min_merge_width'), String(rocksdb.minMergeWidth ?? 2))
      assert.equal(o.get('universal.max_merge_width'), String(rocksdb.maxMergeWidth ?? 4294967295))
      assert.equal(o.get('universal.max_size_amplification_percent'), String(rocksdb.maxSizeAmplificationPercent ?? 200))
      assert.equal(
        o.get('universal.stop_style'),
        rocksdb.stopStyle === 'similar-size' ? 'kCompactionStopStyleSimilarSize' : 'kCompactionStopStyleTotalSize',
      )
      assert.equal(o.get('target_file_size_base'), String(rocksdb.targetFileSizeBytes ?? 64 * 1024 * 1024))
    }),
    { numRuns: 12 },
  )
})

test('level compaction takes the trigger and the target file size', async () => {
  const o = await optionsAfterOpen({ checkpointMode: 'incremental', rocksdb: { compactionStyle: 'level', compactionTrigger: 6, targetFileSizeBytes: 8 << 20 } })
  assert.equal(o.get('compaction_style'), 'kCompactionStyleLevel')
  assert.equal(o.get('level0_file_num_compaction_trigger'), '6')
  assert.equal(o.get('target_file_size_base'), String(8 << 20))
})

test('below the sorted-run trigger, flushed runs stay as they are (nothing merges them)', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path, { checkpointMode: 'incremental', rocksdb: { compactionTrigger: 8 } })
    const value = b.getState(new ValueStateDescriptor('v', int32Serializer))
    // Created by its first use; columnFamilyId creates it now (column-families.ts).
    const cf = b.columnFamilyId('v')
    assert.equal(cf, b.db.columnFamily(columnFamilyOf('v')))
    for (let flush = 1; flush <= 7; flush++) {
      for (let i = 0; i < 50; i++) {
        b.setCurrentKey(`k${i}`)
        value.update(flush)
      }
      b.db.flush()
      assert.equal(b.db.getProperty(cf, 'rocksdb.num-files-at-level0'), String(flush))
    }
    b.setCurrentKey('k3')
    assert.equal(value.value(), 7)
    await b.close()
  } finally {
    await dir.remove()
  }
})

test('bad compaction options are refused with INVALID_ARGUMENT before the working directory is created', async () => {
  const dir = await tempDir()
  const workingDir = join(dir.path, 'op')
  try {
    const cases: Array<[unknown, RegExp]> = [
      [{ compactionTrigger: 0 }, /rocksdb\.compactionTrigger must be an integer from 1/],
      [{ compactionTrigger: 2.5 }, /rocksdb\.compactionTrigger/],
      [{ compactionTrigger: '16' }, /rocksdb\.compactionTrigger/],
      [{ sizeRatioPercent: -1 }, /rocksdb\.sizeRatioPercent/],
      [{ maxSizeAmplificationPercent: Number.NaN }, /rocksdb\.maxSizeAmplificationPercent/],
      [{ targetFileSizeBytes: 1000 }, /rocksdb\.targetFileSizeBytes must be an integer from 65536/],
      [{ minMergeWidth: 8, maxMergeWidth: 4 }, /minMergeWidth \(8\) must not be above rocksdb\.maxMergeWidth \(4\)/],
      [{ stopStyle: 'similar' }, /rocksdb\.stopStyle must be 'total-size' or 'similar-size', got "similar"/],
      [{ compactionStyle: 'fifo' }, /rocksdb\.compactionStyle must be 'universal' or 'level'/],
      [{ compactionStyle: 'level', sizeRatioPercent: 10 }, /sizeRatioPercent applies to universal compaction only/],
      [{ compactionTrigers: 8 }, /unknown rocksdb option 'compactionTrigers' \(did you mean 'compactionTrigger'\?\)/],
      [[], /rocksdb must be an object/],
    ]
    for (const [rocksdb, message] of cases) {
      await assert.rejects(
        openKeyedStateBackend({ kind: 'rocksdb', dir: workingDir, keySerializer: stringSerializer, rocksdb: rocksdb as RocksDBCompactionOptions }),
        isInvalid(message),
        JSON.stringify(rocksdb),
      )
      assert.equal(existsSync(workingDir), false)
    }
    // Full mode refuses them the same way.
    await assert.rejects(openIn(workingDir, { rocksdb: { compactionTrigger: -3 } }), isInvalid(/compactionTrigger/))
  } finally {
    await dir.remove()
  }
})

test('the addon refuses out-of-range tuning and write triggers below the compaction trigger', async () => {
  const dir = await tempDir()
  try {
    const native = loadNative()
    const cases: Array<[NativeOpenOptions, RegExp]> = [
      [{ level0FileNumCompactionTrigger: 0 }, /level0FileNumCompactionTrigger must be an integer between 1/],
      [{ level0FileNumCompactionTrigger: 30, level0SlowdownWritesTrigger: 10 }, /level0SlowdownWritesTrigger \(10\) must not be below level0FileNumCompactionTrigger \(30\)/],
      [{ level0FileNumCompactionTrigger: 30, level0StopWritesTrigger: 20 }, /level0StopWritesTrigger \(20\) must not be below level0SlowdownWritesTrigger \(30\)/],
      [{ universalMinMergeWidth: 5, universalMaxMergeWidth: 3 }, /universalMinMergeWidth \(5\) must not be above universalMaxMergeWidth \(3\)/],
      [{ universalSizeRatio: 1.5 }, /universalSizeRatio/],
      [{ targetFileSizeBytes: 10 }, /targetFileSizeBytes/],
      [{ universalStopStyle: 'similar' as never }, /universalStopStyle must be 'total-size' or 'similar-size'/],
    ]
    for (const [options, message] of cases) {
      assert.throws(() => native.open(join(dir.path, 'db'), options), isInvalid(message), JSON.stringify(options))
    }
  } finally {
    await dir.remove()
  }
})
