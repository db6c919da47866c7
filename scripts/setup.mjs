#!/usr/bin/env node
// One entry point that makes a clone runnable: RocksDB from the system, npm
// dependencies, the native addon (rebuilt only when its sources change) and the
// TypeScript build; with --test also what the tests need from the system (the
// chromium the checkpoint page's browser test drives). It uses nothing but Node
// itself, because it runs before node_modules exists. Unlike the package's npm
// "install" hook (scripts/install-addon.mjs), it installs system packages with
// apt-get (as root on Debian): it runs in our own clone only.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { root, log, run, has, rocksdbInstalled, libdeflateInstalled, isRootOnDebian, aptInstall, ensureAddon, ADDON_PACKAGES, ROCKSDB_MISSING } from './addon.mjs'

const forBench = process.argv.includes('--bench')
const forTests = process.argv.includes('--test')
/** The broker servers (NATS, Redis) the runtime's tests and examples start: for --test and --brokers. */
const forBrokers = forTests || process.argv.includes('--brokers')

/** Chromium binary the browser tests drive (Debian's package). */
const CHROMIUM = '/usr/bin/chromium'

function ensureSystemPackages() {
  const wanted = []
  if (!rocksdbInstalled() || !has('pkg-config', ['--version'])) wanted.push(...ADDON_PACKAGES)
  // Optional (the addon falls back to zlib's CRC-32), so only installed where apt-get may run.
  else if (!libdeflateInstalled()) wanted.push('libdeflate-dev')
  // ldb (rocksdb-tools) is only used by a few tests; they skip without it.
  if (!has('ldb', ['--version']) && !existsSync('/usr/bin/ldb')) wanted.push('rocksdb-tools')
  if (forTests && !existsSync(CHROMIUM)) wanted.push('chromium')
  // The broker servers the runtime's source tests start (NATS JetStream, Redis Streams) on 127.0.0.1
  // themselves; without them those tests skip and say how to install them.
  if (forBrokers && !has('nats-server', ['--version'])) wanted.push('nats-server')
  if (forBrokers && !has('redis-server', ['--version'])) wanted.push('redis-server')
  if (wanted.length === 0) return
  if (isRootOnDebian()) {
    aptInstall(wanted)
    return
  }
  if (rocksdbInstalled()) {
    if (wanted.includes('libdeflate-dev')) log('libdeflate is not installed: the addon computes CRC-32 with zlib (slower; Debian/Ubuntu: sudo apt-get install libdeflate-dev)')
    if (wanted.includes('chromium')) log(`${CHROMIUM} is missing: the browser test of the checkpoint page will skip`)
    const brokers = wanted.filter((p) => p === 'nats-server' || p === 'redis-server')
    if (brokers.length > 0) log(`${brokers.join(' and ')} not installed: the broker tests will skip (Debian/Ubuntu: sudo apt-get install ${brokers.join(' ')})`)
    return
  }
  process.stderr.write(ROCKSDB_MISSING)
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

ensureSystemPackages()
ensureNodeModules()
if (forBench) ensureBenchDependencies()
ensureAddon({ forBench })
ensureTypeScriptBuild()
