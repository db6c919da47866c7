// rocksdbMmapReads: SST files are read through a memory map by default and
// through pread when it is false. Either way every value reads back as written
// from the files (not the memtable), a flipped byte in a data block is a
// CORRUPTION error naming the read (block checksums are verified under mmap
// too), a file cut short before the backend opens it is a typed error naming
// it, and a value that is not a boolean is refused before anything opens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { open, readdir, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { isKeyedStateError } from '../../src/errors.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { newestOptionsText, openIn, tempDir } from './helpers.js'

const KEYS = 3000
const d = new ValueStateDescriptor('v', stringSerializer)
/** Values that do not compress away, so the state spans many data blocks. */
const valueOf = (i: number): string => createHash('sha256').update(String(i)).digest('hex').repeat(3)

/** allow_mmap_reads as the database's newest OPTIONS file records it. */
async function mmapOption(dbDir: string): Promise<string | undefined> {
  return /^\s*allow_mmap_reads=(\w+)$/m.exec(await newestOptionsText(dbDir))?.[1]
}

type Options = { rocksdbMmapReads?: boolean }

/** Writes KEYS values and closes the backend: the values end up in SST files. */
async function fill(dir: string, options: Options): Promise<void> {
  const a = await openIn(dir, options)
  const s = a.getPartitionedState('ns', stringSerializer, d)
  for (let i = 0; i < KEYS; i++) {
    a.setCurrentKey(`user-${i}`)
    s.update(valueOf(i))
  }
  await a.close()
}

/** The largest SST file of the backend in `dir` (the one holding the state). */
async function largestSst(dir: string): Promise<{ path: string; name: string; size: number }> {
  const dbDir = join(dir, 'db')
  const ssts = await Promise.all((await readdir(dbDir)).filter((f) => f.endsWith('.sst')).map(async (name) => ({ path: join(dbDir, name), name, size: (await stat(join(dbDir, name))).size })))
  return ssts.sort((x, y) => y.size - x.size)[0]!
}

/**
 * Reads every key back from a reopened backend: each value is the one written
 * or the read fails with an error `damaged` accepts; returns how many failed.
 */
async function readBackDamaged(dir: string, options: Options, damaged: (e: unknown) => boolean): Promise<number> {
  const c = await openIn(dir, options)
  const q = c.getPartitionedState('ns', stringSerializer, d)
  let failed = 0
  for (let i = 0; i < KEYS; i++) {
    c.setCurrentKey(`user-${i}`)
    try {
      assert.equal(q.value(), valueOf(i), `user-${i} must never read back wrong`)
    } catch (e) {
      if (!damaged(e)) throw e
      failed++
    }
  }
  await c.close()
  return failed
}

for (const mmapReads of [undefined, true, false]) {
  test(`rocksdbMmapReads ${mmapReads ?? '(default: true)'}: values read back from the SST files; a flipped data byte is CORRUPTION`, async () => {
    const dir = await tempDir()
    const options = mmapReads === undefined ? {} : { rocksdbMmapReads: mmapReads }
    try {
      await fill(dir.path, options)
      assert.equal(await mmapOption(join(dir.path, 'db')), String(mmapReads ?? true))
      assert.equal(await readBackDamaged(dir.path, options, () => false), 0)

      // The largest SST holds the state; its first data block starts at offset 0.
      const largest = await largestSst(dir.path)
      const file = await open(largest.path, 'r+')
      const byte = Buffer.alloc(1)
      await file.read(byte, 0, 1, 100)
      byte[0]! ^= 0xff
      await file.write(byte, 0, 1, 100)
      await file.close()

      const checksumError = (e: unknown) => isKeyedStateError(e, 'CORRUPTION') && /checksum|corrupt/i.test(e.message)
      assert.ok((await readBackDamaged(dir.path, options, checksumError)) > 0, 'the flipped block is reported, not read')
    } finally {
      await dir.remove()
    }
  })
}

test('rocksdbMmapReads must be a boolean', async () => {
  const dir = await tempDir()
  try {
    await assert.rejects(
      openKeyedStateBackend({ kind: 'rocksdb', dir: dir.path, keySerializer: stringSerializer, rocksdbMmapReads: 'yes' as never }),
      (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /rocksdbMmapReads must be a boolean, got "yes"/.test(e.message),
    )
  } finally {
    await dir.remove()
  }
})

// Cut short, the file fails RocksDB's size checks at open: CORRUPTION through pread; through the
// map RocksDB reports the read past the end as an IO error. Either is typed and names the file.
for (const mmapReads of [true, false]) {
  test(`rocksdbMmapReads ${mmapReads}: an SST file cut short before the backend opens it is a typed error naming it, never a crash or a wrong value`, async () => {
    const dir = await tempDir()
    const options = { rocksdbMmapReads: mmapReads }
    try {
      await fill(dir.path, options)
      const largest = await largestSst(dir.path)
      await truncate(largest.path, Math.floor(largest.size / 2))
      const cutShort = (e: unknown) => (isKeyedStateError(e, 'CORRUPTION') || isKeyedStateError(e, 'IO_ERROR')) && e.message.includes(largest.name)
      // RocksDB checks the file at open; were it opened lazily, the reads that need it must fail instead.
      const failed = await readBackDamaged(dir.path, options, cutShort).catch((e: unknown) => {
        assert.ok(cutShort(e), `open fails with a typed error naming ${largest.name}, got ${String(e)}`)
        return 1
      })
      assert.ok(failed > 0, 'the cut file is reported')
    } finally {
      await dir.remove()
    }
  })
}
