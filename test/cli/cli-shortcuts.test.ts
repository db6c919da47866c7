// The CLI on snapshots the main CLI test does not make: TTL'd state, a user's
// own key serializer, operator state, and the `<root> latest` / `<root> <id>`
// shortcuts. Each runs the CLI as users do: a child process on real files.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { LocalOperatorInstance } from '../../src/checkpoint/instance.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { Serializer } from '../../src/serializers/serializer.js'
import { ListStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import { InstanceWithOperatorState, tempStorage, type TempStorage } from '../checkpoint/helpers.js'
import { cli, jsonLines } from './run-cli.js'

async function withCheckpoints(
  prefix: string,
  fill: (backend: KeyedStateBackend<string>) => void,
  body: (s: TempStorage, c: CheckpointCoordinator) => Promise<void>,
  keySerializer: Serializer<string> = stringSerializer,
): Promise<void> {
  const s = await tempStorage(prefix)
  const backend = await openKeyedStateBackend<string>({ kind: 'heap', keySerializer, maxParallelism: 16 })
  let position = 0
  const c = await CheckpointCoordinator.create({
    storage: s.storage,
    instances: [new InstanceWithOperatorState(new LocalOperatorInstance(backend, s.storage), () => ({ source: 'orders', committed: [position, position + 1] }))],
  })
  try {
    fill(backend)
    position = 40
    await body(s, c)
  } finally {
    await c.close()
    await backend.close()
    await s.cleanup()
  }
}

test('dump decodes TTL values of built-in serializers with their timestamps (they came out as base64)', async () => {
  const clock = { now: () => 1_000_000 }
  await withCheckpoints(
    'ks-cli-ttl-',
    (backend) => {
      const seen = backend.getState(new ValueStateDescriptor('seen', int32Serializer).enableTimeToLive({ ttlMs: 5000, clock }))
      const recent = backend.getListState(new ListStateDescriptor('recent', stringSerializer).enableTimeToLive({ ttlMs: 5000, clock }))
      backend.setCurrentKey('a')
      seen.update(7)
      recent.add('x')
      clock.now = () => 1_000_500
      recent.add('y')
    },
    async (s, c) => {
      await c.triggerCheckpoint()
      const value = await cli('dump', join(s.root, 'chk-1'), '--state', 'seen')
      assert.equal(value.code, 0, value.stderr)
      assert.deepEqual(jsonLines(value.stdout).map((e) => [e.key, e.value, e.ttl]), [['a', 7, { ttlMs: 5000, timestampMs: 1_000_000 }]])
      const list = await cli('dump', join(s.root, 'chk-1'), '--state', 'recent', '--json')
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(jsonLines(list.stdout).map((e) => [e.key, e.value, e.ttl]), [['a', ['x', 'y'], { ttlMs: 5000, timestampsMs: [1_000_000, 1_000_500] }]])
      const text = await cli('inspect', join(s.root, 'chk-1'))
      assert.match(text.stdout, /seen\s+value\s+void@1\s+int32@1\s+-\s+5000 ms/)
    },
  )
})

test('inspect shows each instance operator state, in the summary and the JSON', async () => {
  await withCheckpoints(
    'ks-cli-opstate-',
    (backend) => {
      backend.setCurrentKey('a')
      backend.getState(new ValueStateDescriptor('n', int32Serializer)).update(1)
    },
    async (s, c) => {
      await c.triggerCheckpoint()
      const json = JSON.parse((await cli('inspect', join(s.root, 'chk-1'), '--json')).stdout)
      assert.deepEqual(json.instances[0].operatorState, { source: 'orders', committed: [40, 41] })
      const text = await cli('inspect', join(s.root, 'chk-1'))
      assert.match(text.stdout, /\noperator state\n {2}instance 0 {2}\{"source":"orders","committed":\[40,41\]\}/)
    },
  )
})

test('`<root> latest` and `<root> <id>` name a checkpoint for inspect, dump and verify', async () => {
  await withCheckpoints(
    'ks-cli-latest-',
    (backend) => {
      backend.setCurrentKey('a')
      backend.getState(new ValueStateDescriptor('n', int32Serializer)).update(1)
    },
    async (s, c) => {
      const empty = await cli('inspect', s.root, 'latest')
      assert.equal(empty.code, 1)
      assert.match(empty.stderr, /holds no complete checkpoint or savepoint.*\[MISSING_FILE\]/)
      await c.triggerCheckpoint()
      await c.triggerSavepoint('savepoints/sp')
      await c.triggerCheckpoint()
      // A checkpoint that never completed is not the latest.
      await mkdir(join(s.root, 'chk-9'))
      const latest = JSON.parse((await cli('inspect', s.root, 'latest', '--json')).stdout)
      assert.deepEqual([latest.type, latest.checkpointId], ['checkpoint', 3])
      const byId = JSON.parse((await cli('inspect', s.root, '2', '--json')).stdout)
      assert.equal(byId.checkpointId, 2)
      assert.equal(byId.directory, join(s.root, 'savepoints', 'sp'), 'a savepoint is found by its id too')
      const one = JSON.parse((await cli('inspect', s.root, '1', '--json')).stdout)
      assert.equal(one.directory, join(s.root, 'chk-1'))
      const dump = await cli('dump', s.root, 'latest', '--state', 'n')
      assert.deepEqual(jsonLines(dump.stdout).map((e) => [e.key, e.value]), [['a', 1]])
      const verify = await cli('verify', s.root, 'latest')
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      assert.match(verify.stdout, /^OK checkpoint 3 /)
      const bad = await cli('inspect', s.root, 'newest')
      assert.equal(bad.code, 1)
      assert.match(bad.stderr, /expected 'latest' or a checkpoint id after the checkpoint root, got "newest" \[INVALID_ARGUMENT\]/)
      const missing = await cli('inspect', s.root, '7')
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /no complete checkpoint or savepoint 7.*\[MISSING_FILE\]/)
    },
  )
})

test('list --all shows the checkpoints retention removed whose files are still in storage, marked REMOVED; plain list leaves them out and says so', async () => {
  await withCheckpoints(
    'ks-cli-list-all-',
    (backend) => {
      backend.setCurrentKey('a')
      backend.getState(new ValueStateDescriptor('n', int32Serializer)).update(1)
    },
    async (s, c) => {
      // Five checkpoints, three retained: retention removed chk-1 and chk-2 (_metadata first, then the files).
      for (let i = 0; i < 5; i++) await c.triggerCheckpoint()
      // What a failed or interrupted deletion leaves of chk-1 (the cleaner deleted its _metadata first);
      // chk-8 never completed, which the history does not record as completed either.
      await mkdir(join(s.root, 'chk-1'), { recursive: true })
      await writeFile(join(s.root, 'chk-1', 'left-behind'), 'x'.repeat(12))
      await mkdir(join(s.root, 'chk-8'), { recursive: true })
      await writeFile(join(s.root, 'chk-8', 'partial'), 'y')
      const plain = JSON.parse((await cli('list', s.root, '--json')).stdout)
      assert.deepEqual(plain.snapshots.map((r: any) => [r.dir, r.complete, r.removedByRetention]), [
        ['chk-3', true, false],
        ['chk-4', true, false],
        ['chk-5', true, false],
        ['chk-8', false, false],
      ])
      assert.equal(plain.removedByRetentionHidden, 1)
      const text = await cli('list', s.root)
      assert.equal(text.code, 0, text.stderr)
      assert.match(text.stdout, /8\s+-\s+INCOMPLETE/)
      assert.match(text.stdout, /1 checkpoint\(s\) removed by retention still have files in storage: 'list --all' shows them/)

      const all = JSON.parse((await cli('list', s.root, '--all', '--json')).stdout)
      assert.deepEqual(all.snapshots.map((r: any) => [r.dir, r.complete, r.removedByRetention]), [
        ['chk-1', false, true],
        ['chk-3', true, false],
        ['chk-4', true, false],
        ['chk-5', true, false],
        ['chk-8', false, false],
      ])
      const removed = all.snapshots[0]
      assert.deepEqual([removed.checkpointId, removed.type, removed.fileCount, removed.sizeBytes], [1, 'checkpoint', 1, 12])
      assert.equal(typeof removed.completedAtMs, 'number', 'when it completed, from the history')
      assert.match(removed.problem, /removed by retention/)
      assert.equal(all.removedByRetentionHidden, undefined)
      const allText = await cli('list', s.root, '--all')
      assert.match(allText.stdout, /\n1\s+checkpoint\s+REMOVED\s/)
      assert.match(allText.stdout, /chk-1 {2}\(removed by retention/)
      assert.match(allText.stdout, /8\s+-\s+INCOMPLETE.*never completed/)
      // The removed checkpoint is never `latest` nor found by its id.
      const one = await cli('inspect', s.root, '1')
      assert.equal(one.code, 1)
      assert.match(one.stderr, /no complete checkpoint or savepoint 1/)
    },
  )
})

test('keys of a user key serializer come out as base64 with a note, or decoded as --key-serializer says', async () => {
  const reversed: Serializer<string> = {
    id: 'reversed-string',
    version: 1,
    serialize: (v) => stringSerializer.serialize([...v].reverse().join('')),
    deserialize: (b) => [...stringSerializer.deserialize(b)].reverse().join(''),
  }
  await withCheckpoints(
    'ks-cli-user-keys-',
    (backend) => {
      backend.setCurrentKey('abc')
      backend.getState(new ValueStateDescriptor('n', int32Serializer)).update(1)
    },
    async (s, c) => {
      await c.triggerCheckpoint()
      const raw = await cli('dump', join(s.root, 'chk-1'), '--state', 'n')
      assert.equal(raw.code, 0, raw.stderr)
      assert.deepEqual(jsonLines(raw.stdout).map((e) => e.key), [{ base64: Buffer.from('cba').toString('base64') }])
      assert.match(raw.stderr, /note: keys were written with 'reversed-string@1', which the CLI does not know; they are given as base64/)
      const asString = await cli('dump', join(s.root, 'chk-1'), '--state', 'n', '--key-serializer', 'string')
      assert.deepEqual(jsonLines(asString.stdout).map((e) => e.key), ['cba'])
      const asInt = await cli('dump', join(s.root, 'chk-1'), '--state', 'n', '--key-serializer', 'int32')
      assert.deepEqual(jsonLines(asInt.stdout).map((e) => e.key), [{ base64: Buffer.from('cba').toString('base64') }])
      assert.match(asInt.stderr, /warning: 1 key\(s\) could not be read as int32 and are given as base64/)
    },
    reversed,
  )
})

test('dump --help says the output is always JSON lines and accepts --json', async () => {
  const help = await cli('dump', '--help')
  assert.match(help.stdout, /one JSON object per line \(always JSON lines\)/)
  assert.match(help.stdout, /--json\s+accepted for symmetry/)
  assert.match(help.stdout, /Usage: keyed-state dump \[options\] <dir> \[which\]/)
  assert.match(help.stdout, /which\s+with a checkpoint root as <dir>: 'latest'/)
})
