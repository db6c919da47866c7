// Rescaling from incremental handles: each handle's files are opened as a
// temporary database, the key groups the target owns are streamed per column
// family into new SST files (one native call per chunk of entries, never one
// call per key), and those files are ingested into the target database. Key
// groups are contiguous ranges of the composite key, so the files of different
// handles never overlap and ingest places them without rewriting anything.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { SNAPSHOT_CHUNK } from './packed-chunks.js'
import { compressionOf } from './sst-compression.js'
import { keyGroupPrefix } from '../../encoding.js'
import { fromFsError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeBinding, NativeDb, NativeSstWriter } from './native/types.js'

/** Roll over to a new file past this many bytes, so no single staged file grows without bound. */
const SST_FILE_TARGET_BYTES = 256 * 1024 * 1024
/** Other work in the process (other backends) gets a turn at least this often. */
const YIELD_EVERY_MS = 8

export interface RangeCopyStats {
  sstFiles: number
  entries: number
  bytes: number
}

/**
 * Writes the entries of `cf` in key groups `range` into SST files under
 * `stagingDir`, named `<prefix>-<n>.sst`; returns the files in key order
 * (empty when the range holds nothing).
 */
export async function copyRangeToSstFiles(
  native: NativeBinding,
  db: NativeDb,
  cf: number,
  range: KeyGroupRange,
  stagingDir: string,
  prefix: string,
  stats: RangeCopyStats,
): Promise<string[]> {
  try {
    await mkdir(stagingDir, { recursive: true })
  } catch (e) {
    throw fromFsError(e, stagingDir, 'creating staging directory')
  }
  const files: string[] = []
  let writer: NativeSstWriter | undefined
  let writtenBytes = 0
  const finish = (): void => {
    if (!writer) return
    const w = writer
    writer = undefined
    stats.entries += w.entries
    if (w.finish() > 0) stats.sstFiles++
    else files.pop()
  }
  const it = db.iterator(cf, { gte: keyGroupPrefix(range.start), lt: keyGroupPrefix(range.end + 1) })
  let lastYield = performance.now()
  try {
    for (;;) {
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop()
        lastYield = performance.now()
      }
      const chunk = it.nextChunk(SNAPSHOT_CHUNK.entriesMax, SNAPSHOT_CHUNK.bytesMax)
      if (chunk === null) break
      if (!writer) {
        const path = join(stagingDir, `${prefix}-${String(files.length).padStart(4, '0')}.sst`)
        files.push(path)
        writer = native.sstWriter(path, { compression: compressionOf(native, [chunk]) })
        writtenBytes = 0
      }
      writer.putChunk(chunk)
      writtenBytes += chunk.length
      stats.bytes += chunk.length
      if (writtenBytes >= SST_FILE_TARGET_BYTES) finish()
    }
    finish()
  } finally {
    it.close()
    // An error left a writer open: finishing it releases the native file; the staging directory goes anyway.
    if (writer) {
      try {
        ;(writer as NativeSstWriter).finish()
      } catch {
        // already failing
      }
    }
  }
  return files
}
