// Prometheus metrics of state backends, read on every scrape (a gauge's
// collect): per state, the entries, RocksDB's live SST, memtable and pending
// compaction bytes; per RocksDB instance, block cache usage and write stalls.
// Labels are the instance index (bounded by the parallelism) and the state
// name (bounded by the job's descriptors); never a key or key group.
import { Gauge, Registry } from 'prom-client'
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

export function backendMetrics(backends: readonly KeyedStateBackend<any>[], options: BackendMetricsOptions = {}): BackendMetrics {
  const registry = options.registry ?? new Registry()
  const p = options.prefix ?? 'keyed_state_'
  let current = [...backends]
  // Each gauge reads the backends itself: a read is a few RocksDB property lookups per state
  // (microseconds), and a gauge read alone (getSingleMetric) is then never stale.
  const read = (): { instance: string; stats: BackendStats }[] =>
    current.flatMap((b, i) => (b.closed ? [] : [{ instance: String(i), stats: b.stats() }]))
  const registers = [registry]
  const perState = (name: string, help: string, field: keyof Omit<StateStats, 'state'>): void => {
    new Gauge({
      name, help, labelNames: ['instance', 'kind', 'state'], registers,
      collect() {
        this.reset()
        for (const { instance, stats } of read()) {
          for (const s of stats.states) {
            const v = s[field]
            if (v !== undefined) this.set({ instance, kind: stats.kind, state: s.state }, v)
          }
        }
      },
    })
  }
  perState(`${p}state_entries`, 'Entries of a state (RocksDB: its estimate of the keys)', 'estimatedEntries')
  perState(`${p}rocksdb_live_sst_bytes`, 'Bytes of the live SST files of a state', 'liveSstBytes')
  perState(`${p}rocksdb_memtable_bytes`, 'Bytes in the memtables of a state', 'memtableBytes')
  perState(`${p}rocksdb_pending_compaction_bytes`, 'Bytes compaction estimates it still has to rewrite', 'pendingCompactionBytes')
  const perDb = (name: string, help: string, pick: (r: NonNullable<BackendStats['rocksdb']>) => number | undefined): void => {
    new Gauge({
      name, help, labelNames: ['instance'], registers,
      collect() {
        this.reset()
        for (const { instance, stats } of read()) {
          const v = stats.rocksdb ? pick(stats.rocksdb) : undefined
          if (v !== undefined) this.set({ instance }, v)
        }
      },
    })
  }
  perDb(`${p}rocksdb_block_cache_usage_bytes`, 'Bytes in the block cache', (r) => r.blockCacheUsageBytes)
  perDb(`${p}rocksdb_write_stopped`, '1 while RocksDB stops writes (too many sorted runs or pending compaction bytes)', (r) => (r.writeStopped ? 1 : 0))
  perDb(`${p}rocksdb_delayed_write_rate_bytes`, 'Bytes per second writes are slowed to; 0 when not slowed', (r) => r.delayedWriteRateBytesPerSecond)
  return {
    registry,
    setBackends(next) {
      current = [...next]
    },
  }
}
