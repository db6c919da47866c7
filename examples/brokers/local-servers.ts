// Local broker servers for the examples and the tests: nats-server (with
// JetStream) and redis-server from Debian's packages, started on 127.0.0.1 at
// an ephemeral port with their data in a temporary directory, stopped by pid.
// When a binary is missing and this is Debian as root, it is installed with
// apt-get (the examples promise one command); elsewhere the error says how.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface LocalServer {
  url: string
  pid: number
  stop(): Promise<void>
}

const START_TIMEOUT_MS = 20_000

function onPath(binary: string): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0
}

/** Installs the Debian package `pkg` providing `binary` when it is missing (root on Debian only). */
export function ensureInstalled(binary: string, pkg: string): void {
  if (onPath(binary)) return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (isRoot && existsSync('/etc/debian_version')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    process.stderr.write(`installing ${pkg} with apt-get\n`)
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    const r = spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env })
    if (r.status === 0 && onPath(binary)) return
  }
  throw new Error(`${binary} is not installed. Install it (Debian/Ubuntu: sudo apt-get install ${pkg}; macOS: brew install ${pkg}) or pass the URL of a running server.`)
}

export function isInstalled(binary: string): boolean {
  return onPath(binary)
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** Starts `binary` and waits for a line of its output matching `ready`; returns the match. */
async function startProcess(binary: string, args: string[], ready: RegExp, dir: string): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
  let output = ''
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${binary} did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS)
    const look = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const m = output.match(ready)
      if (m) {
        clearTimeout(timer)
        resolve(m)
      }
    }
    child.stdout!.on('data', look)
    child.stderr!.on('data', look)
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${binary} exited (${signal ?? `code ${code}`}) while starting:\n${output}`))
    })
  }).catch(async (e: unknown) => {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw e
  })
  // Keep reading, so a chatty server never blocks on a full pipe.
  child.stdout!.resume()
  child.stderr!.resume()
  return { child, match }
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
}

/** nats-server with JetStream on 127.0.0.1 at a port of its choosing. */
export async function startNatsServer(): Promise<LocalServer> {
  ensureInstalled('nats-server', 'nats-server')
  const dir = await mkdtemp(join(tmpdir(), 'keyed-state-nats-'))
  const { child, match } = await startProcess('nats-server', ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir], /Listening for client connections on 127\.0\.0\.1:(\d+)/, dir)
  return { url: `nats://127.0.0.1:${match[1]}`, pid: child.pid!, stop: stopper(child, dir) }
}

/** redis-server on 127.0.0.1 at a free port, without persistence (its data lives as long as the process). */
export async function startRedisServer(): Promise<LocalServer> {
  ensureInstalled('redis-server', 'redis-server')
  for (let attempt = 0; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'keyed-state-redis-'))
    const port = await freePort()
    try {
      const { child } = await startProcess(
        'redis-server',
        ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
        /Ready to accept connections/,
        dir,
      )
      return { url: `redis://127.0.0.1:${port}`, pid: child.pid!, stop: stopper(child, dir) }
    } catch (e) {
      // Another process may have taken the port between the check and the start.
      if (attempt >= 3) throw e
    }
  }
}
