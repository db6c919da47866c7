// The keyed-state CLI as users run it: a child process on real checkpoints.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { LocalOperatorInstance } from '../../src/checkpoint/instance.js'
import { int32Serializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { FakeInstance, storedPaths, tempStorage, type TempStorage } from '../checkpoint/helpers.js'
import { cloneModel, Job, type Model } from '../checkpoint/job.js'
import { CLI, cli, jsonLines } from './run-cli.js'

const OLD_MS = 2 * 3_600_000

let t: TempStorage
let model2: Model
let chk2: CheckpointMetadata
let savepoint: CheckpointMetadata

before(async () => {
  t = await tempStorage('ks-cli-')
  const job = await Job.open({ parallelism: 2, maxParallelism: 16, storage: t.storage, seed: 21 })
  const c = await CheckpointCoordinator.create({ storage: t.storage, instances: job.instances, retainedCheckpoints: 2 })
  job.process(300, 20)
  await c.triggerCheckpoint()
  job.process(100, 20)
  model2 = cloneModel(job.model)
  chk2 = await c.triggerCheckpoint()
  savepoint = await c.triggerSavepoint('savepoints/sp')
  job.process(10, 20)
  await c.triggerCheckpoint() // 4: subsumes 1
  await c.close()
  await job.close()
  // What a crash leaves: a checkpoint that never completed and an orphan upload.
  await mkdir(join(t.root, 'chk-9'), { recursive: true })
  await writeFile(join(t.root, 'chk-9', 'partial'), 'x'.repeat(10))
  await mkdir(join(t.root, 'shared'), { recursive: true })
  await writeFile(join(t.root, 'shared', 'orphan.sst'), 'y'.repeat(20))
  const old = (Date.now() - OLD_MS) / 1000
  for (const p of ['chk-9/partial', 'shared/orphan.sst']) await utimes(join(t.root, p), old, old)
})

after(async () => {
  await t.cleanup()
})

test('list shows complete and incomplete checkpoints and savepoints', async () => {
  const r = await cli('list', t.root, '--json')
  assert.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).snapshots
  assert.deepEqual(
    rows.map((x: any) => [x.dir, x.checkpointId, x.type, x.complete]),
    [['chk-2', 2, 'checkpoint', true], ['savepoints/sp', 3, 'savepoint', true], ['chk-4', 4, 'checkpoint', true], ['chk-9', 9, null, false]],
  )
  const two = rows[0]
  assert.equal(two.sizeBytes, chk2.sizeBytes)
  assert.equal(two.incrementalSizeBytes, chk2.incrementalSizeBytes)
  assert.equal(two.completedAtMs, chk2.completedAtMs)
  assert.match(rows[3].problem, /no _metadata/)

  const text = await cli('list', t.root)
  assert.equal(text.code, 0)
  assert.match(text.stdout, /^ID\s+TYPE\s+STATUS\s+COMPLETED\s+SIZE\s+INCREMENTAL/)
  assert.match(text.stdout, /9\s+-\s+INCOMPLETE/)
})

test('inspect shows states, ranges, files and sizes; serializers and TTL have one JSON shape', async () => {
  const r = await cli('inspect', join(t.root, 'chk-2'), '--json', '--files')
  assert.equal(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout)
  assert.equal(report.checkpointId, 2)
  assert.equal(report.root, t.root)
  const v1 = (id: string) => ({ id, version: 1 })
  assert.deepEqual(report.states.map((s: any) => [s.name, s.kind, s.valueSerializer, s.userKeySerializer ?? null]), [
    ['count', 'value', v1('int64'), null],
    ['last-seen', 'map', v1('json'), v1('string')],
    ['recent', 'list', v1('string'), null],
  ])
  assert.deepEqual(report.instances.map((i: any) => i.keyGroupRange), [{ start: 0, end: 7 }, { start: 8, end: 15 }])
  for (const [i, inst] of report.instances.entries()) {
    const h = chk2.instances[i]!.handle!
    assert.equal(inst.handleType, 'full')
    assert.equal(inst.codec, 'snappy')
    assert.deepEqual(inst.keySerializer, v1('string'))
    assert.deepEqual(inst.states, ['count', 'last-seen', 'recent'])
    assert.equal(inst.fileCount, 1)
    assert.deepEqual(inst.files.map((f: any) => [f.path, f.shared, f.sizeBytes]), [[(h as any).file.path, false, inst.sizeBytes]])
  }
  const summary = JSON.parse((await cli('inspect', join(t.root, 'chk-2'), '--json')).stdout)
  assert.ok(summary.instances.every((i: any) => !('files' in i)), 'files only with --files')
  const text = await cli('inspect', join(t.root, 'savepoints', 'sp'))
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /^savepoint 3 /)
  assert.match(text.stdout, /count\s+value\s+void@1\s+int64@1/)
  assert.match(text.stdout, /key serializer\s+string@1\n/)
  assert.match(text.stdout, /files\s+2 \(shared 0 B, exclusive .*\); --files lists them/)
  assert.match(text.stdout, /\n {2}1\s+\[8\.\.15\]\s+full v1 snappy/)
  assert.doesNotMatch(text.stdout, /OWNERSHIP/)
  const withFiles = await cli('inspect', join(t.root, 'savepoints', 'sp'), '--files')
  assert.match(withFiles.stdout, /instance 1 files[\s\S]*OWNERSHIP\s+ROLE\s+SIZE\s+CRC32\s+PATH\n {2}exclusive\s+full\s/)
})

test('inspect tells shared from exclusive files of incremental checkpoints', async () => {
  const s = await tempStorage('ks-cli-inc-')
  try {
    const instances = FakeInstance.many(2, 8, s.storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage: s.storage, instances })
    await c.triggerCheckpoint()
    instances[0]!.flush()
    await c.triggerCheckpoint()
    await c.close()
    const r = await cli('inspect', join(s.root, 'chk-2'), '--json', '--files')
    assert.equal(r.code, 0, r.stderr)
    const inst0 = JSON.parse(r.stdout).instances[0]
    assert.equal(inst0.handleType, 'incremental')
    const ssts = inst0.files.filter((f: any) => f.shared)
    assert.deepEqual(ssts.map((f: any) => f.referencedBy), [[1, 2], [2]], 'the first SST is shared with checkpoint 1')
    assert.deepEqual(inst0.files.filter((f: any) => !f.shared).map((f: any) => f.role).sort(), ['meta', 'private'])
    assert.equal(inst0.sharedBytes + inst0.exclusiveBytes, inst0.sizeBytes)
  } finally {
    await s.cleanup()
  }
})

test('dump prints every entry of a state as decoded JSON lines', async () => {
  const r = await cli('dump', join(t.root, 'chk-2'), '--state', 'count')
  assert.equal(r.code, 0, r.stderr)
  const counts = new Map(jsonLines(r.stdout).map((e) => [e.key, e.value]))
  assert.deepEqual(counts, new Map([...model2].map(([k, m]) => [k, Number(m.count)])))

  const [key, m] = [...model2].find(([, x]) => x.lastSeen.size > 1)!
  const map = await cli('dump', join(t.root, 'chk-2'), '--state', 'last-seen', '--key', key)
  assert.equal(map.code, 0, map.stderr)
  const entries = jsonLines(map.stdout)
  assert.deepEqual(new Map(entries.map((e) => [e.userKey, e.value])), m.lastSeen)
  assert.ok(entries.every((e) => e.key === key && Object.keys(e).join() === 'keyGroup,state,key,userKey,value'))

  const list = await cli('dump', join(t.root, 'savepoints', 'sp'), '--state', 'recent', '--key', key)
  assert.deepEqual(jsonLines(list.stdout).map((e) => e.value), [m.recent])
})

test('dump decodes keys with the key serializer the snapshot recorded unless told otherwise', async () => {
  const s = await tempStorage('ks-cli-int-keys-')
  try {
    const backend = await openKeyedStateBackend<number>({ kind: 'heap', keySerializer: int32Serializer, maxParallelism: 16 })
    const count = backend.getState(new ValueStateDescriptor('count', int32Serializer))
    for (const k of [3, 7, 40]) {
      backend.setCurrentKey(k)
      count.update(k * 10)
    }
    const c = await CheckpointCoordinator.create({ storage: s.storage, instances: [new LocalOperatorInstance(backend, s.storage)] })
    await c.triggerSavepoint('savepoints/ints')
    await c.close()
    await backend.close()
    const dir = join(s.root, 'savepoints', 'ints')
    const all = await cli('dump', dir, '--state', 'count')
    assert.equal(all.code, 0, all.stderr)
    assert.deepEqual(new Map(jsonLines(all.stdout).map((e) => [e.key, e.value])), new Map([[3, 30], [7, 70], [40, 400]]))
    const one = await cli('dump', dir, '--state', 'count', '--key', '7')
    assert.deepEqual(jsonLines(one.stdout).map((e) => [e.key, e.value]), [[7, 70]])
    // Another --key-serializer than the recorded one would print wrong keys: refused (it printed garbage).
    for (const other of ['bytes', 'string']) {
      const wrong = await cli('dump', dir, '--state', 'count', '--key-serializer', other)
      assert.equal(wrong.code, 1, wrong.stdout)
      assert.equal(wrong.stdout, '')
      assert.match(wrong.stderr, new RegExp(`written with the int32@1 serializer .*--key-serializer ${other} cannot read them.*\\[SERIALIZER_MISMATCH\\]`))
    }
    const same = await cli('dump', dir, '--state', 'count', '--key-serializer', 'int32')
    assert.equal(same.code, 0, same.stderr)
  } finally {
    await s.cleanup()
  }
})

test('dump names an unknown state and lists the known ones', async () => {
  const r = await cli('dump', join(t.root, 'chk-2'), '--state', 'nope')
  assert.equal(r.code, 1)
  assert.match(r.stderr, /state 'nope' is not in checkpoint 2; it holds: count, last-seen, recent/)
  const missing = await cli('dump', join(t.root, 'chk-2'))
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /required option '--state <name>'/)
})

test('verify accepts intact snapshots and names every problem of damaged ones', async () => {
  for (const dir of ['chk-2', 'chk-4', join('savepoints', 'sp')]) {
    const ok = await cli('verify', join(t.root, dir))
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /^OK (checkpoint|savepoint) \d+ .* entries in \d+ key groups/)
  }
  const incomplete = await cli('verify', join(t.root, 'chk-9'))
  assert.equal(incomplete.code, 1)
  assert.match(incomplete.stdout, /has no _metadata/)

  // Damage a copy: flip one byte inside a key-group block of one file, delete the other.
  const copy = await tempStorage('ks-cli-bad-')
  try {
    await cp(t.root, copy.root, { recursive: true })
    const [a, b] = chk2.instances.map((i) => (i.handle as any).file.path as string)
    const { open } = await import('node:fs/promises')
    const fh = await open(join(copy.root, a!), 'r+')
    const offset = (chk2.instances[0]!.handle as any).keyGroupOffsets.find((o: number) => o >= 0) + 12
    const byte = Buffer.alloc(1)
    await fh.read(byte, 0, 1, offset)
    byte[0] ^= 0x10
    await fh.write(byte, 0, 1, offset)
    await fh.close()
    await rm(join(copy.root, b!))
    const r = await cli('verify', join(copy.root, 'chk-2'), '--json')
    assert.equal(r.code, 1)
    const result = JSON.parse(r.stdout)
    assert.equal(result.ok, false)
    const byFile = new Map(result.problems.map((p: any) => [p.file, p]))
    assert.ok(byFile.has(a), `a problem names ${a}: ${r.stdout}`)
    assert.ok(byFile.has(b), `a problem names ${b}: ${r.stdout}`)
    assert.equal((byFile.get(b) as any).code, 'MISSING_FILE')
    const text = await cli('verify', join(copy.root, 'chk-2'))
    assert.equal(text.code, 1)
    assert.match(text.stdout, /^FAILED checkpoint 2 .*: \d+ problem/)
    assert.ok(text.stdout.includes(a!) && text.stdout.includes(b!))
  } finally {
    await copy.cleanup()
  }
})

test('gc lists the orphans, and deletes them only with --delete', async () => {
  const before = await storedPaths(t.storage)
  const dry = await cli('gc', t.root, '--json')
  assert.equal(dry.code, 0, dry.stderr)
  const report = JSON.parse(dry.stdout)
  assert.deepEqual(report.orphans.map((e: any) => e.path).sort(), ['chk-9/partial', 'shared/orphan.sst'])
  assert.deepEqual(await storedPaths(t.storage), before)

  const young = await cli('gc', t.root, '--delete', '--grace-ms', String(10 * OLD_MS))
  assert.equal(young.code, 0)
  assert.match(young.stdout, /no orphans/)
  assert.deepEqual(await storedPaths(t.storage), before)

  const del = await cli('gc', t.root, '--delete')
  assert.equal(del.code, 0, del.stderr)
  assert.match(del.stdout, /deleted 2 of 2 orphans/)
  assert.deepEqual(await storedPaths(t.storage), before.filter((p) => p !== 'chk-9/partial' && p !== 'shared/orphan.sst'))
  assert.ok(!(await readdir(t.root)).includes('chk-9'), 'the emptied directory is removed')
  const list = JSON.parse((await cli('list', t.root, '--json')).stdout).snapshots
  assert.deepEqual(list.map((x: any) => x.dir), ['chk-2', 'savepoints/sp', 'chk-4'])
})

test('every command has --help; bad input exits non-zero with a clear message', async () => {
  for (const cmd of ['list', 'inspect', 'dump', 'verify', 'gc']) {
    const r = await cli(cmd, '--help')
    assert.equal(r.code, 0)
    assert.match(r.stdout, new RegExp(`^Usage: keyed-state ${cmd} `))
  }
  const top = await cli('--help')
  assert.equal(top.code, 0)
  assert.match(top.stdout, /Commands:[\s\S]*list[\s\S]*inspect[\s\S]*dump[\s\S]*verify[\s\S]*gc/)
  const unknown = await cli('frobnicate')
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command 'frobnicate'/)
  const noRoot = await cli('list', join(t.root, 'nowhere'))
  assert.equal(noRoot.code, 1)
  assert.match(noRoot.stderr, /^keyed-state: error: opening checkpoint root .*nowhere.*\[MISSING_FILE\]/)
  const badGrace = await cli('gc', t.root, '--grace-ms', '-5')
  assert.equal(badGrace.code, 2)
  const emptyDir = join(t.root, 'savepoints', 'empty')
  await mkdir(emptyDir)
  const notSnapshot = await cli('inspect', emptyDir)
  await rm(emptyDir, { recursive: true })
  assert.equal(notSnapshot.code, 1)
  assert.match(notSnapshot.stderr, /has no _metadata/)
  for (const cmd of ['inspect', 'dump', 'verify']) {
    const root = await cli(cmd, t.root, ...(cmd === 'dump' ? ['--state', 'count'] : []))
    assert.equal(root.code, 1)
    assert.match(root.stdout + root.stderr, /is a checkpoint root, not one checkpoint: run `keyed-state list .*` to see what it holds.* latest` for the newest/)
  }
  assert.equal(savepoint.type, 'savepoint')
})

test('incremental RocksDB checkpoints: inspect, dump and verify read them through RocksDB', async () => {
  const s = await tempStorage('ks-cli-rocks-')
  const { mkdtemp } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const workDir = await mkdtemp(join(tmpdir(), 'ks-cli-rocks-work-'))
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: 16, storage: s.storage, kind: 'rocksdb', workDir, seed: 5 })
    const c = await CheckpointCoordinator.create({ storage: s.storage, instances: job.instances })
    job.process(300, 30)
    await c.triggerCheckpoint()
    job.process(100, 30)
    const model = cloneModel(job.model)
    const md = await c.triggerCheckpoint()
    await c.close()
    await job.close()

    const inspect = await cli('inspect', join(s.root, 'chk-2'), '--json', '--files')
    assert.equal(inspect.code, 0, inspect.stderr)
    const report = JSON.parse(inspect.stdout)
    assert.deepEqual(report.states.map((x: any) => x.name), ['count', 'last-seen', 'recent'])
    assert.ok(report.instances.every((i: any) => i.handleType === 'incremental' && i.files.some((f: any) => f.shared) && i.files.some((f: any) => !f.shared)))
    assert.ok(report.instances.every((i: any) => i.keySerializer.id === 'string' && i.keySerializer.version === 1))

    const dump = await cli('dump', join(s.root, 'chk-2'), '--state', 'count')
    assert.equal(dump.code, 0, dump.stderr)
    assert.deepEqual(new Map(jsonLines(dump.stdout).map((e) => [e.key, e.value])), new Map([...model].map(([k, m]) => [k, Number(m.count)])))

    const ok = await cli('verify', join(s.root, 'chk-2'))
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, new RegExp(`^OK checkpoint 2 .* ${[...model.values()].reduce((n, m) => n + 1 + m.lastSeen.size + 1, 0)} entries`))

    // A damaged shared SST and a missing private file are named.
    const sst = md.instances[0]!.handle!
    const files = (await import('../../src/checkpoint/handles.js')).filesOfHandle(sst)
    const shared = files.find((f) => f.shared)!
    const priv = md.instances[1]!.handle && (await import('../../src/checkpoint/handles.js')).filesOfHandle(md.instances[1]!.handle).find((f) => f.role === 'private')!
    const { open } = await import('node:fs/promises')
    const fh = await open(join(s.root, shared.path), 'r+')
    await fh.write(Buffer.from([0xff, 0xee]), 0, 2, Math.floor(shared.sizeBytes / 2))
    await fh.close()
    await rm(join(s.root, priv!.path))
    const bad = await cli('verify', join(s.root, 'chk-2'), '--json')
    assert.equal(bad.code, 1)
    const problems = JSON.parse(bad.stdout).problems
    assert.deepEqual(problems.map((p: any) => [p.file, p.code]).sort(), [[priv!.path, 'MISSING_FILE'], [shared.path, 'CHECKSUM_MISMATCH']].sort())
  } finally {
    await s.cleanup()
    await rm(workDir, { recursive: true, force: true })
  }
})

test('the progress bar goes to stderr only when stderr is a terminal', async (ctx) => {
  const { spawnSync } = await import('node:child_process')
  if (spawnSync('script', ['--version']).status !== 0) {
    ctx.skip('util-linux script (a pseudo-terminal) is not installed')
    return
  }
  const plain = await cli('verify', join(t.root, 'chk-2'))
  assert.equal(plain.stderr, '', 'no progress output without a terminal')
  const command = [process.execPath, CLI, 'verify', join(t.root, 'chk-2')].map((a) => `'${a}'`).join(' ')
  const tty = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' })
  assert.equal(tty.status, 0, tty.stdout)
  assert.match(tty.stdout, /verifying \[.*\] \d+% \| \d+\/\d+ bytes/)
  assert.match(tty.stdout, /OK checkpoint 2/)
})

test('the CLI reads a checkpoint only below its real root: a forged dir, or a handle path through a link, is refused', async () => {
  const { mkdtemp, readFile, symlink } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { encodeMetadata } = await import('../../src/checkpoint/metadata.js')
  const base = await mkdtemp(join(tmpdir(), 'ks-cli-forged-'))
  try {
    // Real snapshot files beside the root, where the forged `_metadata` points.
    await mkdir(join(base, 'outside'))
    await mkdir(join(base, 'root', 'chk-3'), { recursive: true })
    const copies = await Promise.all(
      savepoint.instances.map(async (inst, i) => {
        const name = `copy-${i}.kss`
        await writeFile(join(base, 'outside', name), await readFile(join(t.root, (inst.handle as any).file.path)))
        return name
      }),
    )
    const forge = (dir: string, pathOf: (name: string) => string): CheckpointMetadata => ({
      ...savepoint,
      type: 'checkpoint',
      checkpointId: 3,
      dir,
      instances: savepoint.instances.map((inst, i) => ({ ...inst, handle: { ...(inst.handle as any), checkpointId: 3, file: { ...(inst.handle as any).file, path: pathOf(copies[i]!) } } })),
    })
    const chk3 = join(base, 'root', 'chk-3')
    const refuses = async (pattern: RegExp): Promise<void> => {
      for (const args of [['dump', chk3, '--state', 'count'], ['inspect', chk3], ['verify', chk3]]) {
        const r = await cli(...args)
        assert.notEqual(r.code, 0, `${args[0]} must fail: ${r.stdout}`)
        assert.match(r.stdout + r.stderr, pattern, args[0])
        if (args[0] === 'dump') assert.equal(r.stdout, '', 'no entry of the outside files is printed')
      }
    }

    // "dir": "x/chk-3" would make the root's parent the checkpoint root, and outside/ readable.
    await writeFile(join(chk3, '_metadata'), encodeMetadata(forge('x/chk-3', (n) => `outside/${n}`)))
    await refuses(/records directory 'x\/chk-3'/)

    // An honest dir, but the files named through a link planted in the checkpoint directory.
    await symlink(join(base, 'outside'), join(chk3, 'link'))
    await writeFile(join(chk3, '_metadata'), encodeMetadata(forge('chk-3', (n) => `chk-3/link/${n}`)))
    await refuses(/symbolic link/)

    // `_metadata` itself a link to one outside.
    await writeFile(join(base, 'outside', '_metadata'), encodeMetadata(forge('chk-3', (n) => `chk-3/${n}`)))
    await rm(join(chk3, '_metadata'))
    await symlink(join(base, 'outside', '_metadata'), join(chk3, '_metadata'))
    await refuses(/symbolic link/)

    // gc --delete with no grace period removes links under taskowned/ and chk-*/, never what they lead to.
    await mkdir(join(base, 'root', 'taskowned'))
    await symlink(join(base, 'outside'), join(base, 'root', 'taskowned', 'x'))
    const before = (await readdir(join(base, 'outside'))).sort()
    const gc = await cli('gc', join(base, 'root'), '--delete', '--grace-ms', '0')
    assert.equal(gc.code, 0, gc.stderr)
    assert.deepEqual((await readdir(join(base, 'outside'))).sort(), before)
    assert.deepEqual(await readdir(join(base, 'root', 'taskowned')), [])
  } finally {
    await rm(base, { recursive: true, force: true })
  }
})
