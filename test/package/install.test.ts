// The package as a user gets it: `npm pack` ships only what a consumer needs,
// and installing the tarball into a scratch project builds (or, in the default
// run, reuses through KEYED_STATE_PREBUILT_ADDON) the addon, type-checks a
// TypeScript job against the installed types and runs it. Installs are
// `npm ci --offline` with a lockfile made from ours: npm takes our dependencies
// from its cache (filled when this clone installed them) and talks to no registry. The consumer compile from
// nothing costs 1-2 minutes on 2 cores, so it runs under CI=true or SOAK=1.
import assert from 'node:assert/strict'
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const fullCompile = process.env.CI === 'true' || process.env.SOAK === '1'
const work = mkdtempSync(join(tmpdir(), 'ks-package-'))
let tarball = ''
let packedFiles: string[] = []

/** The environment without npm's lifecycle variables (this test may run under `npm test`) and our set-up's marker. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.toLowerCase().startsWith('npm_') || k.startsWith('KEYED_STATE_')) continue
    env[k] = v
  }
  return { ...env, ...extra }
}

function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts })
  if (res.error) throw res.error
  return { status: res.status, stdout: String(res.stdout), stderr: String(res.stderr) }
}

function mustRun(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { stdout: string; stderr: string } {
  const res = sh(cmd, args, opts)
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')} failed:\n${res.stdout}\n${res.stderr}`)
  return res
}

/**
 * The lockfile a project depending on the tarball would have, built from our
 * own package-lock.json (the non-dev entries: our dependencies, resolved as
 * here). With it `npm ci --offline` takes every package from npm's cache by
 * integrity, as our own install left it there, and asks no registry.
 */
function scratchLockfile(name: string, tarballName: string, integrity: string): object {
  const ours = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean; version: string; resolved?: string }> }
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>
  const packages: Record<string, unknown> = {
    '': { name, version: '1.0.0', dependencies: { 'keyed-state': `file:${tarballName}` } },
    'node_modules/keyed-state': {
      version: manifest.version, resolved: `file:${tarballName}`, integrity, hasInstallScript: true, license: manifest.license,
      dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines,
    },
  }
  // Our lockfile leaves out the registry addresses; npm needs them to fetch by integrity without packuments.
  const registry = mustRun('npm', ['config', 'get', 'registry'], { env: cleanEnv() }).stdout.trim().replace(/\/$/, '')
  for (const [path, entry] of Object.entries(ours.packages)) {
    if (path === '' || entry.dev === true || entry.devOptional === true) continue
    const pkg = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    const resolved = entry.resolved ?? `${registry}/${pkg}/-/${pkg.split('/').pop()!}-${entry.version}.tgz`
    packages[path] = { ...entry, resolved }
  }
  return { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages }
}

/** A scratch project with keyed-state installed from the tarball (`npm ci --offline` over scratchLockfile). */
function scratchProject(name: string, installArgs: string[], env: Record<string, string>): { dir: string; log: string } {
  const dir = join(work, name)
  mkdirSync(dir)
  const tarballName = basename(tarball)
  copyFileSync(tarball, join(dir, tarballName))
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`
  const projectName = `scratch-${name}`
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: projectName, version: '1.0.0', private: true, type: 'module', dependencies: { 'keyed-state': `file:${tarballName}` },
  }))
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(scratchLockfile(projectName, tarballName, integrity)))
  const res = mustRun('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', ...installArgs], {
    cwd: dir,
    env: cleanEnv(env),
  })
  return { dir, log: res.stdout + res.stderr }
}

/** Type-checks and compiles the consumer job in `dir` against the installed types, runs it, and checks its counts. */
function typeCheckAndRunJob(dir: string): void {
  copyFileSync(join(root, 'test', 'package', 'consumer', 'job.ts.txt'), join(dir, 'job.ts'))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out',
      // Our @types/node (a scratch project would install its own); the package's own .d.ts are checked too.
      types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], skipLibCheck: false,
    },
    files: ['job.ts'],
  }))
  mustRun(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir })
  const out = mustRun(process.execPath, [join(dir, 'out', 'job.js')], { cwd: dir, env: cleanEnv() }).stdout
  const report = JSON.parse(out) as { checkpointId: number; counts: Record<string, string>; expected: Record<string, string> }
  assert.deepEqual(report.counts, report.expected)
  assert.equal(Object.values(report.counts).reduce((a, c) => a + Number(c), 0), 1000)
}

describe('the package as a dependency', () => {
  before(() => {
    const res = mustRun('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, env: cleanEnv() })
    const packed = (JSON.parse(res.stdout) as { filename: string; files: { path: string }[] }[])[0]!
    tarball = join(work, packed.filename)
    packedFiles = packed.files.map((f) => f.path).sort()
  })
  after(() => rmSync(work, { recursive: true, force: true }))

  it('ships compiled code, the addon sources, binding.gyp, README and LICENSE, and nothing else', () => {
    const allowed = (p: string): boolean =>
      (p.startsWith('dist/src/') && (p.endsWith('.js') || p.endsWith('.d.ts'))) ||
      p.startsWith('native/') ||
      ['binding.gyp', 'package.json', 'README.md', 'LICENSE', 'scripts/addon.mjs', 'scripts/install-addon.mjs'].includes(p)
    assert.deepEqual(packedFiles.filter((p) => !allowed(p)), [])
    for (const p of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'binding.gyp', 'native/addon.cc', 'LICENSE', 'README.md']) {
      assert.ok(packedFiles.includes(p), `${p} is in the package`)
    }
    // The published tree is dist/src only: no tests, benchmarks, bench data or examples.
    assert.deepEqual(packedFiles.filter((p) => /^(dist\/)?(test|bench|examples)\/|\.bench-data|\.map$/.test(p)), [])
  })

  it('installs into a project (reusing a prebuilt addon of the same sources), type-checks and runs a keyed job', () => {
    const { dir, log } = scratchProject('prebuilt', [], { KEYED_STATE_PREBUILT_ADDON: join(root, 'build', 'Release') })
    assert.match(log, /using the prebuilt addon/)
    assert.ok(existsSync(join(dir, 'node_modules', 'keyed-state', 'build', 'Release', 'keyed_state_native.node')))
    typeCheckAndRunJob(dir)
    const help = mustRun(join(dir, 'node_modules', '.bin', 'keyed-state'), ['--help'], { cwd: dir, env: cleanEnv() })
    assert.match(help.stdout, /inspect/)

    // Without RocksDB the install hook names the packages to install and never runs apt-get unless asked.
    const bin = join(work, 'fake-bin')
    mkdirSync(bin)
    const aptLog = join(work, 'apt-get.log')
    writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\necho "$@" >> ${aptLog}\n`)
    chmodSync(join(bin, 'apt-get'), 0o755)
    const hook = join(dir, 'node_modules', 'keyed-state', 'scripts', 'install-addon.mjs')
    const env = cleanEnv({ KEYED_STATE_ASSUME_NO_ROCKSDB: '1', PATH: `${bin}:${process.env.PATH ?? ''}` })
    const missing = sh(process.execPath, [hook], { cwd: dirname(dirname(hook)), env })
    assert.equal(missing.status, 1)
    for (const pkg of ['apt-get install librocksdb-dev', 'dnf install rocksdb-devel', 'brew install rocksdb', 'npm rebuild keyed-state']) {
      assert.ok(missing.stderr.includes(pkg), `the message names '${pkg}':\n${missing.stderr}`)
    }
    assert.equal(existsSync(aptLog), false, 'apt-get did not run')
    const isRootOnDebian = process.getuid?.() === 0 && existsSync('/etc/debian_version')
    if (isRootOnDebian) {
      const optIn = sh(process.execPath, [hook], { cwd: dirname(dirname(hook)), env: { ...env, KEYED_STATE_INSTALL_ROCKSDB: '1' } })
      assert.equal(optIn.status, 0, optIn.stderr)
      assert.match(readFileSync(aptLog, 'utf8'), /install -y -qq librocksdb-dev/)
    }
  })

  it('installed with --ignore-scripts, says what to run in the project', () => {
    const { dir } = scratchProject('ignore-scripts', ['--ignore-scripts'], {})
    writeFileSync(join(dir, 'open.mjs'), `
import { openKeyedStateBackend, stringSerializer } from 'keyed-state'
try {
  await openKeyedStateBackend({ kind: 'rocksdb', dir: process.argv[2], keySerializer: stringSerializer })
  console.log('opened')
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }))
}
`)
    const out = mustRun(process.execPath, [join(dir, 'open.mjs'), join(dir, 'db')], { cwd: dir, env: cleanEnv() }).stdout
    const err = JSON.parse(out) as { code: string; message: string }
    assert.equal(err.code, 'NATIVE_UNAVAILABLE')
    assert.match(err.message, /run `npm rebuild keyed-state`/)
  })

  it('compiles the addon in a consumer install when nothing is prebuilt (CI=true or SOAK=1)', { skip: fullCompile ? false : 'the compile takes 1-2 minutes: CI=true or SOAK=1 runs it' }, () => {
    const { dir, log } = scratchProject('compile', [], {})
    assert.match(log, /building the native addon/)
    assert.doesNotMatch(log, /using the prebuilt addon/)
    typeCheckAndRunJob(dir)
  })
})
