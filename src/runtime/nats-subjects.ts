// The NATS subjects between a job's coordinator and its remote workers.
//   keyed-state.<jobId>.register          worker → coordinator, request/reply: "I am idle" (every few seconds while idle)
//   keyed-state.<jobId>.to.<workerId>     coordinator → worker: ToWorker messages (open, snapshot, cancel, notify, close)
//   keyed-state.<jobId>.from.<workerId>   worker → coordinator: FromWorker messages (ready, replies, heartbeats, failed, closed)
// Messages are JSON; request ids inside them pair replies with requests.
import { KeyedStateError } from '../errors.js'

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/

export function checkToken(what: string, v: string): void {
  if (typeof v !== 'string' || !TOKEN.test(v)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `${what} must be 1 to 64 letters, digits, '-' or '_' (a NATS subject token), got ${JSON.stringify(v)}`)
  }
}

export const subjects = {
  register: (jobId: string) => `keyed-state.${jobId}.register`,
  to: (jobId: string, workerId: string) => `keyed-state.${jobId}.to.${workerId}`,
  from: (jobId: string, workerId: string) => `keyed-state.${jobId}.from.${workerId}`,
}

export const encodeMessage = (m: unknown): Uint8Array => Buffer.from(JSON.stringify(m), 'utf8')
export const decodeMessage = <T>(bytes: Uint8Array): T => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T

/** How often an idle remote worker offers itself; the pool forgets offers older than a few of these. */
export const REGISTER_INTERVAL_MS = 1000
