// Scrapes the state metrics of a RocksDB and a heap backend and checks them
// against what was written: entries per state, RocksDB memtable and SST bytes
// after a flush, block cache hits and misses of reads from the SST files (with
// rocksdbStatistics; none without), no write stall; closed backends drop out
// of the scrape.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import type { RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import { keyGroupRangeForOperator } from '../../src/keygroups.js'
import { backendMetrics } from '../../src/metrics/backend-metrics.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

function fill(b: KeyedStateBackend<string>, keys: number): void {
  const count = b.getState(new ValueStateDescriptor('count', int32Serializer, 0))
  const pages = b.getMapState(new MapStateDescriptor('pages', stringSerializer, int32Serializer))
  for (let k = 0; k < keys; k++) {
    b.setCurrentKey(`user-${k}`)
    count.update(k)
    if (k % 2 === 0) for (let p = 0; p < 3; p++) pages.put(`page-${p}`, p)
  }
}

test('state metrics: entries per state on both backends, RocksDB bytes and stalls, read on scrape', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ks-metrics-'))
  const range = keyGroupRangeForOperator(16, 1, 0)
  const rocks = (await openKeyedStateBackend({
    kind: 'rocksdb', dir: join(dir, 'db'), keySerializer: stringSerializer, maxParallelism: 16, keyGroupRange: range, rocksdbStatistics: true,
  })) as RocksDBKeyedStateBackend<string>
  const heap = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 16, keyGroupRange: range })
  try {
    fill(rocks, 400)
    fill(heap, 300)
    const metrics = backendMetrics([rocks, heap])
    let text = await metrics.registry.metrics()
    // Heap: (key, namespace) entries; a map state counts one per key. RocksDB: one key per map entry.
    assert.equal(sample(text, 'keyed_state_state_entries{instance="1",kind="heap",state="count"}'), 300)
    assert.equal(sample(text, 'keyed_state_state_entries{instance="1",kind="heap",state="pages"}'), 150)
    assert.equal(sample(text, 'keyed_state_state_entries{instance="0",kind="rocksdb",state="count"}'), 400)
    assert.equal(sample(text, 'keyed_state_state_entries{instance="0",kind="rocksdb",state="pages"}'), 600)
    assert.ok(sample(text, 'keyed_state_rocksdb_memtable_bytes{instance="0",kind="rocksdb",state="count"}')! > 0)
    assert.equal(sample(text, 'keyed_state_rocksdb_live_sst_bytes{instance="0",kind="rocksdb",state="count"}'), 0)
    assert.equal(sample(text, 'keyed_state_rocksdb_write_stopped{instance="0"}'), 0)
    assert.equal(sample(text, 'keyed_state_rocksdb_write_stopped{instance="1"}'), undefined, 'the heap backend has no RocksDB metrics')


    // After a flush the bytes are in SST files; the scrape reads them then, not when metrics were made.
    rocks.db.flush()
    text = await metrics.registry.metrics()
    assert.ok(sample(text, 'keyed_state_rocksdb_live_sst_bytes{instance="0",kind="rocksdb",state="count"}')! > 0)
    assert.equal(sample(text, 'keyed_state_state_entries{instance="0",kind="rocksdb",state="count"}'), 400)

    // Reads from the SST files: the first read of a block misses the block cache, the next ones hit it.
    const count = rocks.getState(new ValueStateDescriptor('count', int32Serializer, 0))
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 400; k++) {
        rocks.setCurrentKey(`user-${k}`)
        assert.equal(count.value(), k)
      }
    }
    text = await metrics.registry.metrics()
    const hits = sample(text, 'keyed_state_rocksdb_block_cache_hits_total{instance="0"}')!
    const misses = sample(text, 'keyed_state_rocksdb_block_cache_misses_total{instance="0"}')!
    assert.ok(misses >= 1 && hits >= 400, `${hits} hits, ${misses} misses`)
    assert.equal(sample(text, 'keyed_state_rocksdb_block_cache_hit_ratio{instance="0"}'), hits / (hits + misses))
    assert.ok(sample(text, 'keyed_state_rocksdb_block_cache_usage_bytes{instance="0"}')! > 0)
    assert.equal(sample(text, 'keyed_state_rocksdb_write_stall_seconds_total{instance="0"}'), 0)
    assert.deepEqual(Object.keys(rocks.db.tickers()!).sort(), ['blockCacheHits', 'blockCacheMisses', 'stallMicros'])

    await heap.close()
    text = await metrics.registry.metrics()
    assert.equal(sample(text, 'keyed_state_state_entries{instance="1",kind="heap",state="count"}'), undefined)
    assert.doesNotMatch(text, /\{[^}]*(key|key_group)=/)
  } finally {
    await rocks.close()
    if (!heap.closed) await heap.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('without rocksdbStatistics a RocksDB backend has no ticker metrics, and a wrong value is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ks-metrics-'))
  try {
    const open = (rocksdbStatistics?: unknown) =>
      openKeyedStateBackend({ kind: 'rocksdb', dir: join(dir, 'db'), keySerializer: stringSerializer, ...(rocksdbStatistics === undefined ? {} : { rocksdbStatistics }) } as never)
    await assert.rejects(open('yes'), /rocksdbStatistics must be a boolean, got "yes"/)
    const rocks = (await open()) as RocksDBKeyedStateBackend<string>
    try {
      fill(rocks, 10)
      const text = await backendMetrics([rocks]).registry.metrics()
      assert.equal(sample(text, 'keyed_state_state_entries{instance="0",kind="rocksdb",state="count"}'), 10)
      assert.equal(sample(text, 'keyed_state_rocksdb_write_stopped{instance="0"}'), 0)
      for (const name of ['block_cache_hits_total', 'block_cache_misses_total', 'block_cache_hit_ratio', 'write_stall_seconds_total']) {
        assert.doesNotMatch(text, new RegExp(`^keyed_state_rocksdb_${name}\\{`, 'm'), name)
      }
    } finally {
      await rocks.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
