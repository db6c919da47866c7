// What the operator must hold at the end, computed straight from the
// generator in one pass, without any state backend: the yardstick of the
// demo's exactly-once check.
import { eventAt, streamTimeAt, type StreamConfig } from './events.js'
import { ACTIVITY_TTL_MS, RECENT_EVENTS, WINDOW_SIZE_MS, type KeyResult } from './operator.js'

export function expectedResults(stream: StreamConfig): Map<string, KeyResult> {
  const out = new Map<string, KeyResult>()
  const windows = new Map<string, Map<number, number>>()
  for (let offset = 0; offset < stream.events; offset++) {
    const e = eventAt(stream, offset)
    let r = out.get(e.key)
    if (!r) {
      r = { count: 0, countByType: {}, recent: [], lastActivityOffset: null, minuteCounts: [] }
      out.set(e.key, r)
      windows.set(e.key, new Map())
    }
    r.count++
    r.countByType[e.type] = (r.countByType[e.type] ?? 0) + 1
    r.recent.push({ offset, type: e.type })
    if (r.recent.length > RECENT_EVENTS) r.recent.shift()
    r.lastActivityOffset = offset
    const start = Math.floor(e.timeMs / WINDOW_SIZE_MS) * WINDOW_SIZE_MS
    const perWindow = windows.get(e.key)!
    perWindow.set(start, (perWindow.get(start) ?? 0) + 1)
  }
  const endMs = streamTimeAt(stream.events)
  for (const [key, r] of out) {
    // Written at the stream time of the user's last event; gone once that is ACTIVITY_TTL_MS old.
    if (r.lastActivityOffset !== null && streamTimeAt(r.lastActivityOffset) + ACTIVITY_TTL_MS <= endMs) r.lastActivityOffset = null
    r.minuteCounts = [...windows.get(key)!].sort((a, b) => a[0] - b[0])
  }
  return out
}

export interface Mismatch {
  key: string
  what: string
  expected: unknown
  actual: unknown
}

/** Every difference between the expected and the actual results (all keys, all fields). */
export function compareResults(expected: ReadonlyMap<string, KeyResult>, actual: ReadonlyMap<string, KeyResult>): Mismatch[] {
  const out: Mismatch[] = []
  for (const [key, want] of expected) {
    const got = actual.get(key)
    if (!got) {
      out.push({ key, what: 'state', expected: 'present', actual: 'missing' })
      continue
    }
    for (const field of Object.keys(want) as (keyof KeyResult)[]) {
      const a = JSON.stringify(normalize(got[field]))
      const b = JSON.stringify(normalize(want[field]))
      if (a !== b) out.push({ key, what: field, expected: want[field], actual: got[field] })
    }
  }
  for (const key of actual.keys()) {
    if (!expected.has(key)) out.push({ key, what: 'state', expected: 'absent', actual: 'present' })
  }
  return out
}

/** Objects compared regardless of key order. */
function normalize(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
