// Starts the tests' S3-compatible server (server-child.ts) in a child process
// on 127.0.0.1 with an ephemeral port and its data in a temporary directory;
// stop() kills it by pid and removes the data.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { S3CheckpointStorage, type S3CheckpointStorageOptions } from '../../src/storage/s3.js'

const CHILD_PATH = fileURLToPath(new URL('./server-child.js', import.meta.url))
const START_TIMEOUT_MS = 30_000

export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export interface S3TestServer {
  endpoint: string
  port: number
  bucket: string
  /** Storage options for this server (any endpoint may be swapped in, e.g. a fault proxy's). */
  options(prefix: string, extra?: Partial<S3CheckpointStorageOptions>): S3CheckpointStorageOptions
  storage(prefix: string, extra?: Partial<S3CheckpointStorageOptions>): S3CheckpointStorage
  /** The environment that points a child process (the CLI, the demo) at this server through the SDK's chain. */
  childEnv(): NodeJS.ProcessEnv
  stop(): Promise<void>
}

export async function startS3Server(bucket = 'checkpoints'): Promise<S3TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-s3rver-'))
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', CHILD_PATH, dir, bucket], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  let stopping = false
  // A server that dies mid-run turns every later request into ECONNREFUSED; say why where the test output shows it.
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`S3 test server exited unexpectedly (${code ?? signal}): ${stderr}\n`)
  })
  const stop = async (): Promise<void> => {
    stopping = true
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  let port: number
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`S3 test server did not start in ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS)
      child.once('exit', (code) => reject(new Error(`S3 test server exited with ${code}: ${stderr}`)))
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer)
        resolve((JSON.parse(line) as { port: number }).port)
      })
    })
  } catch (e) {
    await stop()
    throw e
  }
  const endpoint = `http://127.0.0.1:${port}`
  const options = (prefix: string, extra: Partial<S3CheckpointStorageOptions> = {}): S3CheckpointStorageOptions => ({
    bucket,
    prefix,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    // s3rver predates the SDK's default CRC checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  })
  const childEnv = (): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    KEYED_STATE_S3_PATH_STYLE: '1',
  })
  return { endpoint, port, bucket, options, storage: (prefix, extra) => new S3CheckpointStorage(options(prefix, extra)), childEnv, stop }
}

let nextTempPrefix = 0

/** A fresh prefix on `server` for one test; cleanup deletes what the test left and closes the client. */
export function s3TempStorage(server: S3TestServer, extra?: Partial<S3CheckpointStorageOptions>): { storage: S3CheckpointStorage; cleanup(): Promise<void> } {
  const storage = server.storage(`tmp-${process.pid}-${nextTempPrefix++}`, extra)
  return {
    storage,
    cleanup: async () => {
      await storage.deleteMany((await storage.list('')).map((e) => e.path))
      for (const u of await storage.listIncompleteUploads()) await storage.abortIncompleteUpload(u)
      storage.close()
    },
  }
}

/**
 * The storages an end-to-end test runs on: the file system, and S3 on a server
 * started on first use and stopped when the test file ends.
 */
export interface StorageKind {
  name: string
  open(): Promise<{ storage: import('../../src/storage/types.js').CheckpointStorage; cleanup(): Promise<void> }>
}

export function storageKinds(fsOpen: StorageKind['open'], registerAfter: (fn: () => Promise<void>) => void): StorageKind[] {
  let server: Promise<S3TestServer> | undefined
  registerAfter(async () => {
    if (server) await (await server).stop()
  })
  return [
    { name: 'file system', open: fsOpen },
    { name: 'S3', open: async () => s3TempStorage(await (server ??= startS3Server())) },
  ]
}
