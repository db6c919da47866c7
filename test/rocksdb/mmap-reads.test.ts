// rocksdbMmapReads: SST files are read through a memory map by default and
// through pread when it is false. Either way every value reads back as written
// from the files (not the memtable), a flipped byte in a data block is a
// CORRUPTION error naming the read (block checksums are verified under mmap
// too), and a value that is not a boolean is refused before anything opens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { open, readdir, readFile, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { isKeyedStateError } from '../../src/errors.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { openIn, tempDir } from './helpers.js'

const KEYS = 3000
const d = new ValueStateDescriptor('v', stringSerializer)
/** Values that do not compress away, so the state spans many data blocks. */
const valueOf = (i: number): string => createHash('sha256').update(String(i)).digest('hex').repeat(3)

/** allow_mmap_reads as the database's newest OPTIONS file records it. */
async function mmapOption(dbDir: string): Promise<string | undefined> {
  const files = (await readdir(dbDir)).filter((f) => /^OPTIONS-\d+$/.test(f))
  const newest = files.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8))).at(-1)!
  return /^\s*allow_mmap_reads=(\w+)$/m.exec(await readFile(join(dbDir, newest), 'utf8'))?.[1]
}

for (const mmapReads of [undefined, true, false]) {
  test(`rocksdbMmapReads ${mmapReads ?? '(default: true)'}: values read back from the SST files; a flipped data byte is CORRUPTION`, async () => {
    const dir = await tempDir()
    const options = mmapReads === undefined ? {} : { rocksdbMmapReads: mmapReads }
    try {
      const a = await openIn(dir.path, options)
      const s = a.getPartitionedState('ns', stringSerializer, d)
      for (let i = 0; i < KEYS; i++) {
        a.setCurrentKey(`user-${i}`)
        s.update(valueOf(i))
      }
      await a.close()
      assert.equal(await mmapOption(join(dir.path, 'db')), String(mmapReads ?? true))

      const b = await openIn(dir.path, options)
      const r = b.getPartitionedState('ns', stringSerializer, d)
      for (let i = 0; i < KEYS; i++) {
        b.setCurrentKey(`user-${i}`)
        assert.equal(r.value(), valueOf(i), `user-${i}`)
      }
      await b.close()

      // The largest SST holds the state; its first data block starts at offset 0.
      const dbDir = join(dir.path, 'db')
      const ssts = await Promise.all((await readdir(dbDir)).filter((f) => f.endsWith('.sst')).map(async (f) => ({ f, size: (await stat(join(dbDir, f))).size })))
      const largest = ssts.sort((x, y) => y.size - x.size)[0]!
      const file = await open(join(dbDir, largest.f), 'r+')
      const byte = Buffer.alloc(1)
      await file.read(byte, 0, 1, 100)
      byte[0]! ^= 0xff
      await file.write(byte, 0, 1, 100)
      await file.close()

      const c = await openIn(dir.path, options)
      const q = c.getPartitionedState('ns', stringSerializer, d)
      let corrupt = 0
      for (let i = 0; i < KEYS; i++) {
        c.setCurrentKey(`user-${i}`)
        try {
          assert.equal(q.value(), valueOf(i), `user-${i} must never read back wrong`)
        } catch (e) {
          if (!isKeyedStateError(e, 'CORRUPTION')) throw e
          assert.match(e.message, /checksum|corrupt/i)
          corrupt++
        }
      }
      assert.ok(corrupt > 0, 'the flipped block is reported, not read')
      await c.close()
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
const cutShort = (e: unknown, file: string): boolean =>
  (isKeyedStateError(e, 'CORRUPTION') || isKeyedStateError(e, 'IO_ERROR')) && e.message.includes(file)

for (const mmapReads of [true, false]) {
test(`rocksdbMmapReads ${mmapReads}: an SST file cut short before the backend opens it is a typed error naming it, never a crash or a wrong value`, async () => {
  const dir = await tempDir()
  try {
    const a = await openIn(dir.path, { rocksdbMmapReads: mmapReads })
    const s = a.getPartitionedState('ns', stringSerializer, d)
    for (let i = 0; i < KEYS; i++) {
      a.setCurrentKey(`user-${i}`)
      s.update(valueOf(i))
    }
    await a.close()
    const dbDir = join(dir.path, 'db')
    const ssts = await Promise.all((await readdir(dbDir)).filter((f) => f.endsWith('.sst')).map(async (f) => ({ f, size: (await stat(join(dbDir, f))).size })))
    const largest = ssts.sort((x, y) => y.size - x.size)[0]!
    await truncate(join(dbDir, largest.f), Math.floor(largest.size / 2))

    let opened: Awaited<ReturnType<typeof openIn>> | undefined
    try {
      opened = await openIn(dir.path, { rocksdbMmapReads: mmapReads })
    } catch (e) {
      assert.ok(cutShort(e, largest.f), `open fails with a typed error naming ${largest.f}, got ${String(e)}`)
      return
    }
    // RocksDB may open the file lazily: then the reads that need it fail, none returns a wrong value.
    const q = opened.getPartitionedState('ns', stringSerializer, d)
    let corrupt = 0
    for (let i = 0; i < KEYS; i++) {
      opened.setCurrentKey(`user-${i}`)
      try {
        assert.equal(q.value(), valueOf(i))
      } catch (e) {
        if (!cutShort(e, largest.f)) throw e
        corrupt++
      }
    }
    assert.ok(corrupt > 0, 'the cut file is reported')
    await opened.close()
  } finally {
    await dir.remove()
  }
})
}
