// README's metrics table names exactly the metrics a job's registry has (which
// holds the checkpoint, backend and job metrics): a metric added without its
// documentation, or documented and gone, fails here.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { backendMetrics } from '../../src/metrics/backend-metrics.js'
import { checkpointMetrics } from '../../src/metrics/checkpoint-metrics.js'
import { jobMetrics } from '../../src/metrics/job-metrics.js'
import { sourceDir } from '../architecture/import-graph.js'

function documentedMetrics(): string[] {
  const readme = readFileSync(join(sourceDir(), '..', 'README.md'), 'utf8')
  const at = readme.indexOf('<!-- metrics:')
  assert.ok(at >= 0, 'README has the metrics table marker')
  const rows = readme.slice(at).split('\n').slice(1)
  const table = rows.slice(0, rows.findIndex((l) => !l.startsWith('|')))
  return table.slice(2).map((row) => {
    const m = /^\| `([a-z_]+)` \|/.exec(row)
    assert.ok(m, `metrics table row names one metric: ${row}`)
    return m[1]!
  })
}

test('README lists every metric of a job, and nothing else', () => {
  const job = jobMetrics(() => [])
  const registered = job.registry.getMetricsAsArray().map((m) => m.name)
  const documented = documentedMetrics()
  assert.equal(new Set(documented).size, documented.length, 'each metric once')
  assert.deepEqual([...documented].sort(), [...registered].sort())
  // The parts a user makes without the runtime are the same metrics.
  const parts = checkpointMetrics(undefined)
  backendMetrics([], { registry: parts.registry })
  for (const m of parts.registry.getMetricsAsArray()) assert.ok(registered.includes(m.name), m.name)
})
