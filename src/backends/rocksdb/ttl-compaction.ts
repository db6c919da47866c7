// The RocksDB side of TTL cleanup: the addon's compaction filter drops expired
// entries of a TTL'd state's column family, but it cannot read the state's
// clock from a compaction thread. So every access of the state hands its time
// to this listener, which passes it on to the addon whenever it moved by a
// step. No timer thread: an idle state's filter keeps an older time, which
// only ever keeps more than necessary, never drops live data.
import type { NativeBinding, NativeDb, NativeTtlConfig } from './native/types.js'
import type { StateMetaInfo } from '../../state/meta.js'

/** At most this stale (ms) while the state is accessed; smaller for short TTLs (a sixteenth of the TTL). */
const REFRESH_STEP_MS_MAX = 1000

/** `columnFamily` is asked on each send: a state's family may be created after the listener (column-families.ts). */
export function compactionFilterListener(
  native: NativeBinding,
  db: NativeDb,
  columnFamily: () => number,
  meta: StateMetaInfo,
  ttlMs: number,
): (nowMs: number) => void {
  const kind: NativeTtlConfig['kind'] = meta.kind === 'list' ? 'list' : meta.kind === 'map' ? 'map' : 'value'
  const stepMs = Math.max(1, Math.min(REFRESH_STEP_MS_MAX, Math.floor(ttlMs / 16)))
  let sentMs = -Infinity
  return (nowMs) => {
    // A clock that went back (a test clock, a corrected system clock) is sent at once: an older time is the safe side.
    if (nowMs >= sentMs && nowMs < sentMs + stepMs) return
    if (db.closed) return
    native.setColumnFamilyTtl(db, columnFamily(), { kind, ttlMs, nowMs })
    sentMs = nowMs
  }
}
