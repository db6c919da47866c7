#!/usr/bin/env node
// Runs every compiled test file with Node's own test runner. Node 20 takes no
// globs, so the files are listed here. SOAK=1 adds the long crash and soak runs.
//
// --quick (npm run test:quick): the inner loop, under a minute on an idle
// two-core machine. It leaves out what runs child processes (crash, demo, the
// S3 tests with their local S3 server), the conformance suite over RocksDB (the
// heap's stays, and RocksDB keeps its own unit tests), and the long property
// and model tests. `npm test` runs
// everything and stays the check before a commit lands.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const testRoot = join(root, 'dist', 'test')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const filter = args.filter((a) => a !== '--quick')

/** Left out by --quick: each file takes several seconds to minutes (per-test times of a full run). */
const SLOW = [
  'test/crash/',
  'test/demo/',
  'test/s3/',
  'test/model/',
  'test/suite/rocksdb',
  'test/suite/snapshot-cross',
  'test/rocksdb/incremental/rescale',
  'test/rocksdb/striped-read',
  'test/rocksdb/native/iterator-async',
  'test/rocksdb/native/model',
  'test/rocksdb/native/lifecycle',
  'test/timers/model',
  'test/timers/cross-backend',
  'test/checkpoint/rocksdb-job',
  'test/rocksdb/compaction-options',
]

function collect(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) out.push(...collect(full))
    else if (name.endsWith('.test.js')) out.push(full)
  }
  return out
}

const files = collect(testRoot)
  .filter((f) => filter.length === 0 || filter.some((x) => relative(root, f).includes(x)))
  .filter((f) => !quick || !SLOW.some((s) => relative(root, f).replace(/^dist\//, '').startsWith(s)))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
})
process.exit(res.status ?? 1)
