// Every file or folder path that README.md and docs/*.md name (src/..., test/...,
// native/..., bench/..., examples/..., scripts/..., docs/...) exists, so the docs
// follow the code when it moves. A '*' in a name matches any characters.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { test } from 'node:test'
import { sourceDir } from './import-graph.js'

const root = join(sourceDir(), '..')
const PATH = /(?<![\w/.-])(?:src|test|native|bench|examples|scripts|docs)\/[\w./*-]*[\w*/]/g

function exists(path: string): boolean {
  if (!path.includes('*')) return existsSync(join(root, path))
  const dir = posix.dirname(path)
  const pattern = new RegExp(`^${posix.basename(path).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
  return existsSync(join(root, dir)) && readdirSync(join(root, dir)).some((name) => pattern.test(name))
}

test('paths named in README.md and docs/ exist', () => {
  const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).map((n) => `docs/${n}`)]
  const missing: string[] = []
  let named = 0
  for (const doc of docs) {
    for (const match of readFileSync(join(root, doc), 'utf8').matchAll(PATH)) {
      named++
      if (!exists(match[0])) missing.push(`${doc}: ${match[0]}`)
    }
  }
  assert.ok(named > 20, `only ${named} paths found`)
  assert.deepEqual(missing, [])
})
