// RocksDB's background work stays out of the job's way: its flush and
// compaction threads run at the lowest CPU priority (nice 19), so on a machine
// with as many busy threads as cores they do not preempt the event loop's
// thread; and the database is opened with avoid_unnecessary_blocking_io, so a
// put or an iterator's close on that thread never frees a flushed memtable or
// deletes obsolete files itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { newestOptionsText, openIn, tempDir } from './helpers.js'

/** nice of each of this process's threads named `name`, from /proc (field 19 of stat, after the command in parentheses). */
function nicesOf(name: string): number[] {
  const out: number[] = []
  for (const tid of readdirSync('/proc/self/task')) {
    let comm: string
    let stat: string
    try {
      comm = readFileSync(join('/proc/self/task', tid, 'comm'), 'utf8').trim()
      stat = readFileSync(join('/proc/self/task', tid, 'stat'), 'utf8')
    } catch {
      continue // the thread ended meanwhile
    }
    if (comm !== name) continue
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    out.push(Number(fields[16]))
  }
  return out
}

test('flush threads run at nice 19 once they did a job; the DB is opened with avoid_unnecessary_blocking_io', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const dir = await tempDir()
  const backend = await openIn(dir.path)
  try {
    const state = backend.getState(new ValueStateDescriptor('v', stringSerializer))
    for (let i = 0; i < 1000; i++) {
      backend.setCurrentKey(`k${i}`)
      state.update(`value ${i}`)
    }
    // flush() runs as a job of a flush thread (rocksdb:high), which lowers its priority before the job.
    ;(backend as unknown as { db: { flush(): void } }).db.flush()
    const nices = nicesOf('rocksdb:high')
    assert.ok(nices.length > 0, 'a flush thread exists')
    assert.deepEqual([...new Set(nices)], [19], `nice of the flush threads: ${nices.join(', ')}`)
    assert.match(await newestOptionsText(join(dir.path, 'db')), /^\s*avoid_unnecessary_blocking_io=true$/m)
  } finally {
    await backend.close()
    await dir.remove()
  }
})
