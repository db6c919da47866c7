// Loads the addon (build/Release/keyed_state_native.node) once per thread and
// makes its errors NativeError. The addon builds those errors itself, through
// the factory registered here, so hot calls (get/put/merge) go straight from JS
// to C++ with no wrapper closure in between.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ErrorCode, KeyedStateError, NativeError } from '../../../errors.js'
import type { NativeBenchBinding, NativeBinding, NativeErrorCode } from './types.js'

const PACKAGE_NAME = 'keyed-state'
const ADDON_RELATIVE_PATH = join('build', 'Release', 'keyed_state_native.node')
/** The bench-only twin (binding.gyp keyed_state_bench), built by `npm run bench`, never loaded by the library. */
const BENCH_ADDON_RELATIVE_PATH = join('build', 'Release', 'keyed_state_bench.node')

/** What the .node file exports besides the public NativeBinding. */
interface AddonModule extends NativeBinding {
  setErrorFactory(factory: ((code: NativeErrorCode, message: string, status?: string) => Error) | null): void
  /** Closes every DB this thread opened; process.exit() skips the addon's environment cleanup hook. */
  closeAll(): void
}

/** RocksDB codes that have no ErrorCode of their own keep theirs in `cause`. */
const ERROR_CODES: Record<NativeErrorCode, ErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  CORRUPTION: 'CORRUPTION',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  IO_ERROR: 'IO_ERROR',
  BUSY: 'BUSY',
  TIMED_OUT: 'BUSY',
  TRY_AGAIN: 'BUSY',
  ABORTED: 'ABORTED',
  INCOMPLETE: 'ABORTED',
  SHUTDOWN_IN_PROGRESS: 'CLOSED',
  DISK_FULL: 'DISK_FULL',
  CLOSED: 'CLOSED',
  INTERNAL: 'INTERNAL',
}

/** The RocksDB status behind a NativeError (its `cause`), with the addon's own code. */
export class RocksDBStatus extends Error {
  readonly code: NativeErrorCode

  constructor(code: NativeErrorCode, status: string) {
    super(status)
    this.name = 'RocksDBStatus'
    this.code = code
  }
}

export function toErrorCode(code: string): ErrorCode {
  return ERROR_CODES[code as NativeErrorCode] ?? 'INTERNAL'
}

/** The factory the addon calls to build every error it throws. */
export function makeNativeError(code: NativeErrorCode, message: string, status?: string): Error {
  const cause = status === undefined ? undefined : new RocksDBStatus(code, status)
  return new NativeError(toErrorCode(code), message, { cause })
}

/** The package root: compiled code runs from dist/src/backends/rocksdb/native/, sources from src/backends/rocksdb/native/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir
      } catch {
        // An unreadable package.json in between is not ours; keep walking up.
      }
    }
    const parent = dirname(dir)
    if (parent === dir) {
      throw new KeyedStateError('NATIVE_UNAVAILABLE', `cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`)
    }
    dir = parent
  }
}

/** Absolute path of the compiled addon (it may not exist yet). */
export function nativeAddonPath(): string {
  return join(packageRoot(), ADDON_RELATIVE_PATH)
}

/**
 * What builds the addon where this copy of the package lives: in a project that
 * depends on keyed-state (installed with --ignore-scripts, or before RocksDB was
 * there) that is `npm rebuild keyed-state`; in a clone, `npm run build`.
 */
function buildCommand(): string {
  return packageRoot().split(sep).includes('node_modules') ? 'npm rebuild keyed-state' : 'npm run build'
}

let loaded: NativeBinding | undefined
let loadedBench: NativeBenchBinding | undefined

export function loadNative(): NativeBinding {
  if (loaded === undefined) loaded = loadAddon(ADDON_RELATIVE_PATH, buildCommand())
  return loaded
}

/** The bench-only addon, with `benchRawLoop`; its databases are its own (do not pass them to loadNative()'s). */
export function loadBenchNative(): NativeBenchBinding {
  if (loadedBench === undefined) loadedBench = loadAddon(BENCH_ADDON_RELATIVE_PATH, 'npm run bench') as NativeBenchBinding
  return loadedBench
}

function loadAddon(relativePath: string, buildCommand: string): NativeBinding {
  const root = packageRoot()
  const file = join(root, relativePath)
  if (!existsSync(file)) {
    throw new KeyedStateError(
      'NATIVE_UNAVAILABLE',
      `the native addon ${file} is not built: run \`${buildCommand}\` (RocksDB must be installed first: apt-get install librocksdb-dev, dnf install rocksdb-devel or brew install rocksdb)`,
      { file },
    )
  }
  let addon: AddonModule
  try {
    addon = createRequire(join(root, 'package.json'))(file) as AddonModule
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    throw new KeyedStateError(
      'NATIVE_UNAVAILABLE',
      `cannot load the native addon ${file}: ${reason}. Run \`${buildCommand}\`; RocksDB must be installed (apt-get install librocksdb-dev)`,
      { file, cause: e },
    )
  }
  addon.setErrorFactory(makeNativeError)
  // Databases still open when the process exits are flushed and closed; with
  // the WAL off this is what keeps their last writes.
  process.on('exit', () => addon.closeAll())
  return addon
}
