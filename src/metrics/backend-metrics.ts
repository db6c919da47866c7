// Prometheus metrics of state backends, read on every scrape (a gauge's
// collect): per state, the entries, RocksDB's live SST, memtable and pending
// compaction bytes, and the entries TTL cleanup dropped; per RocksDB instance,
// block cache usage, hits and misses, and write stalls.
// Labels are the instance index (bounded by the parallelism) and the state
// name (bounded by the job's descriptors); never a key or key group.
//
// backendMetrics reads backends of this process; backendStatsMetrics reads
// whatever supplies BackendStats (the job runtime: its workers' heartbeats).
import { Counter, Gauge, Registry } from 'prom-client'
import type { BackendStats, KeyedStateBackend, StateStats } from '../state-backend/types.js'

export interface BackendMetricsOptions {
  registry?: Registry
  /** Name prefix; default 'keyed_state_'. */
  prefix?: string
}

export interface BackendMetrics {
  readonly registry: Registry
  /** Backends are read while they are open; a closed one is skipped. Replaces the list (after a restart or rescale). */
  setBackends(backends: readonly KeyedStateBackend<any>[]): void
}

/** The stats of one backend instance, as a scrape sees them. */
export interface InstanceStats {
  /** The instance (worker) index. */
  instance: number
  stats: BackendStats
}

type RocksDbStats = NonNullable<BackendStats['rocksdb']>

export function backendMetrics(backends: readonly KeyedStateBackend<any>[], options: BackendMetricsOptions = {}): BackendMetrics {
  let current = [...backends]
  // Each metric reads the backends itself: a read is a few RocksDB property lookups per state
  // (microseconds), and a metric read alone (getSingleMetric) is then never stale.
  const { registry } = backendStatsMetrics(() => current.flatMap((b, instance) => (b.closed ? [] : [{ instance, stats: b.stats() }])), options)
  return {
    registry,
    setBackends(next) {
      current = [...next]
    },
  }
}

/** The backend metrics over `read`, called on every scrape (once per metric). */
export function backendStatsMetrics(read: () => readonly InstanceStats[], options: BackendMetricsOptions = {}): { registry: Registry } {
  const registry = options.registry ?? new Registry()
  const p = options.prefix ?? 'keyed_state_'
  const registers = [registry]
  const perState = (type: 'gauge' | 'counter', name: string, help: string, field: keyof Omit<StateStats, 'state'>): void => {
    const Kind = type === 'gauge' ? Gauge : Counter
    new Kind({
      name, help, labelNames: ['instance', 'kind', 'state'], registers,
      collect() {
        this.reset()
        for (const { instance, stats } of read()) {
          for (const s of stats.states) {
            const v = s[field]
            if (v === undefined) continue
            const labels = { instance: String(instance), kind: stats.kind, state: s.state }
            if (this instanceof Gauge) this.set(labels, v)
            else this.inc(labels, v)
          }
        }
      },
    })
  }
  perState('gauge', `${p}state_entries`, 'Entries of a state (RocksDB: its estimate of the keys)', 'estimatedEntries')
  perState('gauge', `${p}rocksdb_live_sst_bytes`, 'Bytes of the live SST files of a state', 'liveSstBytes')
  perState('gauge', `${p}rocksdb_memtable_bytes`, 'Bytes in the memtables of a state', 'memtableBytes')
  perState('gauge', `${p}rocksdb_pending_compaction_bytes`, 'Bytes compaction estimates it still has to rewrite', 'pendingCompactionBytes')
  perState('counter', `${p}ttl_cleaned_entries_total`,
    'Expired entries (values, list elements, map entries) TTL cleanup dropped since the backend opened: heap incremental cleanup, RocksDB compaction filter', 'ttlCleanedEntries')
  const perDb = (type: 'gauge' | 'counter', name: string, help: string, pick: (r: RocksDbStats) => number | undefined): void => {
    const Kind = type === 'gauge' ? Gauge : Counter
    new Kind({
      name, help, labelNames: ['instance'], registers,
      collect() {
        this.reset()
        for (const { instance, stats } of read()) {
          const v = stats.rocksdb ? pick(stats.rocksdb) : undefined
          if (v === undefined) continue
          if (this instanceof Gauge) this.set({ instance: String(instance) }, v)
          else this.inc({ instance: String(instance) }, v)
        }
      },
    })
  }
  perDb('gauge', `${p}rocksdb_block_cache_usage_bytes`,
    'Bytes in the block cache the instance uses (instances opened with a memory budget share one cache: each reports all of it)', (r) => r.blockCacheUsageBytes)
  perDb('counter', `${p}rocksdb_block_cache_hits_total`, 'Block reads the block cache answered, since the instance opened', (r) => r.blockCacheHits)
  perDb('counter', `${p}rocksdb_block_cache_misses_total`, 'Block reads the block cache did not answer (read from the file), since the instance opened', (r) => r.blockCacheMisses)
  perDb('gauge', `${p}rocksdb_block_cache_hit_ratio`, 'Hits / (hits + misses) of the instance since it opened; absent before its first block read',
    ({ blockCacheHits: hits, blockCacheMisses: misses }) => (hits !== undefined && misses !== undefined && hits + misses > 0 ? hits / (hits + misses) : undefined))
  perDb('gauge', `${p}rocksdb_write_stopped`, '1 while RocksDB stops writes (too many sorted runs or pending compaction bytes)', (r) => (r.writeStopped ? 1 : 0))
  perDb('gauge', `${p}rocksdb_delayed_write_rate_bytes`, 'Bytes per second writes are slowed to; 0 when not slowed', (r) => r.delayedWriteRateBytesPerSecond)
  perDb('counter', `${p}rocksdb_write_stall_seconds_total`, 'Time writes were stalled or slowed by RocksDB since the instance opened', (r) => (r.writeStallMicros === undefined ? undefined : r.writeStallMicros / 1e6))
  return { registry }
}
