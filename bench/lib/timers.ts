// Timer register + fire throughput through the library's timer service
// (issue 7). Until that lands, reports 'n/a (not built yet)'.
import type { TempSpace } from './tmp.js'
import type { Kind } from './keyed.js'
import { NOT_BUILT, Unavailable } from './pieces.js'

export interface TimerThroughput {
  registerPerSec: number
  firePerSec: number
  bothPerSec: number
}

export async function timerThroughput(_tmp: TempSpace, _kind: Kind, _keys: readonly string[], _count: number): Promise<TimerThroughput> {
  throw new Unavailable(NOT_BUILT)
}
