// SIGKILL while uploading to S3: a child checkpointing RocksDB state is killed
// in the middle of a multipart upload. Afterwards the last completed
// checkpoint restores exactly (at another parallelism), the interrupted
// checkpoint is not complete, and gc aborts the open multipart upload and
// deletes the orphans, leaving exactly what the complete checkpoint references.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { findLatestCompleteCheckpoint } from '../../src/checkpoint/catalog.js'
import { collectGarbage } from '../../src/checkpoint/gc.js'
import { restoreAssignment } from '../../src/checkpoint/assignment.js'
import { assignToKeyGroup, rangeContains } from '../../src/keygroups.js'
import { bytesSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { referencedByMetadata, storedPaths } from '../checkpoint/helpers.js'
import { CRASH_KEYS, CRASH_MAX_PARALLELISM, crashKey, crashValue } from './crash-data.js'
import { FaultProxy, PASS } from './fault-proxy.js'
import { startS3Server } from './server.js'

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url))

test('SIGKILL in the middle of a multipart upload: the last complete checkpoint restores exactly, gc aborts the upload and removes the orphans', async () => {
  const server = await startS3Server()
  const proxy = await FaultProxy.start(server.port)
  const workDir = await mkdtemp(join(tmpdir(), 'ks-s3-crash-'))
  const storage = server.storage('crash')
  try {
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, KS_WORK_DIR: workDir, KS_S3_OPTIONS: JSON.stringify(server.options('crash', { endpoint: proxy.endpoint, partSizeBytes: 5 * 1024 * 1024 })) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const completed: number[] = []
    let killedAtPart: string | undefined
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^complete (\d+)$/.exec(line)
      if (m) completed.push(Number(m[1]))
    })
    // Once checkpoint 1 is complete, the second part of any upload is the moment: kill the child while the part is on its way.
    proxy.decide = (req) => {
      if (completed.includes(1) && killedAtPart === undefined && /[?&]partNumber=2(&|$)/.test(req.url ?? '')) {
        killedAtPart = req.url
        child.kill('SIGKILL')
      }
      return PASS
    }
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
    assert.equal(signal, 'SIGKILL', `the child was killed (exit ${code}): ${stderr}`)
    assert.ok(killedAtPart, 'killed during a multipart upload')
    assert.deepEqual(completed, [1])

    const latest = await findLatestCompleteCheckpoint(storage, { checkFiles: true })
    assert.equal(latest?.checkpointId, 1, 'checkpoint 2 never completed')
    assert.ok((await storage.listIncompleteUploads()).length >= 1, 'the kill left an open multipart upload')

    // Restore checkpoint 1 at parallelism 2: every key has generation 1.
    const descriptor = new ValueStateDescriptor('value', bytesSerializer)
    const backends = await Promise.all(
      restoreAssignment(latest, 2).map((a, i) =>
        openKeyedStateBackend({
          kind: 'rocksdb',
          dir: join(workDir, `restored-${i}`),
          keySerializer: stringSerializer,
          maxParallelism: CRASH_MAX_PARALLELISM,
          keyGroupRange: a.keyGroupRange,
          storage,
          restoreFrom: a.restoreFrom,
          knownEmptyRanges: a.knownEmptyRanges,
        }),
      ),
    )
    try {
      for (let i = 0; i < CRASH_KEYS; i++) {
        const key = crashKey(i)
        const kg = assignToKeyGroup(stringSerializer.serialize(key), CRASH_MAX_PARALLELISM)
        const b = backends.find((x) => rangeContains(x.keyGroupRange, kg))!
        b.setCurrentKey(key)
        assert.ok(Buffer.from(b.getState(descriptor).value()!).equals(crashValue(i, 1)), `value of ${key}`)
      }
    } finally {
      await Promise.all(backends.map((b) => b.close()))
    }

    const report = await collectGarbage(storage, { gracePeriodMs: 0, delete: true })
    assert.deepEqual(report.failed, [])
    assert.ok(report.abortedUploads.length >= 1)
    assert.deepEqual(await storage.listIncompleteUploads(), [])
    assert.deepEqual(await storedPaths(storage), await referencedByMetadata(storage))
  } finally {
    storage.close()
    await proxy.stop()
    await server.stop()
    await rm(workDir, { recursive: true, force: true })
  }
})
