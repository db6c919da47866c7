// Local recovery copies are verified as strictly as stored files: a damaged
// local file (bit flips, truncation) is never restored; the restore takes that
// file (or the rest of the handle) from checkpoint storage and reports which
// local file was bad. A property test damages local copies at random for
// every kind of local copy (RocksDB incremental and full, heap full).
import assert from 'node:assert/strict'
import { cp, mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import type { KeyedStateBackend, LocalRecoveryFallback } from '../../src/state-backend/types.js'
import type { IncrementalRestoreStats } from '../../src/backends/rocksdb/incremental-restore.js'
import type { RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { FullSnapshotHandle, KeyedStateHandle, LocalStateHandle, RestoreHooks } from '../../src/snapshot/types.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import { runs } from '../format/helpers.js'
import { openKind, testDirs, type Dirs } from './helpers.js'

const value = new ValueStateDescriptor('v', stringSerializer)
const list = new ListStateDescriptor('l', int32Serializer)
const map = new MapStateDescriptor('m', stringSerializer, int32Serializer)
const KEYS = 400

function fill(b: KeyedStateBackend<string>, from: number, to: number, generation: number): void {
  for (let i = from; i < to; i++) {
    b.setCurrentKey(`key-${i}`)
    b.getState(value).update(`g${generation}-${i}-`.padEnd(40, 'x'))
    b.getListState(list).add(i * 10 + generation)
    b.getMapState(map).put(`g${generation}`, i)
  }
}

/** The model: keys below `changed` were written again in generation 2 (the checkpoints below do so). */
function check(b: KeyedStateBackend<string>, changed: number): void {
  const v = b.getState(value)
  const l = b.getListState(list)
  const m = b.getMapState(map)
  assert.equal([...b.keys('v')].length, KEYS, 'every key is restored')
  for (let i = 0; i < KEYS; i++) {
    b.setCurrentKey(`key-${i}`)
    const gens = i < changed ? [1, 2] : [1]
    assert.equal(v.value(), `g${gens.at(-1)}-${i}-`.padEnd(40, 'x'), `value of key-${i}`)
    assert.deepEqual(l.get(), gens.map((g) => i * 10 + g), `list of key-${i}`)
    assert.deepEqual(new Map(m.entries()), new Map(gens.map((g) => [`g${g}`, i])), `map of key-${i}`)
  }
}

type Mode = 'rocksdb-incremental' | 'rocksdb-full' | 'heap-full'
const MODES: Mode[] = ['rocksdb-incremental', 'rocksdb-full', 'heap-full']
const CHANGED = 60

interface Checkpointed {
  handle: KeyedStateHandle
  local: LocalStateHandle
}

/** Two checkpoints (the second one incremental on top of the first in incremental mode); returns the second. */
async function checkpointed(mode: Mode, t: Dirs): Promise<Checkpointed> {
  const kind = mode === 'heap-full' ? 'heap' : 'rocksdb'
  const b = await openKind<string>(kind, t, {
    keySerializer: stringSerializer,
    localRecoveryDir: t.dir(`local-${mode}`),
    ...(kind === 'rocksdb' ? { checkpointMode: mode === 'rocksdb-incremental' ? 'incremental' : 'full' } : {}),
  } as never)
  fill(b, 0, KEYS, 1)
  await b.snapshot(1, { type: 'checkpoint', storage: t.storage }).done
  b.notifyCheckpointComplete(1)
  fill(b, 0, CHANGED, 2)
  const r = await b.snapshot(2, { type: 'checkpoint', storage: t.storage }).done
  await b.close()
  assert.ok(r.handle && r.localHandle)
  return { handle: r.handle, local: r.localHandle }
}

/** A private copy of a local handle's files (so each damage starts from intact files); returns the handle and its files. */
async function copyLocal(local: LocalStateHandle, into: string): Promise<{ local: LocalStateHandle; files: string[] }> {
  if (local.type === 'local-incremental') {
    await cp(local.directory, into, { recursive: true })
    return { local: { ...local, directory: into }, files: (await readdir(into)).map((n) => join(into, n)).sort() }
  }
  const rel = (local.handle as FullSnapshotHandle).file.path
  await mkdir(dirname(join(into, rel)), { recursive: true })
  await cp(join(local.directory, rel), join(into, rel))
  return { local: { ...local, directory: into }, files: [join(into, rel)] }
}

async function restore(
  mode: Mode,
  t: Dirs,
  c: Checkpointed,
  local: LocalStateHandle,
  restoreHooks?: RestoreHooks,
): Promise<{ b: KeyedStateBackend<string>; fallbacks: LocalRecoveryFallback[] }> {
  const fallbacks: LocalRecoveryFallback[] = []
  const b = await openKind<string>(mode === 'heap-full' ? 'heap' : 'rocksdb', t, {
    keySerializer: stringSerializer,
    storage: t.storage,
    restoreFrom: [c.handle],
    localRestoreFrom: [local],
    onLocalFallback: (f: LocalRecoveryFallback) => fallbacks.push(f),
    ...(mode === 'rocksdb-incremental' ? { checkpointMode: 'incremental' } : {}),
    ...(restoreHooks ? { restoreHooks } : {}),
  } as never)
  return { b, fallbacks }
}

let t: Dirs
const made = new Map<Mode, Checkpointed>()
let copies = 0

before(async () => {
  t = await testDirs('ks-local-damage-')
  for (const mode of MODES) made.set(mode, await checkpointed(mode, t))
})
after(() => t.remove())

test('a damaged byte in the local MANIFEST of an incremental checkpoint falls back to storage and is reported', async () => {
  const c = made.get('rocksdb-incremental')!
  const manifestName = Object.keys((c.handle as { privateFiles: Record<string, unknown> }).privateFiles).find((n) => n.startsWith('MANIFEST-'))!
  const size = (await readFile(join(c.local.directory, manifestName))).length
  // Offsets across the whole file: damage that RocksDB notices and damage it does not (a file number, a key range).
  for (let k = 0; k < 12; k++) {
    const at = Math.floor(((k + 0.5) / 12) * size)
    const { local } = await copyLocal(c.local, t.dir(`copy-${++copies}`))
    const file = join(local.directory, manifestName)
    const bytes = await readFile(file)
    bytes[at]! ^= 0x10
    await writeFile(file, bytes)
    const { b, fallbacks } = await restore('rocksdb-incremental', t, c, local)
    try {
      check(b, CHANGED)
    } finally {
      await b.close()
    }
    assert.ok(fallbacks.some((f) => f.file === file), `byte ${at} of ${size}: the bad local file is reported (${JSON.stringify(fallbacks)})`)
  }
})

test('random damage to local copies never restores wrong state: the restore equals the model and reports the bad file', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...MODES),
      fc.nat(),
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), where: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), mask: fc.integer({ min: 1, max: 255 }) }),
        fc.record({ kind: fc.constant('truncate' as const), where: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }),
      ),
      async (mode, pick, damage) => {
        const c = made.get(mode)!
        const { local, files } = await copyLocal(c.local, t.dir(`copy-${++copies}`))
        const file = files[pick % files.length]!
        const bytes = await readFile(file)
        if (bytes.length === 0) return
        const at = Math.floor(damage.where * bytes.length)
        if (damage.kind === 'flip') {
          bytes[at]! ^= damage.mask
          await writeFile(file, bytes)
        } else {
          await truncate(file, at)
        }
        const { b, fallbacks } = await restore(mode, t, c, local)
        try {
          check(b, CHANGED)
        } finally {
          await b.close()
        }
        // The whole range is restored, so every local byte is read or checked: the damage is always found.
        assert.ok(fallbacks.some((f) => f.file === file), `${mode}: ${damage.kind} at ${at} of ${file} is reported (${JSON.stringify(fallbacks)})`)
      },
    ),
    { numRuns: runs(24) },
  )
})

test('an intact local copy is used without fallback', async () => {
  for (const mode of MODES) {
    const c = made.get(mode)!
    const { b, fallbacks } = await restore(mode, t, c, c.local)
    try {
      check(b, CHANGED)
    } finally {
      await b.close()
    }
    assert.deepEqual(fallbacks, [], mode)
  }
})

test('a local copy RocksDB refuses to open (damage the checks missed) is replaced from storage and reported', async () => {
  const c = made.get('rocksdb-incremental')!
  const { local } = await copyLocal(c.local, t.dir(`copy-${++copies}`))
  // Stands in for damage no size or CRC check sees: CURRENT is damaged after it was verified and placed.
  const afterPlaced: RestoreHooks['afterPlaced'] = async (dir, copy) => {
    if (copy) await writeFile(join(dir, 'CURRENT'), 'MANIFEST-999999\n')
  }
  const { b, fallbacks } = await restore('rocksdb-incremental', t, c, local, { afterPlaced })
  let restored: IncrementalRestoreStats | undefined
  try {
    check(b, CHANGED)
    restored = (b as RocksDBKeyedStateBackend<string>).incrementalRestoreStats
  } finally {
    await b.close()
  }
  assert.equal(fallbacks.length, 1, JSON.stringify(fallbacks))
  assert.equal(fallbacks[0]!.file, local.directory)
  assert.ok(restored && restored.localFiles === 0 && restored.downloadedFiles > 0, `everything came from storage: ${JSON.stringify(restored)}`)
  assert.match(fallbacks[0]!.reason, /RocksDB refused the local copy/)
})
