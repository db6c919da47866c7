// Timer register + fire throughput through a backend's timer service (issue 7):
// `count` event-time timers on distinct (key, timestamp) pairs in shuffled
// timestamp order, then one watermark that fires them all.
import type { KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import { openBackend, type Backend, type BackendExtras, type Kind } from './keyed.js'
import { median } from './timing.js'
import { NOT_BUILT, Unavailable } from './pieces.js'
import type { TempSpace } from './tmp.js'

export interface TimerThroughput {
  registerPerSec: number
  firePerSec: number
  bothPerSec: number
}

/** The part of the timer API (src/timers/types.ts) used here; checked at run time. */
interface TimerServiceLike {
  registerEventTimeTimer(timestamp: number): void
  advanceWatermark(watermark: number): number
}
interface WithTimers {
  timerService(name: string, options: { onTimer: () => void }): TimerServiceLike
}

function timerServiceOf(backend: Backend, onTimer: () => void): TimerServiceLike {
  const b = backend as Backend & Partial<WithTimers>
  if (typeof b.timerService !== 'function') throw new Unavailable(NOT_BUILT)
  return b.timerService('bench-timers', { onTimer })
}

const ROUNDS = 3

export async function timerThroughput(
  tmp: TempSpace,
  kind: Kind,
  timersKind: 'heap' | 'rocksdb',
  keys: readonly string[],
  count: number,
): Promise<TimerThroughput> {
  const extras: BackendExtras = {}
  if (timersKind !== kind) (extras as KeyedStateBackendOptions<string> & { timers?: string }).timers = timersKind
  const opened = await openBackend(tmp, kind, `timers-${kind}-${timersKind}`, extras)
  try {
    let fired = 0
    const service = timerServiceOf(opened.backend, () => fired++)
    const registerMs: number[] = []
    const fireMs: number[] = []
    let base = 1_000_000
    for (let round = 0; round < ROUNDS; round++) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < count; i++) {
        opened.backend.setCurrentKey(keys[i % keys.length]!)
        // Shuffled timestamps: timers arrive out of order, as with real event time.
        service.registerEventTimeTimer(base + ((i * 7919) % count))
      }
      const registered = process.hrtime.bigint()
      fired = 0
      service.advanceWatermark(base + count)
      const end = process.hrtime.bigint()
      if (fired !== count) throw new Error(`timer service fired ${fired} timers, expected ${count}`)
      registerMs.push(Number(registered - start) / 1e6)
      fireMs.push(Number(end - registered) / 1e6)
      base += 2 * count
    }
    const reg = median(registerMs)
    const fire = median(fireMs)
    return { registerPerSec: (count * 1000) / reg, firePerSec: (count * 1000) / fire, bothPerSec: (count * 1000) / (reg + fire) }
  } finally {
    await opened.dispose()
  }
}
