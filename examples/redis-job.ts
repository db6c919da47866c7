#!/usr/bin/env node
// A keyed job on Redis Streams: `npm run example:redis` (or with `-- --url redis://host:6379`).
// Without --url it installs (Debian, as root) and starts a local redis-server.
import { redisStreamsProducer, stringSerializer } from '../src/index.js'
import { startRedisServer } from './brokers/local-servers.js'
import type { PageView } from './brokers/page-views-job.js'
import { main } from './brokers/run-example.js'

main({
  name: 'redis',
  defaultUrlHint: 'redis://host:6379',
  startServer: startRedisServer,
  params: (url) => ({ broker: 'redis', url, prefix: 'page-views' }),
  producer: (url) => redisStreamsProducer<PageView, string>({ url, prefix: 'page-views', keyOf: (v) => v.user, keySerializer: stringSerializer }),
})
