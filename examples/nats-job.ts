#!/usr/bin/env node
// A keyed job on NATS JetStream: `npm run example:nats` (or with `-- --url nats://host:4222`).
// Without --url it installs (Debian, as root) and starts a local nats-server with JetStream.
import { natsJetStreamProducer, stringSerializer } from '../src/index.js'
import { startNatsServer } from './brokers/local-servers.js'
import { main } from './brokers/run-example.js'
import type { CountEvent } from './counting-job.js'

main({
  name: 'nats',
  defaultUrlHint: 'nats://host:4222, JetStream enabled',
  startServer: startNatsServer,
  broker: (url) => ({ kind: 'nats', url, stream: 'counts' }),
  producer: (url) => natsJetStreamProducer<CountEvent, string>({ servers: url, stream: 'counts', keyOf: (e) => e.key, keySerializer: stringSerializer }),
})
