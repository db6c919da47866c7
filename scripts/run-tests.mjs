#!/usr/bin/env node
// Runs every compiled test file with Node's own test runner. Node 20 takes no
// globs, so the files are listed here. SOAK=1 adds the long crash and soak runs.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const testRoot = join(root, 'dist', 'test')
const filter = process.argv.slice(2)

function collect(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) out.push(...collect(full))
    else if (name.endsWith('.test.js')) out.push(full)
  }
  return out
}

const files = collect(testRoot).filter((f) => filter.length === 0 || filter.some((x) => relative(root, f).includes(x)))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
})
process.exit(res.status ?? 1)
