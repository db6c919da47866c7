// Layering of src/, checked on the import statements of the TypeScript
// sources (fast: nothing is built or loaded). Folders import one way only, and
// the shared layers (snapshot, storage, state, state-backend, serializers,
// checkpoint, timers, ttl, the helpers in src/) never import a backend
// implementation under src/backends/. docs/ARCHITECTURE.md draws this graph.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  layerViolations,
  readImportEdges,
  readLayerDiagram,
  upwardImports,
  sourceDir,
  unitCycles,
  unitGraph,
  unitOf,
  type ImportEdge,
} from './import-graph.js'

const edges = readImportEdges(sourceDir())

function describe(cycle: readonly string[]): string {
  const members = new Set(cycle)
  const examples = edges
    .filter((e) => unitOf(e.from) !== unitOf(e.to) && members.has(unitOf(e.from)) && members.has(unitOf(e.to)))
    .map((e) => `  ${e.from} -> ${e.to}`)
  return `${cycle.join(' <-> ')}\n${examples.join('\n')}`
}

test('the sources are read: every folder of src/ is in the graph', () => {
  const units = new Set(unitGraph(edges).keys())
  for (const unit of ['backends/heap/', 'backends/rocksdb/', 'backends/rocksdb/native/', 'state-backend/', 'snapshot/full/', 'checkpoint/', 'index.ts']) {
    assert.ok(units.has(unit), `${unit} missing from the import graph`)
  }
  assert.ok(edges.length > 300, `only ${edges.length} imports found`)
})

test('no cycle between folders of src/', () => {
  const cycles = unitCycles(unitGraph(edges))
  assert.deepEqual(cycles.map(describe), [])
})

test('no shared layer imports a backend implementation', () => {
  assert.deepEqual(layerViolations(edges).map((e) => `${e.from} -> ${e.to}`), [])
})

test('a backend implementation does not import another one', () => {
  const backendOf = (file: string) => /^backends\/([^/]+)\//.exec(file)?.[1]
  const crossing = edges.filter((e) => {
    const a = backendOf(e.from)
    const b = backendOf(e.to)
    return a !== undefined && b !== undefined && a !== b
  })
  assert.deepEqual(crossing.map((e) => `${e.from} -> ${e.to}`), [])
})

test('the checks see what they must refuse (graphs the issue described)', () => {
  const before: ImportEdge[] = [
    { from: 'backends/rocksdb/backend.ts', to: 'snapshot/incremental/index.ts' },
    { from: 'snapshot/incremental/strategy.ts', to: 'backends/rocksdb/meta-store.ts' },
    { from: 'snapshot/full/restore.ts', to: 'restore/coverage.ts' },
    { from: 'restore/incremental.ts', to: 'snapshot/full/index.ts' },
    { from: 'index.ts', to: 'backends/open.ts' },
    { from: 'cli/incremental.ts', to: 'backends/open.ts' },
    { from: 'errors.ts', to: 'keygroups.ts' },
    { from: 'keygroups.ts', to: 'errors.ts' },
  ]
  const cycles = unitCycles(unitGraph(before)).map((c) => c.join(' <-> ')).sort()
  assert.deepEqual(cycles, ['backends/rocksdb/ <-> snapshot/incremental/', 'errors.ts <-> keygroups.ts', 'restore/ <-> snapshot/full/'])
  assert.deepEqual(layerViolations(before), [{ from: 'snapshot/incremental/strategy.ts', to: 'backends/rocksdb/meta-store.ts' }])
})

test('docs/ARCHITECTURE.md draws this graph: every folder in one row, every import pointing down', () => {
  const rows = readLayerDiagram(readFileSync(join(sourceDir(), '..', 'docs', 'ARCHITECTURE.md'), 'utf8'))
  const units = [...unitGraph(edges).keys()].sort()
  assert.deepEqual(units.filter((u) => !rows.has(u)), [], 'units of src/ missing from the diagram')
  assert.deepEqual([...rows.keys()].filter((u) => !units.includes(u)).sort(), [], 'units in the diagram that src/ does not have')
  assert.deepEqual(upwardImports(edges, rows).map((e) => `${e.from} (row ${rows.get(unitOf(e.from))}) -> ${e.to} (row ${rows.get(unitOf(e.to))})`), [])
})

test('the diagram check refuses an import sideways or upwards', () => {
  const rows = readLayerDiagram('<!-- layers: -->\n```\n 2  a/  — top\n    b.ts — beside a\n 1  c/\n```\n')
  assert.deepEqual([...rows], [['a/', 2], ['b.ts', 2], ['c/', 1]])
  const sideways = { from: 'a/x.ts', to: 'b.ts' }
  const upwards = { from: 'c/y.ts', to: 'a/x.ts' }
  assert.deepEqual(upwardImports([sideways, upwards, { from: 'a/x.ts', to: 'c/y.ts' }], rows), [sideways, upwards])
})
