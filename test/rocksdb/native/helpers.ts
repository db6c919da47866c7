// Shared by the native binding tests: temp directories that clean up, a
// decoder for packed chunks written independently of the library's own, and
// byte helpers.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { loadNative } from '../../../src/backends/rocksdb/native/binding.js'
import type { NativeDb, NativeIterator, NativeOpenOptions } from '../../../src/backends/rocksdb/native/types.js'

export const native = loadNative()

const dirs: string[] = []
const dbs: NativeDb[] = []

after(() => {
  try {
    for (const db of dbs) db.close()
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
})

/** A fresh directory under os.tmpdir(), removed when the test file ends. */
export function tempDir(prefix = 'ks-native-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** Opens a DB in a fresh temp directory (or `path`); closed when the test file ends. */
export function openDb(options: NativeOpenOptions = {}, path = join(tempDir(), 'db')): { db: NativeDb; path: string } {
  const db = native.open(path, options)
  dbs.push(db)
  return { db, path }
}

export const b = (s: string): Buffer => Buffer.from(s, 'utf8')
export const s = (buf: Uint8Array | undefined): string | undefined =>
  buf === undefined ? undefined : Buffer.from(buf).toString('utf8')

export interface Entry {
  key: Buffer
  value: Buffer
}

/** Decodes repeated (u32le keyLen | key | u32le valueLen | value). */
export function decodeChunk(chunk: Buffer): Entry[] {
  const out: Entry[] = []
  let pos = 0
  while (pos < chunk.length) {
    const keyLen = chunk.readUInt32LE(pos)
    pos += 4
    const key = chunk.subarray(pos, pos + keyLen)
    pos += keyLen
    const valueLen = chunk.readUInt32LE(pos)
    pos += 4
    const value = chunk.subarray(pos, pos + valueLen)
    pos += valueLen
    if (key.length !== keyLen || value.length !== valueLen) throw new Error(`truncated chunk at ${pos}`)
    out.push({ key, value })
  }
  return out
}

/** Encodes entries the way nextChunk packs them (for sstWriter.putChunk). */
export function encodeChunk(entries: Array<[Uint8Array, Uint8Array]>): Buffer {
  const parts: Buffer[] = []
  for (const [key, value] of entries) {
    const kl = Buffer.alloc(4)
    kl.writeUInt32LE(key.length)
    const vl = Buffer.alloc(4)
    vl.writeUInt32LE(value.length)
    parts.push(kl, Buffer.from(key), vl, Buffer.from(value))
  }
  return Buffer.concat(parts)
}

/** Every remaining entry of an iterator, in small chunks to exercise chunking. */
export function drain(it: NativeIterator, maxEntries = 3, maxBytes = 64): Entry[] {
  const out: Entry[] = []
  for (let chunk = it.nextChunk(maxEntries, maxBytes); chunk !== null; chunk = it.nextChunk(maxEntries, maxBytes)) {
    out.push(...decodeChunk(chunk))
  }
  return out
}

export function scan(db: NativeDb, cf: number, options: Parameters<NativeDb['iterator']>[1] = {}): Array<[string, string]> {
  const it = db.iterator(cf, options)
  try {
    return drain(it).map((e) => [e.key.toString('utf8'), e.value.toString('utf8')])
  } finally {
    it.close()
  }
}

/** Asserts that `fn` throws an error with `code` (a KeyedStateError from the binding). */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return (e as { code?: string }).code
  }
  return undefined
}

/** The code a promise rejects with (undefined when it resolves). */
export async function rejectionCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (e) {
    return (e as { code?: string }).code
  }
  return undefined
}
