// Throughput of a keyed counting job (ValueState + MapState per event) on the
// job runtime at parallelism 1 and 2, with a checkpoint every second and
// without, against the same operator code called in a plain loop in one
// process (same generator, same RocksDB backend). Writes bench/notes/runtime.md,
// which bench/RESULTS.md includes (and full `npm run bench` runs keep).
//
// Each worker measures itself, from its first event to the end of its input
// (bench/runtime-job.ts). Two measures per worker: wall clock (its events /
// that time), which on a machine with fewer free cores than workers +
// coordinator also counts the time a worker waits for a core; and CPU (its
// events / its process's CPU time), which is what a worker costs whatever
// else runs. The plain loop is measured both ways too.
//
//   node dist/bench/runtime.js [--events 600000] [--keys 10000] [--rounds 3]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { FileSystemCheckpointStorage, openKeyedStateBackend, runJob, stringSerializer, type OperatorContext } from '../src/index.js'
import { Counter, eventAt } from '../examples/counting-job.js'
import type { BenchParams, WorkerMeasure } from './runtime-job.js'

/** The shared counting job (the broker examples and the runtime tests run it too), its workers measuring themselves. */
const JOB = new URL('./runtime-job.js', import.meta.url)
const NOTES = fileURLToPath(new URL('../../bench/notes/runtime.md', import.meta.url))

const ownCpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

interface PlainResult {
  eventsPerSecond: number
  eventsPerCpuSecond: number
}

async function plainLoop(events: number, keys: number): Promise<PlainResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-bench-plain-'))
  const backend = await openKeyedStateBackend({ kind: 'rocksdb', dir, keySerializer: stringSerializer })
  try {
    const op = new Counter()
    const ctx = { backend } as unknown as OperatorContext<string>
    op.open(ctx)
    const t0 = performance.now()
    const cpu0 = ownCpuSeconds()
    for (let o = 0; o < events; o++) {
      const e = eventAt(keys, o)
      backend.setCurrentKey(e.key)
      op.processElement(e)
    }
    return { eventsPerSecond: events / ((performance.now() - t0) / 1000), eventsPerCpuSecond: events / (ownCpuSeconds() - cpu0) }
  } finally {
    await backend.close()
    await rm(dir, { recursive: true, force: true })
  }
}

interface RuntimeResult {
  parallelism: number
  checkpointIntervalMs: number | undefined
  eventsPerSecond: number
  perWorker: number[]
  /** Per worker: events processed per second of its process's CPU time. */
  perWorkerCpu: number[]
  /** The coordinator's (this process's) CPU seconds per wall second while the job ran. */
  coordinatorCpuShare: number
  checkpoints: number
}

async function onRuntime(events: number, keys: number, parallelism: number, checkpointIntervalMs: number | undefined): Promise<RuntimeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-bench-runtime-'))
  const reportDir = await mkdtemp(join(tmpdir(), 'ks-bench-workers-'))
  let checkpoints = 0
  try {
    const params: BenchParams = { events, keys, reportDir }
    const job = await runJob({
      job: JOB,
      params: { ...params },
      parallelism,
      backend: 'rocksdb',
      storage: new FileSystemCheckpointStorage(dir),
      ...(checkpointIntervalMs ? { checkpointIntervalMs } : {}),
      // The default heartbeat interval: the workers measure themselves, and report their finish at once.
      onEvent: (e) => {
        if (e.type === 'checkpoint') checkpoints++
      },
    })
    const t0 = performance.now()
    const coordinator0 = ownCpuSeconds()
    while (!job.workers.every((w) => w.progress.finished)) await sleep(2)
    const coordinatorCpuShare = (ownCpuSeconds() - coordinator0) / ((performance.now() - t0) / 1000)
    const periodic = checkpoints
    await job.done
    // Each worker from its first event to the end of its input; the job from the first worker's first event to the last one's end.
    const all = await Promise.all(job.workers.map(async (_, i) => JSON.parse(await readFile(join(reportDir, `worker-${i}.json`), 'utf8')) as WorkerMeasure))
    // A worker without events (more workers than keys) has no span to measure.
    const measures = all.filter((m) => m.events > 0)
    const seconds = (Math.max(...measures.map((m) => m.endMs)) - Math.min(...measures.map((m) => m.startMs))) / 1000
    const processed = measures.reduce((n, m) => n + m.events, 0)
    if (processed !== events) throw new Error(`the workers processed ${processed} events, not ${events}`)
    return {
      parallelism,
      checkpointIntervalMs,
      eventsPerSecond: events / seconds,
      perWorker: measures.map((m) => m.events / ((m.endMs - m.startMs) / 1000)),
      perWorkerCpu: measures.map((m) => m.events / m.cpuSeconds),
      coordinatorCpuShare,
      checkpoints: periodic,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
    await rm(reportDir, { recursive: true, force: true })
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

async function main(): Promise<void> {
  const o = new Command()
    .option('--events <n>', 'events per run', (v) => Number(v), 600_000)
    .option('--keys <n>', 'distinct keys', (v) => Number(v), 10_000)
    .option('--rounds <n>', 'interleaved rounds; the best of each measure is kept', (v) => Number(v), 3)
    .parse(process.argv)
    .opts<{ events: number; keys: number; rounds: number }>()
  const loadStart = loadavg()[0]!
  await plainLoop(Math.ceil(o.events / 5), o.keys) // warm-up: the workers' code is warm after their first batches too
  // Interleaved rounds, best of each measure: other work on the machine only ever slows a run down.
  const configs: [number, number | undefined][] = [[1, undefined], [1, 1000], [2, undefined], [2, 1000]]
  const plain: PlainResult = { eventsPerSecond: 0, eventsPerCpuSecond: 0 }
  const all = new Map<string, RuntimeResult[]>()
  for (let round = 0; round < o.rounds; round++) {
    const r = await plainLoop(o.events, o.keys)
    plain.eventsPerSecond = Math.max(plain.eventsPerSecond, r.eventsPerSecond)
    plain.eventsPerCpuSecond = Math.max(plain.eventsPerCpuSecond, r.eventsPerCpuSecond)
    for (const [p, interval] of configs) {
      const key = `${p}/${interval}`
      all.set(key, [...(all.get(key) ?? []), await onRuntime(o.events, o.keys, p, interval)])
    }
  }
  const loadEnd = loadavg()[0]!
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const runs = configs.map(([p, interval]) => {
    const rs = all.get(`${p}/${interval}`)!
    const wall = rs.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a))
    return { parallelism: p, interval, wall, perWorker: mean(wall.perWorker), perWorkerCpu: Math.max(...rs.map((r) => mean(r.perWorkerCpu))) }
  })
  const find = (p: number, interval: number | undefined) => runs.find((r) => r.parallelism === p && r.interval === interval)!
  const pct = (base: number, x: number): number => ((base - x) / base) * 100
  const rows = runs.map((r) => {
    const base = find(r.parallelism, undefined)
    const cost = r.interval ? `${pct(base.wall.eventsPerSecond, r.wall.eventsPerSecond).toFixed(1)} % / ${pct(base.perWorkerCpu, r.perWorkerCpu).toFixed(1)} %` : '—'
    return (
      `| ${r.parallelism} | ${r.interval ? `every ${r.interval / 1000} s (${r.wall.checkpoints} taken)` : 'none'} | ${fmt(r.wall.eventsPerSecond)} | ` +
      `${fmt(r.perWorker)} | ${(r.perWorker / plain.eventsPerSecond).toFixed(2)}× | ${fmt(r.perWorkerCpu)} | ${(r.perWorkerCpu / plain.eventsPerCpuSecond).toFixed(2)}× | ` +
      `${(r.wall.coordinatorCpuShare * 100).toFixed(0)} % | ${cost} |`
    )
  })
  const goal = (p: number): string => {
    const r = find(p, undefined)
    const wall = r.perWorker / plain.eventsPerSecond
    const cpu = r.perWorkerCpu / plain.eventsPerCpuSecond
    const cost = pct(r.wall.eventsPerSecond, find(p, 1000).wall.eventsPerSecond)
    const costCpu = pct(r.perWorkerCpu, find(p, 1000).perWorkerCpu)
    const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL')
    return (
      `parallelism ${p}: per worker ${wall.toFixed(2)}× wall (${verdict(wall >= 0.8)}), ${cpu.toFixed(2)}× CPU (${verdict(cpu >= 0.8)}); ` +
      `checkpoints every second cost ${cost.toFixed(1)} % wall (${verdict(cost <= 10)}), ${costCpu.toFixed(1)} % CPU (${verdict(costCpu <= 10)})`
    )
  }
  const md = [
    '## Job runtime',
    '',
    `Written by \`node dist/bench/runtime.js --events ${o.events} --keys ${o.keys} --rounds ${o.rounds}\` (best of ${o.rounds} interleaved rounds) on ${new Date().toISOString()}; ` +
      `load average ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end (2 cores shared with other work: the numbers move between runs).`,
    '',
    `A keyed counting job (ValueState + MapState per event, RocksDB) over a generator of ${fmt(o.events)} events and ${fmt(o.keys)} keys; ` +
      'the generator declares its key space, so each worker makes only its own key groups\' events. ' +
      `The plain loop calls the same operator code in one process: **${fmt(plain.eventsPerSecond)} events/s** wall, ` +
      `**${fmt(plain.eventsPerCpuSecond)} events per CPU second**.`,
    '',
    'What per worker means: each worker measures itself from its first event to the end of its input, and *wall* per worker is its events ' +
      '/ that time (the job: all events / first event to last end). The machine has 2 cores, and at parallelism 2 the two workers, the coordinator (this process: heartbeats, ' +
      'checkpoint coordination) and everything else running share them, so a worker also waits for a core; wall per worker is what a worker ' +
      'gets here, not what it costs. *CPU* per worker is the events a worker processed / its process\'s CPU time (user + system, all its ' +
      'threads, RocksDB\'s background work included, process.cpuUsage() in the worker) over the same span: what the runtime costs per event against the plain ' +
      'loop\'s events per CPU second, whatever else runs. Cost of checkpoints: wall = drop of the job\'s events/s, CPU = drop of events per CPU second.',
    '',
    '| parallelism | checkpoints | events/s (job) | wall per worker | vs plain loop | per worker CPU second | vs plain loop | coordinator CPU | cost of checkpoints (wall / CPU) |',
    '| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Goals (≥ 0.8× the plain loop per worker without checkpoints; checkpoints every second cost ≤ 10 %): ${goal(1)}; ${goal(2)}.`,
    '',
  ].join('\n')
  await writeFile(NOTES, md)
  console.log(md)
}

await main()
