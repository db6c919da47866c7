// An HTTP proxy in front of the test S3 server that injects what object
// stores do under stress: 500 InternalError, 503 ServiceUnavailable, 503
// SlowDown, connections reset before an answer or halfway through a body
// (either direction), and latency. A test decides the fault of each request.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Fault =
  | { kind: 'pass' }
  | { kind: 'status'; status: 500 | 503; code: 'InternalError' | 'ServiceUnavailable' | 'SlowDown' }
  /** Closes the connection as soon as the request arrives. */
  | { kind: 'reset-request' }
  /** Forwards the request, then closes the connection halfway through the response body. */
  | { kind: 'reset-response-body' }
  | { kind: 'latency'; ms: number }
  /** Forwards the request without its Range header (a server that ignores ranges). */
  | { kind: 'strip-range' }

export interface SeenRequest {
  method: string
  url: string
  range: string | undefined
  fault: Fault['kind']
}

export const PASS: Fault = { kind: 'pass' }

/** A seeded mix of every fault at `rate` (0..1) of the requests. */
export function randomFaults(rate: number, seed: number): (req: IncomingMessage) => Fault {
  let a = seed >>> 0
  const random = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const faults: Fault[] = [
    { kind: 'status', status: 500, code: 'InternalError' },
    { kind: 'status', status: 503, code: 'ServiceUnavailable' },
    { kind: 'status', status: 503, code: 'SlowDown' },
    { kind: 'reset-request' },
    { kind: 'reset-response-body' },
    { kind: 'latency', ms: 30 },
  ]
  return () => (random() < rate ? faults[Math.floor(random() * faults.length)]! : PASS)
}

export class FaultProxy {
  readonly seen: SeenRequest[] = []
  decide: (req: IncomingMessage) => Fault = () => PASS

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(targetPort: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined
    const server = createServer((req, res) => proxy!.handle(req, res, targetPort))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    return proxy
  }

  private handle(req: IncomingMessage, res: ServerResponse, targetPort: number): void {
    const fault = this.decide(req)
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', range: req.headers.range, fault: fault.kind })
    if (fault.kind === 'reset-request') {
      req.socket.destroy()
      return
    }
    if (fault.kind === 'status') {
      req.resume()
      req.once('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml' })
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>injected by the test proxy</Message><RequestId>fault</RequestId></Error>`)
      })
      return
    }
    const forward = (): void => {
      const headers = { ...req.headers }
      if (fault.kind === 'strip-range') delete headers.range
      const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        if (fault.kind !== 'reset-response-body') {
          up.pipe(res)
          return
        }
        const length = Number(up.headers['content-length'] ?? 0)
        let sent = 0
        up.on('data', (chunk: Buffer) => {
          const room = Math.floor(length / 2) - sent
          if (room > 0) res.write(chunk.subarray(0, room))
          sent += chunk.length
          if (sent >= length / 2) {
            up.destroy()
            res.socket?.destroy()
          }
        })
        up.once('end', () => res.socket?.destroy())
      })
      upstream.on('error', () => res.socket?.destroy())
      req.pipe(upstream)
    }
    if (fault.kind === 'latency') setTimeout(forward, fault.ms)
    else forward()
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
