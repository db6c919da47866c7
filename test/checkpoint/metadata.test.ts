import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decodeMetadata,
  encodeMetadata,
  METADATA_FORMAT,
  METADATA_VERSION,
  readMetadata,
  rebaseMetadata,
  referencedPaths,
  writeMetadata,
  type CheckpointMetadata,
} from '../../src/checkpoint/metadata.js'
import { checkpointsToSubsume, wouldBeSubsumed } from '../../src/checkpoint/retention.js'
import { isKeyedStateError } from '../../src/errors.js'
import type { IncrementalSnapshotHandle, FullSnapshotHandle } from '../../src/snapshot/types.js'
import { tempStorage } from './helpers.js'

function sample(): CheckpointMetadata {
  const full: FullSnapshotHandle = {
    type: 'full',
    formatVersion: 1,
    checkpointId: 7,
    maxParallelism: 8,
    keyGroupRange: { start: 0, end: 3 },
    file: { path: 'chk-7/op-0', sizeBytes: 100, crc32: 123 },
    keyGroupOffsets: [16, -1, 40, -1],
  }
  const inc: IncrementalSnapshotHandle = {
    type: 'incremental',
    formatVersion: 1,
    backendId: 'b1',
    checkpointId: 7,
    maxParallelism: 8,
    keyGroupRange: { start: 4, end: 7 },
    sharedFiles: { '000001.sst': { path: 'shared/x-000001.sst', sizeBytes: 50, crc32: 1 } },
    privateFiles: { 'MANIFEST-000002': { path: 'chk-7/MANIFEST', sizeBytes: 5, crc32: 2 } },
    metaFile: { path: 'chk-7/meta', sizeBytes: 7, crc32: 3 },
  }
  return {
    format: METADATA_FORMAT,
    version: METADATA_VERSION,
    checkpointId: 7,
    type: 'checkpoint',
    dir: 'chk-7',
    triggeredAtMs: 1_700_000_000_000,
    completedAtMs: 1_700_000_000_500,
    maxParallelism: 8,
    parallelism: 2,
    sizeBytes: 162,
    incrementalSizeBytes: 112,
    instances: [
      { index: 0, keyGroupRange: { start: 0, end: 3 }, handle: full, sizeBytes: 100, incrementalSizeBytes: 100, syncDurationMs: 0.25, asyncDurationMs: 3 },
      { index: 1, keyGroupRange: { start: 4, end: 7 }, handle: inc, sizeBytes: 62, incrementalSizeBytes: 12, syncDurationMs: 1, asyncDurationMs: 2.5 },
    ],
  }
}

test('metadata round-trips through its encoding', () => {
  const md = sample()
  assert.deepEqual(decodeMetadata(encodeMetadata(md), 'x'), md)
  assert.deepEqual(
    [...referencedPaths(md)].sort(),
    ['chk-7/MANIFEST', 'chk-7/_metadata', 'chk-7/meta', 'chk-7/op-0', 'shared/x-000001.sst'],
  )
})

test('any changed byte of the metadata is detected', () => {
  const bytes = encodeMetadata(sample())
  fc.assert(
    fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const copy = Uint8Array.from(bytes)
      copy[at] ^= xor
      try {
        const md = decodeMetadata(copy, 'chk-7/_metadata')
        // Whitespace changes keep the content: then it must decode to the same thing.
        assert.deepEqual(md, sample())
      } catch (e) {
        assert.ok(isKeyedStateError(e), String(e))
        assert.match(e.message, /chk-7\/_metadata/)
      }
    }),
    { numRuns: 500 },
  )
})

test('invalid metadata is refused with a message naming the problem', () => {
  const bad = (mutate: (md: any) => void, pattern: RegExp): void => {
    const md: any = structuredClone(sample())
    mutate(md)
    assert.throws(() => encodeMetadata(md), (e: unknown) => isKeyedStateError(e, 'CORRUPTION') && pattern.test(e.message))
  }
  bad((md) => (md.instances[1].keyGroupRange = { start: 5, end: 7 }), /should start at 4/)
  bad((md) => (md.maxParallelism = 9), /maxParallelism|\[0\.\.8\]/)
  bad((md) => (md.instances[0].handle.keyGroupOffsets = [1]), /keyGroupOffsets/)
  bad((md) => (md.instances[1].handle.sharedFiles.x = { path: '', sizeBytes: 1, crc32: 0 }), /stored file/)
  bad((md) => (md.sizeBytes = 1), /total sizes/)
  bad((md) => { md.type = 'savepoint' }, /savepoint/)
  assert.throws(() => decodeMetadata(Buffer.from('{"format":"other"}'), 'm'), /format/)
  assert.throws(() => decodeMetadata(Buffer.from('not json'), 'm'), (e: unknown) => isKeyedStateError(e, 'CORRUPTION'))
  const future = JSON.parse(Buffer.from(encodeMetadata(sample())).toString())
  future.version = 99
  assert.throws(() => decodeMetadata(Buffer.from(JSON.stringify(future)), 'm'), (e: unknown) => isKeyedStateError(e, 'NOT_SUPPORTED'))
})

test('metadata read from a moved savepoint follows its directory', async () => {
  const sp: CheckpointMetadata = { ...sample(), type: 'savepoint', dir: 'savepoints/a' }
  const h = sp.instances[0]!.handle as FullSnapshotHandle
  sp.instances[0]!.handle = { ...h, file: { ...h.file, path: 'savepoints/a/op-0' } }
  sp.instances[1] = { ...sp.instances[1]!, handle: null, sizeBytes: 0, incrementalSizeBytes: 0 }
  sp.sizeBytes = 100
  sp.incrementalSizeBytes = 100
  const moved = rebaseMetadata(sp, 'elsewhere/b')
  assert.equal((moved.instances[0]!.handle as FullSnapshotHandle).file.path, 'elsewhere/b/op-0')
  assert.equal((rebaseMetadata(sp, '').instances[0]!.handle as FullSnapshotHandle).file.path, 'op-0')

  const t = await tempStorage()
  try {
    await writeMetadata(t.storage, sp)
    const read = await readMetadata(t.storage, 'savepoints/a')
    assert.deepEqual(read, sp)
    await assert.rejects(readMetadata(t.storage, 'savepoints/none'), (e: unknown) => isKeyedStateError(e, 'MISSING_FILE'))
  } finally {
    await t.cleanup()
  }
})

test('retention keeps the newest checkpoints by id, whatever the completion order', () => {
  assert.deepEqual(checkpointsToSubsume([5, 1, 3, 4], 2), [1, 3])
  assert.deepEqual(checkpointsToSubsume([5, 1, 3, 4], 2, new Set([1])), [3])
  assert.deepEqual(checkpointsToSubsume([2], 3), [])
  assert.ok(wouldBeSubsumed(2, [3, 4], 2))
  assert.ok(!wouldBeSubsumed(2, [3, 1], 2))
})

test('the example in docs/FORMAT.md section 8 is valid metadata with a correct checksum', async () => {
  const { readFile } = await import('node:fs/promises')
  const doc = await readFile(new URL('../../../docs/FORMAT.md', import.meta.url), 'utf8')
  const section = doc.slice(doc.indexOf('### 8.6 Example'))
  const json = section.slice(section.indexOf('```json') + 7, section.indexOf('```', section.indexOf('```json') + 7))
  const md = decodeMetadata(Buffer.from(json), 'docs/FORMAT.md 8.6')
  assert.deepEqual(md, sample())
})

test('metadata refuses file paths and dirs no writer writes: absolute, .., non-normalized, NUL, backslash', () => {
  for (const bad of ['../x', '/etc/passwd', 'chk-7/../../x', 'chk-7/./op-0', 'chk-7//op-0', 'chk-7/op-0/', 'a\\b', 'a\0b', '.']) {
    const md = sample()
    ;(md.instances[0]!.handle as FullSnapshotHandle).file.path = bad
    assert.throws(() => encodeMetadata(md), (e: unknown) => isKeyedStateError(e, 'CORRUPTION') && e.message.includes('instance 0 handle file path'), JSON.stringify(bad))
    const inc = sample()
    ;(inc.instances[1]!.handle as IncrementalSnapshotHandle).sharedFiles['000001.sst']!.path = bad
    assert.throws(() => encodeMetadata(inc), (e: unknown) => isKeyedStateError(e, 'CORRUPTION'), JSON.stringify(bad))
    assert.throws(() => encodeMetadata({ ...sample(), dir: bad }), (e: unknown) => isKeyedStateError(e, 'CORRUPTION') && e.message.includes('dir'), JSON.stringify(bad))
  }
})
