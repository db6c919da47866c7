// Small helpers shared by the storage conformance suite's feature files.
import assert from 'node:assert/strict'
import { crc32 } from 'node:zlib'
import { isKeyedStateError, type ErrorCode } from '../../../src/errors.js'
import type { OpenedStorage, StorageFactory } from './factory.js'

/** Opens a fresh storage, runs `fn`, and always closes and cleans up. */
export async function withStorage(factory: StorageFactory, fn: (s: OpenedStorage) => Promise<void>): Promise<void> {
  const opened = await factory.open()
  try {
    await fn(opened)
  } finally {
    opened.storage.close?.()
    await opened.cleanup()
  }
}

export async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

/** A predicate for assert.rejects/throws: a KeyedStateError with `code`. */
export function hasCode(code: ErrorCode): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(isKeyedStateError(e, code), `expected ${code}, got ${String((e as Error)?.stack ?? e)}`)
    return true
  }
}

/** Deterministic bytes of any length (a cheap pattern that differs at every offset within 251 bytes). */
export function patternBytes(length: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) b[i] = (i + seed) % 251
  return b
}

export function crcOf(data: Uint8Array): number {
  return crc32(data) >>> 0
}

export async function sortedPaths(storage: { list(prefix: string): Promise<{ path: string }[]> }, prefix = ''): Promise<string[]> {
  return (await storage.list(prefix)).map((e) => e.path).sort()
}
