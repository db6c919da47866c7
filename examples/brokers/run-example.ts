// The broker examples' driver (nats-job.ts, redis-job.ts): starts a local
// server unless --url is given, writes events with the producer while the
// counting job (examples/counting-job.ts) runs on 2 workers, kills a worker,
// rescales to 3, stops with a savepoint once everything written was read,
// reads the state back and compares it with what was written: PASS or FAIL.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Command, InvalidArgumentError } from 'commander'
import { FileSystemCheckpointStorage, runJob, stringSerializer, withSnapshotState, type Job } from '../../src/index.js'
import type { LocalServer } from './local-servers.js'
import { byTypeDescriptor, countDescriptor, eventAt, expectedCounts, type BrokerParams, type CountEvent } from '../counting-job.js'

export interface BrokerExample {
  name: string
  defaultUrlHint: string
  startServer(): Promise<LocalServer>
  broker(url: string): BrokerParams
  producer(url: string): Promise<{ send(event: CountEvent): Promise<unknown>; close(): Promise<void> }>
}

function positiveInteger(text: string): number {
  const v = Number(text)
  if (!/^\d+$/.test(text) || v < 1) throw new InvalidArgumentError('expected a positive integer')
  return v
}

async function until(job: Job, condition: () => boolean): Promise<void> {
  while (!condition()) {
    if (job.state === 'FAILED') await job.done
    await sleep(10)
  }
}

export async function runBrokerExample(example: BrokerExample): Promise<number> {
  const o = new Command()
    .name(`${example.name}-job`)
    .description(`Counts events per key from ${example.name} on 2 → 3 workers, through a worker crash; checks every count.`)
    .option('--url <url>', `a running server (${example.defaultUrlHint}); default: start a local one`)
    .option('--events <n>', 'events to write', positiveInteger, 20_000)
    .option('--keys <n>', 'distinct keys', positiveInteger, 500)
    .parse(process.argv)
    .opts<{ url?: string; events: number; keys: number }>()
  const server = o.url ? undefined : await example.startServer()
  const url = o.url ?? server!.url
  console.log(`${example.name} at ${url}${server ? ` (started here, pid ${server.pid})` : ''}`)
  const storageDir = await mkdtemp(join(tmpdir(), `keyed-state-${example.name}-example-`))
  const storage = new FileSystemCheckpointStorage(storageDir)
  const producer = await example.producer(url)
  let job: Job | undefined
  try {
    const producing = (async () => {
      for (let i = 0; i < o.events; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, o.events - i) }, (_, j) => producer.send(eventAt(o.keys, i + j))))
        await sleep(5)
      }
    })()
    job = await runJob({
      job: new URL('../counting-job.js', import.meta.url),
      params: { events: o.events, keys: o.keys, broker: example.broker(url) },
      parallelism: 2,
      storage,
      checkpointIntervalMs: 200,
      restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 100 },
      onEvent: (e) => {
        if (e.type === 'started') console.log(`started   ${e.parallelism} workers${e.restoredFrom ? `, restored from checkpoint ${e.restoredFrom.checkpointId}` : ''}`)
        if (e.type === 'failure') console.log(`failure   ${e.error.message}`)
      },
    })
    await until(job, () => job!.latestSnapshot !== undefined)
    const victim = job.workers[0] as unknown as { pid: number; name: string }
    console.log(`kill      SIGKILL to ${victim.name} (pid ${victim.pid}) after checkpoint ${job.latestSnapshot!.checkpointId}`)
    process.kill(victim.pid, 'SIGKILL')
    await until(job, () => job!.restarts === 1 && job!.state === 'RUNNING')
    console.log('rescale   2 → 3 workers while the producer writes')
    await job.rescale(3)
    await producing
    await job.waitUntilCaughtUp()
    const { snapshot } = await job.stop({ savepoint: true })
    console.log(`savepoint ${snapshot!.dir} (${snapshot!.parallelism} workers)`)
    const expected = expectedCounts(o)
    const differences = await withSnapshotState(storage, snapshot!, stringSerializer, (backend) => {
      const count = backend.getState(countDescriptor)
      const byType = backend.getMapState(byTypeDescriptor)
      const out: string[] = []
      for (const [key, want] of expected) {
        backend.setCurrentKey(key)
        if (count.value() !== want.count) out.push(`${key}: ${count.value()} events, expected ${want.count}`)
        for (const [type, n] of Object.entries(want.byType)) if (byType.get(type) !== n) out.push(`${key} ${type}: ${byType.get(type)} events, expected ${n}`)
      }
      const keys = [...backend.keys(countDescriptor.name)].length
      if (keys !== expected.size) out.push(`${keys} keys have state, expected ${expected.size}`)
      return out
    })
    console.log(`check     ${expected.size} keys, ${o.events} events: ${differences.length === 0 ? 'every count equals what was written' : `${differences.length} differ`}`)
    for (const d of differences.slice(0, 5)) console.log(`          ${d}`)
    console.log(differences.length === 0 ? 'PASS' : 'FAIL')
    return differences.length === 0 ? 0 : 1
  } finally {
    await job?.stop().catch(() => {})
    await producer.close()
    await server?.stop()
    await rm(storageDir, { recursive: true, force: true })
  }
}

export function main(example: BrokerExample): void {
  runBrokerExample(example).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      console.error(`${example.name} example failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
      console.log('FAIL')
      process.exitCode = 1
    },
  )
}
