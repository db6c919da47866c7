#!/usr/bin/env node
// A keyed job on NATS JetStream: `npm run example:nats` (or with `-- --url nats://host:4222`).
// Without --url it installs (Debian, as root) and starts a local nats-server with JetStream.
import { natsJetStreamProducer, stringSerializer } from '../src/index.js'
import { startNatsServer } from './brokers/local-servers.js'
import type { PageView } from './brokers/page-views-job.js'
import { main } from './brokers/run-example.js'

main({
  name: 'nats',
  defaultUrlHint: 'nats://host:4222, JetStream enabled',
  startServer: startNatsServer,
  params: (url) => ({ broker: 'nats', url, stream: 'page-views' }),
  producer: (url) => natsJetStreamProducer<PageView, string>({ servers: url, stream: 'page-views', keyOf: (v) => v.user, keySerializer: stringSerializer }),
})
