// Forged snapshot files (valid checksums, content that breaks docs/FORMAT.md)
// are refused by the decoder, so both backends refuse the same files: entries
// out of order or duplicated (also across blocks), composite keys that are
// only the key-group prefix or do not end where their layout says, and list
// values that are empty or badly framed. Before the decoder checked these, the
// heap accepted what RocksDB refused and the other way round.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { compositeKey, encodeListElements } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { bytesSerializer } from '../../src/serializers/primitives.js'
import { restoreFullHandles, runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle } from '../../src/snapshot/types.js'
import type { StateMetaInfo } from '../../src/state/meta.js'
import { encodeTimer } from '../../src/timers/entry.js'
import { metaInfo, RecordingSink, resourcesOf, type Model } from '../format/helpers.js'
import { KINDS, openKind, testDirs, type Dirs } from './helpers.js'

const KG = 3
const ns = new Uint8Array(0)
const key = (k: string): Uint8Array => compositeKey(KG, Buffer.from(k), ns)
const list = (...elements: string[]): Uint8Array => encodeListElements(elements.map((e) => Buffer.from(e)))
const v = (s: string): Uint8Array => Buffer.from(s)

interface Forgery {
  name: string
  kind: StateMetaInfo['kind']
  entries: Array<[Uint8Array, Uint8Array]>
  /** What the error message says. */
  why: RegExp
}

const many = Array.from({ length: 12 }, (_, i) => `key-${String(i).padStart(2, '0')}`)

const FORGERIES: Forgery[] = [
  { name: 'duplicate entries', kind: 'value', entries: [[key('a'), v('1')], [key('a'), v('2')]], why: /not in ascending key order|duplicate/ },
  { name: 'entries out of order', kind: 'value', entries: [[key('b'), v('1')], [key('a'), v('2')]], why: /not in ascending key order/ },
  // Small blocks (tuning below): the descending keys fall into different blocks of the key group too.
  { name: 'entries out of order across blocks', kind: 'value', entries: many.reverse().map((k) => [key(k), v('x'.repeat(30))]), why: /not in ascending key order/ },
  { name: 'a key that is only the key-group prefix', kind: 'value', entries: [[Uint8Array.of(0, KG), v('1')]], why: /composite key/ },
  { name: 'a key whose key length runs past its end', kind: 'value', entries: [[Uint8Array.of(0, KG, 9, 1, 2), v('1')]], why: /composite key/ },
  { name: 'a value-state key with bytes after the namespace', kind: 'value', entries: [[Uint8Array.of(...key('a'), 7), v('1')]], why: /composite key/ },
  { name: 'an empty list value', kind: 'list', entries: [[key('a'), new Uint8Array(0)]], why: /empty list value/ },
  { name: 'a badly framed list value', kind: 'list', entries: [[key('a'), Uint8Array.of(0, 0, 0, 9, 1)]], why: /list value/ },
  { name: 'a timer with a value', kind: 'timers', entries: [[encodeTimer(KG, 5, v('k'), ns).bytes, v('1')]], why: /timer/ },
  { name: 'a timer key that does not end with its namespace', kind: 'timers', entries: [[Uint8Array.of(...encodeTimer(KG, 5, v('k'), ns).bytes, 0), new Uint8Array(0)]], why: /timer/ },
]

function modelOf(f: Forgery): Model {
  const meta = f.kind === 'timers'
    ? { name: '_timers:t:event', kind: 'timers' as const, namespaceSerializer: { id: 'void', version: 1 }, valueSerializer: { id: 'void', version: 1 } }
    : metaInfo('s', f.kind)
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
  // The model keeps the entries exactly as forged (resourcesOf hands them to the writer in this order).
  return { maxParallelism: 8, range: { start: 0, end: 7 }, states: [{ meta, entries: new Map([[KG, f.entries.map(([k, val]) => [hex(k), hex(val)] as [string, string])]]) }] }
}

async function forge(f: Forgery, dirs: Dirs, id: number): Promise<FullSnapshotHandle> {
  const model = modelOf(f)
  const run = runFullSnapshot(id, resourcesOf(model, 2), { type: 'savepoint', storage: dirs.storage, compression: 'none' }, {
    maxParallelism: model.maxParallelism,
    tuning: { blockRawBytesMax: 96 },
  }, 0)
  return (await run.done).handle as FullSnapshotHandle
}

let dirs: Dirs | undefined
after(() => dirs?.remove())

test('the decoder refuses every forgery, and both backends refuse the same files', async () => {
  dirs = await testDirs()
  let id = 0
  for (const f of FORGERIES) {
    const handle = await forge(f, dirs, ++id)
    const isForgeryError = (e: unknown): boolean =>
      isKeyedStateError(e, 'CORRUPTION') && f.why.test(e.message) && e.message.includes(handle.file.path) && e.keyGroup === KG && typeof e.offset === 'number'
    await assert.rejects(restoreFullHandles([handle], dirs.storage, { start: 0, end: 7 }, new RecordingSink()), isForgeryError, `decoder: ${f.name}`)
    for (const kind of KINDS) {
      await assert.rejects(
        openKind<Uint8Array>(kind, dirs, { keySerializer: bytesSerializer, maxParallelism: 8, storage: dirs.storage, restoreFrom: [handle] }),
        isForgeryError,
        `${kind}: ${f.name}`,
      )
    }
  }
})

test('well-formed files of every kind still restore (map user keys and values may be empty)', async () => {
  dirs ??= await testDirs()
  const valid: Forgery[] = [
    { name: 'value', kind: 'value', entries: [[key('a'), v('')], [key('b'), v('2')]], why: /./ },
    { name: 'list', kind: 'list', entries: [[key('a'), list('')], [key('b'), list('x', 'y')]], why: /./ },
    { name: 'map', kind: 'map', entries: [[compositeKey(KG, v('a'), ns, v('')), v('')], [compositeKey(KG, v('a'), ns, v('u')), v('1')]], why: /./ },
    { name: 'timers', kind: 'timers', entries: [[encodeTimer(KG, -5, v('k'), ns).bytes, new Uint8Array(0)], [encodeTimer(KG, 5, v('k'), ns).bytes, new Uint8Array(0)]], why: /./ },
  ]
  let id = 100
  for (const f of valid) {
    const handle = await forge(f, dirs, ++id)
    const sink = new RecordingSink()
    await restoreFullHandles([handle], dirs.storage, { start: 0, end: 7 }, sink)
    assert.equal(sink.flat().length, f.entries.length, f.name)
  }
})
