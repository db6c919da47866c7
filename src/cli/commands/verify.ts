import { crc32 } from 'node:zlib'
import { filesOfHandle } from '../../checkpoint/handles.js'
import { isKeyedStateError } from '../../errors.js'
import { formatRange } from '../../keygroups.js'
import { verifyFullSnapshot } from '../../snapshot/format/verify.js'
import type { KeyedStateHandle } from '../../snapshot/types.js'
import type { CheckpointStorage } from '../../storage/types.js'
import { materializeIncremental } from '../lib/incremental.js'
import { openSnapshotDirectory } from '../lib/open.js'
import { formatBytes, progress, writeJson, writeLine, type Progress } from '../lib/output.js'

export interface VerifyProblem {
  instance?: number
  file?: string
  keyGroup?: number
  offset?: number
  code: string
  message: string
}

export interface VerifyResult {
  directory: string
  checkpointId?: number
  type?: string
  ok: boolean
  files: number
  bytes: number
  keyGroupsWithData: number
  entries: number
  problems: VerifyProblem[]
  /** What could not be checked (not a failure). */
  notes: string[]
}

const CRC_STEP_BYTES = 4 * 1024 * 1024

async function fileCrc(storage: CheckpointStorage, path: string, sizeBytes: number): Promise<number> {
  let crc = 0
  for (let at = 0; at < sizeBytes; at += CRC_STEP_BYTES) crc = crc32(await storage.readRange(path, at, Math.min(CRC_STEP_BYTES, sizeBytes - at)), crc)
  return crc >>> 0
}

/** Size and checksum of every file of a handle. */
async function checkFiles(storage: CheckpointStorage, instance: number, handle: KeyedStateHandle, problems: VerifyProblem[], bar: Progress): Promise<void> {
  for (const f of filesOfHandle(handle)) {
    try {
      const size = await storage.size(f.path)
      if (size !== f.sizeBytes) {
        problems.push({ instance, file: f.path, code: 'TRUNCATED', message: `${f.path}: ${size} bytes, the handle records ${f.sizeBytes}` })
      } else {
        const crc = await fileCrc(storage, f.path, size)
        if (crc !== f.crc32) problems.push({ instance, file: f.path, code: 'CHECKSUM_MISMATCH', message: `${f.path}: CRC-32 ${crc}, the handle records ${f.crc32}` })
      }
    } catch (e) {
      if (!isKeyedStateError(e)) throw e
      problems.push({ instance, file: f.path, code: e.code, message: e.code === 'MISSING_FILE' ? `${f.path}: missing` : e.message })
    }
    bar.increment(f.sizeBytes)
  }
}

export async function verifySnapshot(path: string): Promise<VerifyResult> {
  const result: VerifyResult = { directory: path, ok: false, files: 0, bytes: 0, keyGroupsWithData: 0, entries: 0, problems: [], notes: [] }
  let opened: Awaited<ReturnType<typeof openSnapshotDirectory>>
  try {
    opened = await openSnapshotDirectory(path)
  } catch (e) {
    if (!isKeyedStateError(e)) throw e
    result.problems.push({ code: e.code, message: e.message, ...(e.file ? { file: e.file } : {}) })
    return result
  }
  const { storage, metadata: md, directory } = opened
  Object.assign(result, { directory, checkpointId: md.checkpointId, type: md.type })
  const handles = md.instances.filter((i) => i.handle)
  const totalBytes = handles.reduce((n, i) => n + i.sizeBytes, 0)
  const bar = progress('verifying', totalBytes, 'bytes')
  try {
    for (const inst of md.instances) {
      const h = inst.handle
      if (!h) continue
      result.files += filesOfHandle(h).length
      result.bytes += inst.sizeBytes
      if (h.type === 'full') {
        // Reads every block: size, whole-file CRC, per-key-group checksums, structure.
        const report = await verifyFullSnapshot(storage, h)
        for (const p of report.problems) {
          const message = p.message.includes(h.file.path) ? p.message : `${h.file.path}: ${p.message}`
          result.problems.push({ instance: inst.index, file: h.file.path, code: p.code, message, ...(p.keyGroup !== undefined ? { keyGroup: p.keyGroup } : {}), ...(p.offset !== undefined ? { offset: p.offset } : {}) })
        }
        result.keyGroupsWithData += report.keyGroupsWithData
        result.entries += report.entries
        bar.increment(inst.sizeBytes)
        continue
      }
      const before = result.problems.length
      await checkFiles(storage, inst.index, h, result.problems, bar)
      if (result.problems.length > before) continue
      try {
        const m = await materializeIncremental(storage, h)
        try {
          if (m.handle) {
            const report = await verifyFullSnapshot(m.storage, m.handle)
            for (const p of report.problems) result.problems.push({ instance: inst.index, code: p.code, message: `key groups ${formatRange(h.keyGroupRange)} decoded from RocksDB: ${p.message}` })
            result.keyGroupsWithData += report.keyGroupsWithData
            result.entries += report.entries
          }
        } finally {
          await m.cleanup()
        }
      } catch (e) {
        if (!isKeyedStateError(e)) throw e
        if (e.code === 'NOT_SUPPORTED' || e.code === 'NATIVE_UNAVAILABLE') {
          result.notes.push(`instance ${inst.index}: files checked, key groups not decoded (${e.message})`)
        } else {
          result.problems.push({ instance: inst.index, code: e.code, message: `instance ${inst.index}: restoring ${formatRange(h.keyGroupRange)} failed: ${e.message}`, ...(e.file ? { file: e.file } : {}) })
        }
      }
    }
  } finally {
    bar.stop()
  }
  result.ok = result.problems.length === 0
  return result
}

export async function verifyCommand(path: string, options: { json?: boolean }): Promise<number> {
  const result = await verifySnapshot(path)
  if (options.json) {
    await writeJson(result)
  } else {
    const what = result.checkpointId === undefined ? result.directory : `${result.type} ${result.checkpointId} (${result.directory})`
    const lines: string[] = []
    if (result.ok) {
      lines.push(`OK ${what}: ${result.files} files, ${formatBytes(result.bytes)}, ${result.entries} entries in ${result.keyGroupsWithData} key groups`)
    } else {
      lines.push(`FAILED ${what}: ${result.problems.length} problem(s)`)
      for (const p of result.problems) lines.push(`  ${p.code}: ${p.message}`)
    }
    for (const n of result.notes) lines.push(`  note: ${n}`)
    // Problems go to stdout with the verdict, so one stream holds the whole report.
    await writeLine(lines.join('\n'))
  }
  return result.ok ? 0 : 1
}
