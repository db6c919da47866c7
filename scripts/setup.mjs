#!/usr/bin/env node
// One entry point that makes a clone runnable: RocksDB from the system, npm
// dependencies, the native addon (rebuilt only when its sources change) and the
// TypeScript build. It uses nothing but Node itself, because it runs before
// node_modules exists.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const addonOnly = process.argv.includes('--addon-only')
const forBench = process.argv.includes('--bench')
const log = (msg) => process.stderr.write(`[setup] ${msg}\n`)

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (res.error) throw res.error
  if (res.status !== 0) {
    log(`'${cmd} ${args.join(' ')}' failed with exit code ${res.status}`)
    process.exit(res.status ?? 1)
  }
}

function has(cmd, args) {
  const res = spawnSync(cmd, args, { stdio: 'ignore' })
  return !res.error && res.status === 0
}

function rocksdbInstalled() {
  return has('pkg-config', ['--exists', 'rocksdb']) || existsSync('/usr/include/rocksdb/db.h')
}

function ensureRocksDB() {
  const wantTools = !addonOnly && !has('ldb', ['--version']) && !existsSync('/usr/bin/ldb')
  if (rocksdbInstalled() && has('pkg-config', ['--version']) && !wantTools) return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const isDebian = existsSync('/etc/debian_version') && has('apt-get', ['--version'])
  if (isRoot && isDebian) {
    log('installing RocksDB (librocksdb-dev, rocksdb-tools) and pkg-config with apt-get')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    run('apt-get', ['update', '-qq'], { env })
    run('apt-get', ['install', '-y', '-qq', 'librocksdb-dev', 'rocksdb-tools', 'pkg-config', 'g++', 'make'], { env })
    return
  }
  if (rocksdbInstalled()) return // tools are only needed by a few tests; they skip without them
  process.stderr.write(`
keyed-state needs the RocksDB C++ library and headers to build its native addon.
Install them, then run this command again:
  Debian/Ubuntu:  sudo apt-get install librocksdb-dev rocksdb-tools pkg-config g++ make
  Fedora:         sudo dnf install rocksdb-devel pkgconf-pkg-config gcc-c++ make
  macOS:          brew install rocksdb pkg-config
`)
  process.exit(1)
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json')
  const stale = !existsSync(marker) ||
    statSync(join(root, 'package.json')).mtimeMs > statSync(marker).mtimeMs ||
    (existsSync(join(root, 'package-lock.json')) &&
      statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs)
  if (!stale) return
  log('installing npm dependencies')
  const useCi = existsSync(join(root, 'package-lock.json')) && !existsSync(join(root, 'node_modules'))
  // Without install scripts: our addon is built below, and the one dependency
  // that compiles (better-sqlite3, a comparison in the benchmarks) would cost
  // every `npm test` minutes; ensureBenchDependencies builds it for `npm run bench`.
  run('npm', [useCi ? 'ci' : 'install', '--ignore-scripts', '--no-audit', '--no-fund'], {
    env: { ...process.env, KEYED_STATE_SETUP: '1' },
  })
}

/** Dependencies only the benchmarks load that need their install step (a native build). */
function ensureBenchDependencies() {
  const sqlite = join(root, 'node_modules', 'better-sqlite3')
  if (!existsSync(sqlite) || existsSync(join(sqlite, 'build', 'Release', 'better_sqlite3.node'))) return
  log('building better-sqlite3 for the benchmarks (once)')
  run('npm', ['rebuild', 'better-sqlite3', '--no-audit', '--no-fund'])
}

function hashTree(paths) {
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
  paths.forEach(visit)
  h.update(process.version)
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

function ensureAddon() {
  if (!existsSync(join(root, 'binding.gyp'))) return
  const stampFile = join(root, 'build', 'Release', '.sources-sha256')
  const want = hashTree(['binding.gyp', 'native'])
  // The stamp is the sources' hash, plus ' +bench' when the bench-only addon
  // (binding.gyp keyed_state_bench, `npm run bench`) was built with it; a build
  // with the bench addon also serves every other use.
  const BENCH_MARK = ' +bench'
  const upToDate = () => {
    if (!existsSync(stampFile)) return false
    const stamp = readFileSync(stampFile, 'utf8')
    if (stamp.replace(BENCH_MARK, '') !== want) return false
    if (!existsSync(join(root, 'build', 'Release', 'keyed_state_native.node'))) return false
    return !forBench || (stamp.endsWith(BENCH_MARK) && existsSync(join(root, 'build', 'Release', 'keyed_state_bench.node')))
  }
  if (upToDate()) return
  acquireBuildLock()
  if (upToDate()) {
    releaseBuildLock()
    return
  }
  log(forBench ? 'building the native addon and its bench-only twin' : 'building the native addon')
  const localGyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  const args = ['rebuild', '-j', 'max']
  if (forBench) args.push('--ks_bench=yes')
  // node-gyp downloads the Node headers unless told where they are; Debian and
  // NodeSource packages install them next to the binary (offline builds work).
  const nodePrefix = join(dirname(process.execPath), '..')
  if (existsSync(join(nodePrefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodePrefix}`)
  if (existsSync(localGyp)) run(process.execPath, [localGyp, ...args])
  else run('npm', ['exec', '--yes', '--', 'node-gyp', ...args])
  mkdirSync(dirname(stampFile), { recursive: true })
  writeFileSync(stampFile, forBench ? want + BENCH_MARK : want)
  releaseBuildLock()
}

/**
 * Deletes compiled files whose TypeScript source is gone (moved or removed):
 * tsc never deletes outputs, and the test runner would otherwise still run a
 * moved test's old copy, against old copies of the modules it imports.
 */
function pruneStaleOutputs() {
  const dist = join(root, 'dist')
  const visit = (dir) => {
    if (!existsSync(dir)) return
    for (const name of readdirSync(dir)) {
      const full = join(dir, name)
      if (statSync(full).isDirectory()) {
        visit(full)
        if (readdirSync(full).length === 0) rmSync(full, { recursive: true, force: true })
        continue
      }
      const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(name)
      if (m === null) continue
      const source = join(root, relative(dist, dir), `${m[1]}.ts`)
      if (!existsSync(source)) rmSync(full, { force: true })
    }
  }
  visit(dist)
}

function ensureTypeScriptBuild() {
  pruneStaleOutputs()
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  run(process.execPath, [tsc, '-p', 'tsconfig.json'])
}

if (addonOnly) {
  // Runs as the npm "install" hook. Inside our own setup the addon is built below.
  if (process.env.KEYED_STATE_SETUP === '1') process.exit(0)
  ensureRocksDB()
  ensureAddon()
  process.exit(0)
}

ensureRocksDB()
ensureNodeModules()
if (forBench) ensureBenchDependencies()
ensureAddon()
ensureTypeScriptBuild()
