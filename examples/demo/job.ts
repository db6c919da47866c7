// The demo job as the runtime runs it: this module's default export tells
// every worker process how to build the operator, its source and its key.
// Parameters (the stream's seed, size and pace) come from demo-job.ts.
import { defineJob, generatorSource, stringSerializer } from '../../src/index.js'
import { eventAt, MAX_OUT_OF_ORDER_MS, userAt, type DemoEvent, type StreamConfig } from './events.js'
import { EventCounter } from './operator.js'

export interface DemoJobParams {
  stream: StreamConfig
  /** Events per second the source releases (the stream arrives over a few seconds, as a live one would). */
  ratePerSecond: number
}

export default defineJob<DemoEvent, string, DemoJobParams>({
  name: 'demo',
  keySerializer: stringSerializer,
  keyOf: (event) => event.key,
  operator: ({ stream }) => new EventCounter(stream.events),
  source: ({ stream, ratePerSecond }) =>
    generatorSource({
      events: stream.events,
      eventAt: (offset) => eventAt(stream, offset),
      // The users: each worker makes only its own users' events.
      keys: { count: stream.keys, indexAt: (offset) => userAt(stream, offset) },
      ratePerSecond,
    }),
  // No event is later than this behind the largest event time read, so the windows' counts are exact.
  watermarks: { eventTimeOf: (event) => event.timeMs, maxOutOfOrdernessMs: MAX_OUT_OF_ORDER_MS },
})
