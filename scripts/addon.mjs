// Builds the native addon: finds RocksDB, compiles with node-gyp (or copies a
// prebuilt addon compiled from the same sources for the same Node), one build
// at a time per checkout. Shared by scripts/setup.mjs (our own clone) and
// scripts/install-addon.mjs (the npm "install" hook, which also runs in the
// projects that depend on us), so it ships in the package. Node only: it runs
// before node_modules is complete.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const log = (msg) => process.stderr.write(`[keyed-state] ${msg}\n`)

/** Runs a command in the package root; exits with its code when it fails. */
export function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (res.error) throw res.error
  if (res.status !== 0) {
    log(`'${cmd} ${args.join(' ')}' failed with exit code ${res.status}`)
    process.exit(res.status ?? 1)
  }
}

export function has(cmd, args) {
  const res = spawnSync(cmd, args, { stdio: 'ignore' })
  return !res.error && res.status === 0
}

export function rocksdbInstalled() {
  return has('pkg-config', ['--exists', 'rocksdb']) || existsSync('/usr/include/rocksdb/db.h')
}

/** libdeflate (Debian libdeflate-dev): optional, the addon's CRC-32 is four times faster with it. */
export function libdeflateInstalled() {
  return has('pkg-config', ['--exists', 'libdeflate'])
}

/** The Debian packages the addon builds with; libdeflate-dev is optional (faster checksums). */
export const ADDON_PACKAGES = ['librocksdb-dev', 'libdeflate-dev', 'pkg-config', 'g++', 'make']

export function isRootOnDebian() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  return isRoot && existsSync('/etc/debian_version') && has('apt-get', ['--version'])
}

/** Installs Debian packages; only for callers that were asked to (our own set-up, or the opt-in variable). */
export function aptInstall(packages) {
  log(`installing ${packages.join(', ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  run('apt-get', ['update', '-qq'], { env })
  run('apt-get', ['install', '-y', '-qq', ...packages], { env })
}

export const ROCKSDB_MISSING = `
keyed-state needs the RocksDB C++ library and headers to build its native addon.
Install them, then run the install again (in a project that depends on keyed-state:
\`npm rebuild keyed-state\`):
  Debian/Ubuntu:  sudo apt-get install librocksdb-dev libdeflate-dev pkg-config g++ make
  Fedora:         sudo dnf install rocksdb-devel libdeflate-devel pkgconf-pkg-config gcc-c++ make
  macOS:          brew install rocksdb libdeflate pkg-config
(libdeflate is optional: with it the snapshot checksums take a quarter of the CPU.)
On Debian/Ubuntu as root, KEYED_STATE_INSTALL_ROCKSDB=1 lets the install run apt-get for you.
`

/** Hash of the addon's sources and the Node version: a build is reusable only for the same pair. */
export function addonSourcesHash() {
  const h = createHash('sha256')
  const visit = (p) => {
    const full = join(root, p)
    if (!existsSync(full)) return
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) visit(join(p, name))
    } else {
      h.update(p).update('\0').update(readFileSync(full)).update('\0')
    }
  }
  ;['binding.gyp', 'native'].forEach(visit)
  h.update(process.version)
  // The build links libdeflate when the system has it (binding.gyp): a build without it is not the same addon.
  h.update(libdeflateInstalled() ? '\0libdeflate' : '\0zlib')
  return h.digest('hex')
}

// Several set-ups may run in one checkout at once (parallel test runs), and
// node-gyp rebuilds build/ in place: they take turns, and a later one finds the
// addon already built. The lock is a directory holding its owner's pid.
const buildLock = join(tmpdir(), `keyed-state-addon-${createHash('sha256').update(root).digest('hex').slice(0, 16)}.lock`)
const buildLockWaitMs = 15 * 60_000
const buildLockOrphanMs = 60_000

function lockOwner() {
  try {
    return Number(readFileSync(join(buildLock, 'pid'), 'utf8'))
  } catch {
    return 0
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

function releaseBuildLock() {
  if (lockOwner() === process.pid) rmSync(buildLock, { recursive: true, force: true })
}

function acquireBuildLock() {
  const deadline = Date.now() + buildLockWaitMs
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  let announced = false
  for (;;) {
    try {
      mkdirSync(buildLock)
      writeFileSync(join(buildLock, 'pid'), String(process.pid))
      process.on('exit', releaseBuildLock)
      return
    } catch (e) {
      if (e.code !== 'EEXIST') throw e
    }
    const owner = lockOwner()
    let orphaned = owner > 0 && !isAlive(owner)
    if (owner === 0) {
      try {
        orphaned = Date.now() - statSync(buildLock).mtimeMs > buildLockOrphanMs
      } catch {
        continue // released meanwhile
      }
    }
    if (orphaned) {
      rmSync(buildLock, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) {
      log(`gave up waiting for another build of the addon (lock ${buildLock})`)
      process.exit(1)
    }
    if (!announced) log(`waiting for another build of the addon (pid ${owner})`)
    announced = true
    Atomics.wait(sleeper, 0, 0, 200)
  }
}

const ADDON = 'keyed_state_native.node'
const BENCH_ADDON = 'keyed_state_bench.node'
const STAMP = '.sources-sha256'
// The stamp is the sources' hash, plus ' +bench' when the bench-only addon
// (binding.gyp keyed_state_bench, `npm run bench`) was built with it; a build
// with the bench addon also serves every other use.
const BENCH_MARK = ' +bench'

/**
 * Copies a prebuilt addon (KEYED_STATE_PREBUILT_ADDON: a build/Release directory
 * holding keyed_state_native.node and its stamp) when it was compiled from these
 * sources for this Node; returns whether it did. A directory built from other
 * sources is ignored with a note, and the addon is compiled as usual.
 */
function copyPrebuilt(dir, want, releaseDir) {
  const stampFile = join(dir, STAMP)
  if (!existsSync(join(dir, ADDON)) || !existsSync(stampFile)) {
    log(`KEYED_STATE_PREBUILT_ADDON=${dir} holds no ${ADDON} with its ${STAMP}: compiling`)
    return false
  }
  if (readFileSync(stampFile, 'utf8').replace(BENCH_MARK, '') !== want) {
    log(`KEYED_STATE_PREBUILT_ADDON=${dir} was built from other sources or another Node: compiling`)
    return false
  }
  mkdirSync(releaseDir, { recursive: true })
  copyFileSync(join(dir, ADDON), join(releaseDir, ADDON))
  writeFileSync(join(releaseDir, STAMP), want)
  log(`using the prebuilt addon from ${dir}`)
  return true
}

/** node-gyp: ours (a dev dependency), else the one npm runs install scripts with, else npm's. */
function nodeGypCommand() {
  const local = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  if (existsSync(local)) return [process.execPath, [local]]
  const npmGyp = process.env.npm_config_node_gyp
  if (npmGyp !== undefined && npmGyp !== '' && existsSync(npmGyp)) return [process.execPath, [npmGyp]]
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  if (existsSync(bundled)) return [process.execPath, [bundled]]
  return ['npm', ['exec', '--yes', '--', 'node-gyp']]
}

/** Builds build/Release/keyed_state_native.node unless it is up to date with the sources (and Node). */
export function ensureAddon({ forBench = false } = {}) {
  if (!existsSync(join(root, 'binding.gyp'))) return
  const releaseDir = join(root, 'build', 'Release')
  const stampFile = join(releaseDir, STAMP)
  const want = addonSourcesHash()
  const upToDate = () => {
    if (!existsSync(stampFile)) return false
    const stamp = readFileSync(stampFile, 'utf8')
    if (stamp.replace(BENCH_MARK, '') !== want) return false
    if (!existsSync(join(releaseDir, ADDON))) return false
    return !forBench || (stamp.endsWith(BENCH_MARK) && existsSync(join(releaseDir, BENCH_ADDON)))
  }
  if (upToDate()) return
  acquireBuildLock()
  if (upToDate()) {
    releaseBuildLock()
    return
  }
  const prebuilt = process.env.KEYED_STATE_PREBUILT_ADDON
  if (!forBench && prebuilt !== undefined && prebuilt !== '' && copyPrebuilt(prebuilt, want, releaseDir)) {
    releaseBuildLock()
    return
  }
  log(forBench ? 'building the native addon and its bench-only twin' : 'building the native addon')
  const args = ['rebuild', '-j', 'max']
  if (forBench) args.push('--ks_bench=yes')
  // node-gyp downloads the Node headers unless told where they are; Debian and
  // NodeSource packages install them next to the binary (offline builds work).
  const nodePrefix = join(dirname(process.execPath), '..')
  if (existsSync(join(nodePrefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodePrefix}`)
  const [cmd, pre] = nodeGypCommand()
  run(cmd, [...pre, ...args])
  mkdirSync(releaseDir, { recursive: true })
  writeFileSync(stampFile, forBench ? want + BENCH_MARK : want)
  releaseBuildLock()
}
