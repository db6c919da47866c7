// Cancelling an upload: a signal that has fired stops the copy where it is
// (an S3 multipart upload is aborted), removes what was written, and the
// upload rejects with CANCELLED. The source is a FIFO the test feeds, so the
// cancel lands while the upload is provably in the middle of the file.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { StorageFactory } from './factory.js'
import { hasCode, patternBytes, sortedPaths, withStorage } from './helpers.js'

const PIECE_BYTES = 1024 * 1024

async function withLocalDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-suite-cancel-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export function uploadCancelTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage upload cancel`, () => {
    test('an upload whose signal has already fired writes nothing', () =>
      withLocalDir((local) =>
        withStorage(factory, async ({ storage }) => {
          await writeFile(join(local, 'a.sst'), patternBytes(1000))
          const ac = new AbortController()
          ac.abort()
          await assert.rejects(storage.upload({ kind: 'shared' }, 'a.sst', join(local, 'a.sst'), { signal: ac.signal }), hasCode('CANCELLED'))
          assert.deepEqual(await sortedPaths(storage), [])
        }),
      ))

    test('an upload cancelled mid-file (more than two parts in) stops, leaves no object, no staged file and no parts', (t) =>
      withLocalDir(async (local) => {
        const fifo = join(local, 'source.sst')
        try {
          execFileSync('mkfifo', [fifo])
        } catch {
          t.skip('mkfifo is not available')
          return
        }
        await withStorage(factory, async ({ storage }) => {
          const part = factory.partSizeBytes ?? 8 * 1024 * 1024
          const ac = new AbortController()
          const upload = storage.upload({ kind: 'shared' }, 'mid.sst', fifo, { signal: ac.signal })
          upload.catch(() => {})
          const writer = createWriteStream(fifo)
          writer.on('error', () => {}) // the upload may close its end first
          const piece = patternBytes(PIECE_BYTES)
          for (let fed = 0; fed < 2 * part + PIECE_BYTES; fed += PIECE_BYTES) {
            if (!writer.write(piece)) await once(writer, 'drain')
          }
          // A pipe holds 64 KiB: the upload has taken in all but that much, and waits for more.
          ac.abort()
          writer.destroy() // the end of the source: a copy that ignored the signal would now commit
          await assert.rejects(upload, hasCode('CANCELLED'))
          assert.equal(await storage.exists('shared/mid.sst'), false)
          assert.deepEqual(await sortedPaths(storage), [], 'no object and no staged file')
          if (storage.listIncompleteUploads) assert.deepEqual(await storage.listIncompleteUploads(), [], 'the multipart upload was aborted')
        })
      }))
  })
}
