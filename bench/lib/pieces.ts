// The library lands piece by piece (addon, backends, snapshots, storage, TTL,
// timers). A measure whose piece is missing reports 'n/a (not built yet)'; a
// piece that is there but fails reports the error, and the run goes on.
import { isKeyedStateError } from '../../src/errors.js'
import type { NativeBenchBinding, NativeBinding } from '../../src/backends/rocksdb/native/types.js'
import { loadBenchNative, loadNative } from '../../src/backends/rocksdb/native/binding.js'
import type { CheckpointStorage } from '../../src/storage/types.js'

export const NOT_BUILT = 'n/a (not built yet)'

/** A measure that could not run, with the reason shown in its table cell. */
export class Unavailable {
  constructor(readonly reason: string) {}
}

export function isUnavailable(v: unknown): v is Unavailable {
  return v instanceof Unavailable
}

function isNotBuilt(e: unknown): boolean {
  if (isKeyedStateError(e, 'NOT_SUPPORTED') || isKeyedStateError(e, 'NATIVE_UNAVAILABLE')) return true
  const code = (e as { code?: unknown } | null)?.code
  return code === 'ERR_MODULE_NOT_FOUND' || /not built yet/.test(String((e as Error)?.message))
}

export function describeFailure(e: unknown): string {
  if (isNotBuilt(e)) return NOT_BUILT
  const code = (e as { code?: unknown } | null)?.code
  const msg = e instanceof Error ? e.message : String(e)
  return `error: ${typeof code === 'string' ? `${code} ` : ''}${msg.split('\n')[0]!.slice(0, 160)}`
}

/** Runs a measure; a failure becomes an Unavailable with its reason instead of ending the run. */
export async function attempt<T>(fn: () => Promise<T> | T, onError?: (e: unknown) => void): Promise<T | Unavailable> {
  try {
    return await fn()
  } catch (e) {
    if (e instanceof Unavailable) return e
    if (!isNotBuilt(e)) onError?.(e)
    return new Unavailable(describeFailure(e))
  }
}

let nativeCache: NativeBinding | Unavailable | undefined

export function nativeBinding(): NativeBinding | Unavailable {
  if (nativeCache === undefined) {
    try {
      nativeCache = loadNative()
    } catch (e) {
      nativeCache = new Unavailable(describeFailure(e))
    }
  }
  return nativeCache
}

let benchNativeCache: NativeBenchBinding | Unavailable | undefined

/** The bench-only addon (binding.gyp keyed_state_bench: the binding plus benchRawLoop), built by `npm run bench`. */
export function benchNativeBinding(): NativeBenchBinding | Unavailable {
  if (benchNativeCache === undefined) {
    try {
      benchNativeCache = loadBenchNative()
    } catch (e) {
      benchNativeCache = new Unavailable(describeFailure(e))
    }
  }
  return benchNativeCache
}

export type StorageFactory = (rootDir: string) => CheckpointStorage

let storageCache: StorageFactory | Unavailable | undefined

/** FileSystemCheckpointStorage, imported at run time so the bench builds before it exists. */
export async function fsStorageFactory(): Promise<StorageFactory | Unavailable> {
  if (storageCache === undefined) {
    const url = new URL('../../src/storage/fs.js', import.meta.url).href
    storageCache = await attempt(async () => {
      const mod = (await import(url)) as { FileSystemCheckpointStorage?: new (root: string) => CheckpointStorage }
      const Ctor = mod.FileSystemCheckpointStorage
      if (typeof Ctor !== 'function') throw new Unavailable(NOT_BUILT)
      return (root: string) => new Ctor(root)
    })
  }
  return storageCache
}

/** Imports an optional module of the library by its path under src/, or Unavailable. */
export async function optionalModule<T>(srcRelativePath: string): Promise<T | Unavailable> {
  const url = new URL(`../../src/${srcRelativePath}`, import.meta.url).href
  return attempt(async () => (await import(url)) as T)
}
