// The loader: errors become NativeError through the addon's factory, the
// result is cached, and a missing build is a NATIVE_UNAVAILABLE error that says
// what to run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KeyedStateError, NativeError } from '../../../src/errors.js'
import { loadNative, makeNativeError, RocksDBStatus, toErrorCode } from '../../../src/backends/rocksdb/native/binding.js'
import { codeOf, native, tempDir } from './helpers.js'

test('loadNative is cached and exposes the contract', () => {
  assert.equal(loadNative(), native)
  for (const name of ['open', 'sstWriter', 'destroy'] as const) assert.equal(typeof native[name], 'function')
  // The benchmarks' raw loop is only in the bench-only addon (binding.gyp keyed_state_bench).
  assert.equal('benchRawLoop' in native, false)
  assert.equal(typeof native.rocksdbVersion, 'string')
})

test('addon errors are NativeErrors with a mapped code, the message, and the RocksDB status as cause', () => {
  const path = join(tempDir(), 'db')
  const db = native.open(path)
  try {
    native.open(path)
    assert.fail('expected the second open to fail')
  } catch (e) {
    assert.ok(e instanceof NativeError)
    assert.ok(e instanceof KeyedStateError)
    assert.equal(e.name, 'NativeError')
    assert.equal(e.code, 'IO_ERROR')
    assert.ok(e.message.includes(path), e.message)
    assert.ok(e.cause instanceof RocksDBStatus)
    assert.equal(e.cause.code, 'IO_ERROR')
  } finally {
    db.close()
  }
  // Errors of the binding's own checks carry no RocksDB status.
  for (const call of [() => db.get(0, new Uint8Array(1)), () => native.open(path).get(0, 'x' as never)]) {
    let error: unknown
    try {
      call()
    } catch (e) {
      error = e
    }
    assert.ok(error instanceof NativeError)
    assert.ok(error.code === 'CLOSED' || error.code === 'INVALID_ARGUMENT')
    assert.equal(error.cause, undefined)
  }
})

test('native codes without an ErrorCode of their own map to the closest one', () => {
  assert.equal(toErrorCode('TIMED_OUT'), 'BUSY')
  assert.equal(toErrorCode('TRY_AGAIN'), 'BUSY')
  assert.equal(toErrorCode('INCOMPLETE'), 'ABORTED')
  assert.equal(toErrorCode('SHUTDOWN_IN_PROGRESS'), 'CLOSED')
  assert.equal(toErrorCode('DISK_FULL'), 'DISK_FULL')
  assert.equal(toErrorCode('SOMETHING_NEW'), 'INTERNAL')
})

test('a package without the built addon fails with NATIVE_UNAVAILABLE naming the fix', () => {
  // A copy of the compiled loader in a package that has no build/ directory.
  const pkg = tempDir('ks-unbuilt-')
  const compiledSrc = fileURLToPath(new URL('../../../src/', import.meta.url))
  mkdirSync(join(pkg, 'dist', 'src', 'backends', 'rocksdb', 'native'), { recursive: true })
  copyFileSync(join(compiledSrc, 'errors.js'), join(pkg, 'dist', 'src', 'errors.js'))
  copyFileSync(join(compiledSrc, 'backends', 'rocksdb', 'native', 'binding.js'), join(pkg, 'dist', 'src', 'backends', 'rocksdb', 'native', 'binding.js'))
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'keyed-state', type: 'module' }))
  const res = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { loadNative } = await import(${JSON.stringify(join(pkg, 'dist', 'src', 'backends', 'rocksdb', 'native', 'binding.js'))})
       try { loadNative(); process.exit(3) } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`,
    ],
    { encoding: 'utf8' },
  )
  assert.equal(res.status, 0, res.stderr)
  const error = JSON.parse(res.stdout) as { code: string; message: string }
  assert.equal(error.code, 'NATIVE_UNAVAILABLE')
  assert.match(error.message, /npm run build/)
  assert.match(error.message, /RocksDB/)
  assert.ok(error.message.includes(join(pkg, 'build', 'Release', 'keyed_state_native.node')))
})

test('a factory that throws does not hide the error', () => {
  const raw = native as unknown as { setErrorFactory(f: unknown): void }
  const path = join(tempDir(), 'db')
  try {
    raw.setErrorFactory(() => {
      throw new Error('factory bug')
    })
    assert.equal(codeOf(() => native.open(path, { createIfMissing: false })), 'NOT_FOUND')
    raw.setErrorFactory(null)
    assert.equal(codeOf(() => native.open(path, { createIfMissing: false })), 'NOT_FOUND')
    assert.equal(codeOf(() => raw.setErrorFactory(5)), 'INVALID_ARGUMENT')
  } finally {
    raw.setErrorFactory(makeNativeError)
  }
  try {
    native.open(path, { createIfMissing: false })
  } catch (e) {
    assert.ok(e instanceof NativeError)
    assert.equal(e.code, 'NOT_FOUND')
  }
})
