#!/usr/bin/env node
// Runs every compiled test file with Node's own test runner. Node 20 takes no
// globs, so the files are listed here. SOAK=1 adds the long crash and soak runs.
//
// --quick (npm run test:quick): the inner loop, under a minute on an idle
// two-core machine. It keeps fast files that cover every layer (each test
// folder keeps at least one file, checked below) and leaves out what runs
// child processes, servers or browsers (crash, demo, the S3 tests with their
// local S3 server, the brokers, remote workers, the packed-install test, jobs
// run through the CLI, the chromium page), the conformance suite over RocksDB
// (the heap's stays, and RocksDB keeps its own unit tests), and the long
// property and model tests. `npm test` runs everything and stays the check
// before a commit lands.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const testRoot = join(root, 'dist', 'test')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const filter = args.filter((a) => a !== '--quick')

/**
 * Left out by --quick: each file takes several seconds to minutes. Per-file
 * wall times, each file alone, two at a time, load average 14-20 on 2 cores
 * (2026-12-02; about 3x an idle machine): cli/cli 77 s, package/install 56 s,
 * runtime/brokers 52 s, runtime/remote-workers 35 s, restore/local-damage 27 s,
 * cli/run 24 s, runtime/coordinator-crash 22 s, rocksdb/many-states 17 s,
 * ui/page 12 s. What stays: runtime/job 56 s (the one runtime file),
 * cli/cli-shortcuts 20 s (the CLI commands), everything else under 22 s.
 * The whole quick tier before and after leaving those out, the same hour, load
 * average 15-18: 325 s wall / 150 s CPU before, 142 s / 72 s after (about
 * 95 s before on an idle machine, so about 45 s after).
 */
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
  'test/rocksdb/many-states',
  'test/package/',
  'test/runtime/brokers',
  'test/runtime/remote-workers',
  'test/runtime/coordinator-crash',
  'test/restore/local-damage',
  'test/cli/cli.test',
  'test/cli/run.test',
  'test/ui/page',
]

/** Test folders that --quick leaves out whole: every other folder keeps at least one file in the quick tier. */
const LEFT_OUT_WHOLE = ['crash', 'demo', 'model', 'package', 's3']

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
if (quick && filter.length === 0) {
  // A layer whose every file is slow must still be covered by one of them.
  const folderOf = (f) => relative(testRoot, f).split(/[\\/]/)[0]
  const uncovered = [...new Set(collect(testRoot).map(folderOf))].filter((d) => !LEFT_OUT_WHOLE.includes(d) && !files.some((f) => folderOf(f) === d))
  if (uncovered.length > 0) {
    console.error(`--quick leaves no test file of: ${uncovered.join(', ')} (keep one, or add the folder to LEFT_OUT_WHOLE)`)
    process.exit(1)
  }
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
})
process.exit(res.status ?? 1)
