// Databases left open must be closed (flushed, lock released) when a worker
// thread ends, when the process ends or calls process.exit(), and when the Db
// object is garbage collected; iterators keep their DB alive until then.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { nativeAddonPath } from '../../../src/backends/rocksdb/native/binding.js'
import { b, native, s, tempDir } from './helpers.js'

const addon = nativeAddonPath()
const bindingUrl = pathToFileURL(fileURLToPath(new URL('../../../src/backends/rocksdb/native/binding.js', import.meta.url))).href

function runWorker(code: string, workerData: unknown, terminateOnMessage = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData })
    worker.on('error', reject)
    worker.on('message', () => {
      if (terminateOnMessage) void worker.terminate()
    })
    worker.on('exit', resolve)
  })
}

function expectPersisted(path: string, key: string, value: string): void {
  const db = native.open(path, { createIfMissing: false })
  try {
    assert.equal(s(db.get(db.columnFamily('w'), b(key))), value)
  } finally {
    db.close()
  }
}

test('a worker that ends without closing its DB: the cleanup hook flushes and closes it', async () => {
  const path = join(tempDir(), 'db')
  // The raw addon, without the loader's exit handler: only the hook can close it.
  const code = `
    const { workerData } = require('node:worker_threads')
    const addon = require(workerData.addon)
    const db = addon.open(workerData.path, { columnFamilies: ['w'], disableWal: true })
    db.put(db.columnFamily('w'), Buffer.from('k'), Buffer.from('from worker'))
    globalThis.keep = [db, db.iterator(0), db.snapshot()]
  `
  assert.equal(await runWorker(code, { addon, path }), 0)
  expectPersisted(path, 'k', 'from worker')
})

test('a terminated worker releases its DB too', async () => {
  const path = join(tempDir(), 'db')
  const code = `
    const { workerData, parentPort } = require('node:worker_threads')
    import(workerData.bindingUrl).then(({ loadNative }) => {
      const native = loadNative()
      const db = native.open(workerData.path, { columnFamilies: ['w'], disableWal: true })
      db.put(db.columnFamily('w'), Buffer.from('k'), Buffer.from('before terminate'))
      globalThis.keep = db
      setInterval(() => {}, 1000)
      parentPort.postMessage('ready')
    })
  `
  await runWorker(code, { bindingUrl, path }, true)
  expectPersisted(path, 'k', 'before terminate')
})

function child(code: string, path: string, flags: string[] = []): void {
  const res = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', code], {
    env: { ...process.env, KS_ADDON: addon, KS_BINDING: bindingUrl, KS_PATH: path },
    encoding: 'utf8',
  })
  assert.equal(res.status, 0, res.stderr)
}

test('process.exit() with an open DB keeps its writes (the loader closes DBs on exit)', () => {
  const path = join(tempDir(), 'db')
  child(
    `const { loadNative } = await import(process.env.KS_BINDING)
     const db = loadNative().open(process.env.KS_PATH, { columnFamilies: ['w'], disableWal: true })
     db.put(db.columnFamily('w'), Buffer.from('k'), Buffer.from('exit'))
     process.exit(0)`,
    path,
  )
  expectPersisted(path, 'k', 'exit')
})

test('a process that ends with an open DB (raw addon) closes it in the cleanup hook', () => {
  const path = join(tempDir(), 'db')
  child(
    `import { createRequire } from 'node:module'
     const addon = createRequire(import.meta.url)(process.env.KS_ADDON)
     const db = addon.open(process.env.KS_PATH, { columnFamilies: ['w'], disableWal: true })
     db.put(db.columnFamily('w'), Buffer.from('k'), Buffer.from('natural end'))
     globalThis.keep = db.iterator(0)`,
    path,
  )
  expectPersisted(path, 'k', 'natural end')
})

test('garbage collection closes an unreferenced DB; iterators keep theirs alive', () => {
  const path = join(tempDir(), 'db')
  child(
    `import { createRequire } from 'node:module'
     import assert from 'node:assert/strict'
     const addon = createRequire(import.meta.url)(process.env.KS_ADDON)
     const path = process.env.KS_PATH
     const collect = async () => { for (let i = 0; i < 4; i++) { gc(); await new Promise((r) => setImmediate(r)) } }
     let it = (() => {
       const db = addon.open(path, { columnFamilies: ['w'] })
       db.put(db.columnFamily('w'), Buffer.from('k'), Buffer.from('gc'))
       return db.iterator(db.columnFamily('w'))
     })()
     await collect()
     assert.ok(it.nextChunk(10, 1000) !== null, 'the iterator kept its DB open')
     assert.throws(() => addon.open(path), /lock/i)
     it = undefined
     await collect()
     const again = addon.open(path)
     assert.equal(String(again.get(again.columnFamily('w'), Buffer.from('k'))), 'gc')
     again.close()`,
    path,
    ['--expose-gc'],
  )
})
