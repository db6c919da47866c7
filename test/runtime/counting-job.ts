// The job the runtime tests run: the shared counting job
// (examples/counting-job.ts) with failures planted on purpose for the restart
// tests (throw at an offset, hang once, a wrong key space).
import { existsSync, writeFileSync } from 'node:fs'
import { defineJob, generatorSource } from '../../src/index.js'
import { Counter, countingJob, eventAt, type CountEvent, type CountingParams } from '../../examples/counting-job.js'

export interface FaultyCountingParams extends CountingParams {
  /** Every worker that reads this offset throws (a deterministic bug: restarts cannot help). */
  failAtOffset?: number
  /** The first worker that reads this offset stops answering (busy loop) — once: it creates `hangMarker`. */
  hangAtOffset?: number
  hangMarker?: string
  /** The generator's keys.indexAt says key 0 for every offset (a wrong key space: the worker must refuse the records). */
  wrongKeyIndex?: boolean
}

class FaultyCounter extends Counter {
  constructor(private readonly params: FaultyCountingParams) {
    super()
  }

  override processElement(e: CountEvent): void {
    if (e.offset === this.params.failAtOffset) throw new Error(`planted failure at offset ${e.offset}`)
    if (e.offset === this.params.hangAtOffset && this.params.hangMarker && !existsSync(this.params.hangMarker)) {
      writeFileSync(this.params.hangMarker, String(process.pid))
      for (;;) {
        // Stops answering: no heartbeats, no replies, until the job kills it.
      }
    }
    super.processElement(e)
  }
}

export default defineJob<CountEvent, string, FaultyCountingParams>({
  ...countingJob,
  operator: (p) => new FaultyCounter(p),
  source: (p) =>
    p.wrongKeyIndex
      ? generatorSource({ events: p.events, eventAt: (o) => eventAt(p.keys, o), keys: { count: p.keys, indexAt: () => 0 } })
      : countingJob.source(p),
})
