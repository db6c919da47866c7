// Small helpers shared by the conformance suite's feature files.
import assert from 'node:assert/strict'
import { assignToKeyGroup, type KeyGroupRange } from '../../src/keygroups.js'
import type { ErrorCode } from '../../src/errors.js'
import { isKeyedStateError, type KeyedStateError } from '../../src/errors.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { BackendFactory, SuiteOpenOptions } from './factory.js'

/** Opens a backend with string keys (unless overridden), runs `fn`, always closes it. */
export async function withBackend<K = string, R = void>(
  factory: BackendFactory,
  fn: (backend: KeyedStateBackend<K>) => R | Promise<R>,
  options: Partial<SuiteOpenOptions<K>> = {},
  instance?: string,
): Promise<R> {
  const backend = await factory.open<K>({ keySerializer: stringSerializer as never, ...options }, instance)
  try {
    return await fn(backend)
  } finally {
    await backend.close()
  }
}

/** Asserts that `fn` throws (or rejects with) a KeyedStateError with `code`; returns it. */
export async function expectCode(fn: () => unknown, code: ErrorCode, messageIncludes?: string): Promise<KeyedStateError> {
  let thrown: unknown
  try {
    await fn()
  } catch (e) {
    thrown = e
  }
  assert.ok(thrown !== undefined, `expected an error with code ${code}, nothing was thrown`)
  assert.ok(isKeyedStateError(thrown), `expected a KeyedStateError with code ${code}, got ${String(thrown)}`)
  assert.equal(thrown.code, code, `expected code ${code}, got ${thrown.code}: ${thrown.message}`)
  if (messageIncludes !== undefined) assert.ok(thrown.message.includes(messageIncludes), `message should mention ${messageIncludes}: ${thrown.message}`)
  return thrown
}

/** `what` names the call in the failure message (for tests that loop over calls). */
export function expectCodeSync(fn: () => unknown, code: ErrorCode, messageIncludes?: string, what = 'the call'): KeyedStateError {
  try {
    fn()
  } catch (e) {
    assert.ok(isKeyedStateError(e), `${what}: expected a KeyedStateError with code ${code}, got ${String(e)}`)
    assert.equal(e.code, code, `${what}: expected code ${code}, got ${e.code}: ${e.message}`)
    if (messageIncludes !== undefined) assert.ok(e.message.includes(messageIncludes), `${what}: message should mention ${messageIncludes}: ${e.message}`)
    return e
  }
  assert.fail(`${what}: expected an error with code ${code}, nothing was thrown`)
}

/** `count` string keys whose key groups lie inside (or, with inside=false, outside) `range`. */
export function stringKeysIn(range: KeyGroupRange, maxParallelism: number, count: number, inside = true, prefix = 'k'): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) {
    if (i > 1_000_000) throw new Error('no keys found for the range')
    const key = `${prefix}${i}`
    const kg = assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
    if ((kg >= range.start && kg <= range.end) === inside) out.push(key)
  }
  return out
}

export function sorted<T>(values: Iterable<T>): T[] {
  return [...values].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))
}
