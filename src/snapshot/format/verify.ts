// Full verification of a snapshot file: every record, every block, in file
// order, independently of the index (so a file whose index and data disagree
// is reported). Problems are collected rather than thrown, and the scan
// resynchronizes at the next indexed key group after a damaged block.
import { crc32 } from 'node:zlib'
import { isKeyedStateError, type ErrorCode } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { CheckpointStorage } from '../../storage/types.js'
import type { CompressionCodec, FullSnapshotHandle } from '../types.js'
import { KeyOrder } from './entry-rules.js'
import { corruptSnapshot, decodeBlock, readLayout, storageByteSource, WindowedReader, type ByteSource, type SnapshotLayout } from './decoder.js'

export interface SnapshotProblem {
  code: ErrorCode
  message: string
  keyGroup?: number
  offset?: number
}

export interface VerifyReport {
  file: string
  path: string
  ok: boolean
  problems: SnapshotProblem[]
  formatVersion?: number
  codec?: CompressionCodec
  maxParallelism?: number
  keyGroupRange?: KeyGroupRange
  states?: StateMetaInfo[]
  sizeBytes?: number
  keyGroupsWithData: number
  blocks: number
  entries: number
  rawBytes: number
  storedBytes: number
  entriesByState: Record<string, number>
}

export interface VerifyOptions {
  /** Stop collecting after this many problems (default 100). */
  maxProblems?: number
}

function toProblem(e: unknown): SnapshotProblem {
  if (isKeyedStateError(e)) return { code: e.code, message: e.message, keyGroup: e.keyGroup, offset: e.offset }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) }
}

async function wholeFileCrc(src: ByteSource, sizeBytes: number): Promise<number> {
  const step = 4 * 1024 * 1024
  let crc = 0
  for (let at = 0; at < sizeBytes; at += step) crc = crc32(await src.readRange(at, Math.min(step, sizeBytes - at)), crc)
  return crc >>> 0
}

/** Decodes every block of a snapshot (by handle or storage path) and lists what is wrong. */
export async function verifyFullSnapshot(storage: CheckpointStorage, target: FullSnapshotHandle | string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const maxProblems = options.maxProblems ?? 100
  const handle = typeof target === 'string' ? undefined : target
  const path = typeof target === 'string' ? target : target.file.path
  const src = storageByteSource(storage, path)
  const report: VerifyReport = {
    file: src.file, path, ok: false, problems: [], keyGroupsWithData: 0, blocks: 0, entries: 0, rawBytes: 0, storedBytes: 0, entriesByState: {},
  }
  const problem = (p: SnapshotProblem): boolean => {
    if (report.problems.length < maxProblems) report.problems.push(p)
    return report.problems.length < maxProblems
  }
  let layout: SnapshotLayout
  try {
    layout = await readLayout(src, handle?.file.sizeBytes)
  } catch (e) {
    problem(toProblem(e))
    return report
  }
  const { meta } = layout
  Object.assign(report, {
    formatVersion: layout.formatVersion, codec: layout.codec, maxParallelism: meta.maxParallelism, keyGroupRange: meta.keyGroupRange,
    states: meta.states, sizeBytes: layout.sizeBytes,
  })
  for (const s of meta.states) report.entriesByState[s.name] = 0

  if (handle) {
    const r = meta.keyGroupRange
    if (handle.maxParallelism !== meta.maxParallelism) problem({ code: 'CORRUPTION', message: `handle says maxParallelism ${handle.maxParallelism}, file says ${meta.maxParallelism}` })
    if (handle.keyGroupRange.start !== r.start || handle.keyGroupRange.end !== r.end) {
      problem({ code: 'CORRUPTION', message: `handle says key groups ${handle.keyGroupRange.start}..${handle.keyGroupRange.end}, file says ${r.start}..${r.end}` })
    } else {
      layout.keyGroupOffsets.forEach((o, i) => {
        if (handle.keyGroupOffsets[i] !== o) problem({ code: 'CORRUPTION', message: `handle gives offset ${handle.keyGroupOffsets[i]} for key group ${r.start + i}, the file's index ${o}`, keyGroup: r.start + i })
      })
    }
    const crc = await wholeFileCrc(src, layout.sizeBytes)
    if (crc !== handle.file.crc32) problem({ code: 'CHECKSUM_MISMATCH', message: `file CRC-32 ${crc} differs from the handle's ${handle.file.crc32}` })
  }

  const { start } = meta.keyGroupRange
  const indexed = new Map<number, number>() // offset -> key group
  layout.keyGroupOffsets.forEach((o, i) => {
    if (o >= 0) indexed.set(o, start + i)
  })
  const reached = new Set<number>()
  const reader = new WindowedReader(src, layout.indexOffset)
  const order = new KeyOrder()
  let pos = layout.dataStart
  let currentKeyGroup = -1
  let inKeyGroup = false
  while (pos < layout.indexOffset) {
    try {
      const block = await decodeBlock(reader, layout, pos, inKeyGroup ? currentKeyGroup : undefined, order)
      if (!inKeyGroup) {
        if (block.keyGroup <= currentKeyGroup) throw corruptSnapshot('CORRUPTION', src.file, `key group ${block.keyGroup} after key group ${currentKeyGroup}`, { offset: pos, keyGroup: block.keyGroup })
        if (indexed.get(pos) !== block.keyGroup) {
          if (!problem({ code: 'CORRUPTION', message: `key group ${block.keyGroup} starts at ${pos} but the index says ${layout.keyGroupOffsets[block.keyGroup - start]}`, keyGroup: block.keyGroup, offset: pos })) break
        }
        reached.add(block.keyGroup)
        report.keyGroupsWithData++
      }
      currentKeyGroup = block.keyGroup
      inKeyGroup = !block.last
      report.blocks++
      report.rawBytes += block.rawLength
      report.storedBytes += block.storedLength
      for (const s of block.sections) {
        report.entries += s.entryCount
        report.entriesByState[meta.states[s.stateIndex]!.name]! += s.entryCount
      }
      pos = block.nextOffset
    } catch (e) {
      const p = toProblem(e)
      if (p.offset === undefined) p.offset = pos
      if (!problem(p)) break
      // Resynchronize at the next key group the index knows about.
      const nextOffset = [...indexed.keys()].filter((o) => o > pos).sort((a, b) => a - b)[0]
      if (nextOffset === undefined) {
        inKeyGroup = false
        break
      }
      pos = nextOffset
      currentKeyGroup = indexed.get(nextOffset)! - 1
      inKeyGroup = false
    }
  }
  if (inKeyGroup) problem({ code: 'TRUNCATED', message: `key group ${currentKeyGroup} has no last block before the index`, keyGroup: currentKeyGroup, offset: pos })
  for (const [o, kg] of indexed) {
    if (!reached.has(kg) && !report.problems.some((p) => p.keyGroup === kg)) problem({ code: 'CORRUPTION', message: `key group ${kg} at offset ${o} was never reached`, keyGroup: kg, offset: o })
  }
  report.ok = report.problems.length === 0
  return report
}
