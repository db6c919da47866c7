#!/usr/bin/env node
// A keyed job on Redis Streams: `npm run example:redis` (or with `-- --url redis://host:6379`).
// Without --url it installs (Debian, as root) and starts a local redis-server.
import { redisStreamsProducer, stringSerializer } from '../src/index.js'
import { startRedisServer } from './brokers/local-servers.js'
import { main } from './brokers/run-example.js'
import type { CountEvent } from './counting-job.js'

main({
  name: 'redis',
  defaultUrlHint: 'redis://host:6379',
  startServer: startRedisServer,
  broker: (url) => ({ kind: 'redis', url, prefix: 'counts' }),
  producer: (url) => redisStreamsProducer<CountEvent, string>({ url, prefix: 'counts', keyOf: (e) => e.key, keySerializer: stringSerializer }),
})
