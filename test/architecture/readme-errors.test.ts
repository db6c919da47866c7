// The README's error table ("### Errors") lists every code of src/errors.ts,
// each with an example, and no code that does not exist: a code added to the
// library without a line there fails here.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ERROR_CODES } from '../../src/errors.js'
import { sourceDir } from './import-graph.js'

const readme = readFileSync(join(sourceDir(), '..', 'README.md'), 'utf8')

/** The rows of the table under "### Errors": code and example. */
function errorTableRows(): Array<[string, string]> {
  const at = readme.indexOf('\n### Errors\n')
  assert.ok(at >= 0, 'README.md has a "### Errors" section')
  const section = readme.slice(at + '\n### Errors\n'.length)
  const rows: Array<[string, string]> = []
  for (const line of section.split('\n')) {
    if (line.startsWith('#')) break
    const row = /^\| `([A-Z_]+)` \| (.*) \|$/.exec(line)
    if (row) rows.push([row[1]!, row[2]!])
  }
  return rows
}

test('the README error table lists every ErrorCode once, each with an example, and no other code', () => {
  const rows = errorTableRows()
  const listed = rows.map(([code]) => code)
  assert.deepEqual(ERROR_CODES.filter((c) => !listed.includes(c)), [], 'codes missing from the README table')
  assert.deepEqual(listed.filter((c) => !(ERROR_CODES as readonly string[]).includes(c)), [], 'codes in the README table that src/errors.ts lacks')
  assert.equal(new Set(listed).size, listed.length, 'each code once')
  for (const [code, example] of rows) assert.ok(example.trim().length > 10, `${code} has an example`)
})
