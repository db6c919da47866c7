// `keyed-state ui`: a small HTTP server for the checkpoint page. It binds
// 127.0.0.1 unless told otherwise (the page shows storage paths and operator
// state), serves the page, uPlot from node_modules (our runtime dependency; no
// front-end build) and two JSON endpoints the page polls.
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import type { CheckpointStorage } from '../storage/types.js'
import { overview, snapshotDetails } from './data.js'
import { CHECKPOINT_PAGE_HTML } from './page.js'

export interface CheckpointUiOptions {
  storage: CheckpointStorage
  /** Default 127.0.0.1; '0.0.0.0' (or another address) to serve other machines. */
  host?: string
  /** Default 0: any free port. */
  port?: number
}

export interface CheckpointUi {
  url: string
  close(): Promise<void>
}

const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'))
const ASSETS: Record<string, { file: string; type: string }> = {
  '/assets/uPlot.iife.min.js': { file: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
  res.end(body)
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

async function handle(storage: CheckpointStorage, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (req.method !== 'GET') return send(res, 405, 'text/plain', 'GET only')
  if (url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', CHECKPOINT_PAGE_HTML)
  const asset = ASSETS[url.pathname]
  if (asset) return send(res, 200, asset.type, await readFile(asset.file))
  try {
    if (url.pathname === '/api/checkpoints') return sendJson(res, 200, await overview(storage))
    if (url.pathname === '/api/snapshot') return sendJson(res, 200, await snapshotDetails(storage, url.searchParams.get('dir') ?? ''))
  } catch (e) {
    const status = isKeyedStateError(e) && e.code === 'NOT_FOUND' ? 404 : 500
    return sendJson(res, status, { error: e instanceof Error ? e.message : String(e), code: isKeyedStateError(e) ? e.code : undefined })
  }
  send(res, 404, 'text/plain', 'not found')
}

/** Starts the server; resolves once it listens. */
export async function startCheckpointUi(options: CheckpointUiOptions): Promise<CheckpointUi> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new KeyedStateError('INVALID_ARGUMENT', `port must be 0..65535, got ${port}`)
  const server: Server = createServer((req, res) => {
    handle(options.storage, req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: e instanceof Error ? e.message : String(e) })
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shownHost}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
