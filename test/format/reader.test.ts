import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { after, test } from 'node:test'
import { parseCompositeKey } from '../../src/encoding.js'
import { openFullSnapshot, verifyFullSnapshot } from '../../src/snapshot/format/index.js'
import { runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { buildModel, expectedFlat, removeTempDirs, resourcesOf, tempDir } from './helpers.js'

after(removeTempDirs)

async function sample() {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const entries = []
  for (let kg = 0; kg < 10; kg++) for (let i = 0; i < 5; i++) entries.push({ kg, key: Buffer.from(`key${i}`), value: Buffer.from(`v${kg}.${i}`) })
  const model = buildModel(10, { start: 0, end: 9 }, [{ name: 'a', kind: 'value', entries }, { name: 'b', kind: 'map', entries: entries.filter((e) => e.kg % 2 === 0) }])
  const { handle } = await runFullSnapshot(4, resourcesOf(model), { type: 'savepoint', storage }, { maxParallelism: 10 }, 0).done
  return { storage, model, handle: handle as FullSnapshotHandle }
}

test('openFullSnapshot by handle or path exposes the meta-info and iterates entries of any range', async () => {
  const { storage, model, handle } = await sample()
  for (const target of [handle, handle.file.path]) {
    const reader = await openFullSnapshot(storage, target)
    assert.equal(reader.maxParallelism, 10)
    assert.deepEqual(reader.keyGroupRange, { start: 0, end: 9 })
    assert.deepEqual(reader.states.map((s) => s.name), ['a', 'b'])
    assert.equal(reader.checkpointId, 4)
    assert.equal(reader.codec, 'snappy')
    assert.deepEqual(reader.keyGroupOffsets, handle.keyGroupOffsets)
    const got: string[] = []
    for await (const e of reader.entries({ start: 3, end: 6 })) {
      assert.equal(parseCompositeKey(e.key).keyGroup, e.keyGroup)
      got.push(`${e.stateName}/${e.keyGroup}/${Buffer.from(e.key).toString('hex')}=${Buffer.from(e.value).toString('hex')}`)
    }
    assert.deepEqual(got.sort(), expectedFlat([model], { start: 3, end: 6 }))
  }
})

test('verify reports each damaged key group with its offset and keeps checking the others', async () => {
  const { storage, handle } = await sample()
  const ok = await verifyFullSnapshot(storage, handle)
  assert.equal(ok.ok, true)
  assert.equal(ok.keyGroupsWithData, 10)
  assert.deepEqual(ok.entriesByState, { a: 50, b: 25 })
  const file = storage.localPath(handle.file.path)
  const bytes = await readFile(file)
  // Damage the payloads of key groups 2 and 7.
  for (const kg of [2, 7]) bytes[handle.keyGroupOffsets[kg]! + 25]! ^= 0xff
  await writeFile(file, bytes)
  const report = await verifyFullSnapshot(storage, handle.file.path)
  assert.equal(report.ok, false)
  assert.deepEqual(report.problems.map((p) => [p.code, p.keyGroup, p.offset]), [
    ['CHECKSUM_MISMATCH', 2, handle.keyGroupOffsets[2]],
    ['CHECKSUM_MISMATCH', 7, handle.keyGroupOffsets[7]],
  ])
  assert.equal(report.keyGroupsWithData, 8)
  // With the handle, the whole-file checksum is compared too.
  const withHandle = await verifyFullSnapshot(storage, handle)
  assert.ok(withHandle.problems.some((p) => p.code === 'CHECKSUM_MISMATCH' && /file CRC-32/.test(p.message)))
})
