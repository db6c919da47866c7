// A source that hands a worker a record under the wrong key group (here a
// generator whose key space is wrong) fails the job with CORRUPTION naming the
// source and both key groups: processing it would keep its position with
// another key group, and a rescale would then lose or repeat it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isKeyedStateError } from '../../src/errors.js'
import { runJob } from '../../src/runtime/job.js'
import { options, withStorage } from './helpers.js'

test('a record whose key is not of the key group it was read from fails the job with CORRUPTION', async () => {
  await withStorage(async (storage) => {
    const job = await runJob(options(storage, { events: 2000, keys: 50, wrongKeyIndex: true }, { restartStrategy: { kind: 'none' } }))
    await assert.rejects(job.done, (e: unknown) => {
      assert.ok(isKeyedStateError(e), String(e))
      assert.match(e.message, /generator of 2000 events over 50 keys: the event's key belongs to key group \d+, not to key group \d+ it was read from/)
      return true
    })
    assert.equal(job.state, 'FAILED')
  })
})
