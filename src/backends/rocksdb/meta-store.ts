// The reserved `_meta` column family: what a reopened working directory needs
// to know about itself. Kept inside the database (not beside it) so that a
// native checkpoint of the DB carries it along.
//
//   'backend'       JSON BackendRecord (written once, when the directory is created or restored)
//   'session'       'open' while a backend uses the directory, 'closed' after a clean close
//   'state/<name>'  JSON StateRecord: the state's meta-info and its column family
import { KeyedStateError } from '../../errors.js'
import { formatRange, type KeyGroupRange } from '../../keygroups.js'
import type { NativeDb } from './native/types.js'
import { describeSerializer, serializerCanRead, type Serializer, type SerializerConfig } from '../../serializers/serializer.js'
import { assertValidMetaInfo, type StateMetaInfo } from '../../state/meta.js'
import { ChunkCursor, scanChunks, SCAN_CHUNK } from './packed-chunks.js'

export const META_COLUMN_FAMILY = '_meta'
/** Layout version of the working directory (key layout, `_meta` records). */
export const WORKING_DIR_FORMAT_VERSION = 1

export interface BackendRecord {
  formatVersion: number
  /** Created once per directory (and per restore); incremental checkpoints name their shared files by it. */
  backendId: string
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  keySerializer: SerializerConfig
}

export interface StateRecord {
  meta: StateMetaInfo
  columnFamily: string
}

export type SessionState = 'open' | 'closed'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const BACKEND_KEY = encoder.encode('backend')
const SESSION_KEY = encoder.encode('session')
const STATE_PREFIX = 'state/'
// '/' + 1: the exclusive upper bound of every 'state/...' key.
const STATE_UPPER = encoder.encode('state0')

/** The column family of a state. State names never start with '_', so they cannot clash with `_meta`. */
export function columnFamilyOf(stateName: string): string {
  return `s:${stateName}`
}

export class MetaStore {
  constructor(
    private readonly db: NativeDb,
    private readonly cf: number,
    private readonly location: string,
  ) {}

  readBackend(): BackendRecord | undefined {
    const raw = this.db.get(this.cf, BACKEND_KEY)
    if (raw === undefined) return undefined
    const r = this.parse(raw, 'backend') as Partial<BackendRecord>
    if (
      typeof r.formatVersion !== 'number' || typeof r.backendId !== 'string' || typeof r.maxParallelism !== 'number' ||
      !r.keyGroupRange || typeof r.keyGroupRange.start !== 'number' || !r.keySerializer
    ) {
      throw new KeyedStateError('CORRUPTION', `invalid backend record in ${this.location}`, { file: this.location })
    }
    return r as BackendRecord
  }

  writeBackend(r: BackendRecord): void {
    this.db.put(this.cf, BACKEND_KEY, encoder.encode(JSON.stringify(r)))
  }

  readSession(): SessionState | undefined {
    const raw = this.db.get(this.cf, SESSION_KEY)
    return raw === undefined ? undefined : (decoder.decode(raw) as SessionState)
  }

  writeSession(s: SessionState): void {
    this.db.put(this.cf, SESSION_KEY, encoder.encode(s))
  }

  writeState(r: StateRecord): void {
    this.db.put(this.cf, encoder.encode(STATE_PREFIX + r.meta.name), encoder.encode(JSON.stringify(r)))
  }

  readStates(): StateRecord[] {
    const out: StateRecord[] = []
    const cursor = new ChunkCursor(new Uint8Array(0))
    for (const chunk of scanChunks(this.db, this.cf, { gte: encoder.encode(STATE_PREFIX), lt: STATE_UPPER }, SCAN_CHUNK)) {
      cursor.reset(chunk)
      while (cursor.next()) {
        const name = decoder.decode(cursor.key()).slice(STATE_PREFIX.length)
        const r = this.parse(cursor.value(), `state '${name}'`) as Partial<StateRecord>
        assertValidMetaInfo(r.meta, `${this.location} (state '${name}')`)
        if (typeof r.columnFamily !== 'string' || r.meta.name !== name) {
          throw new KeyedStateError('CORRUPTION', `invalid record of state '${name}' in ${this.location}`, { state: name, file: this.location })
        }
        out.push(r as StateRecord)
      }
    }
    return out
  }

  private parse(raw: Uint8Array, what: string): unknown {
    try {
      return JSON.parse(decoder.decode(raw))
    } catch (e) {
      throw new KeyedStateError('CORRUPTION', `unreadable ${what} record in ${this.location}`, { file: this.location, cause: e })
    }
  }
}

/** Refuses to reuse a working directory under settings that would misread its bytes. */
export function checkReopen(
  stored: BackendRecord,
  given: { maxParallelism: number; keyGroupRange: KeyGroupRange; keySerializer: Serializer<unknown> },
  location: string,
): void {
  const refuse = (what: string): never => {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `cannot reopen ${location}: ${what}. Reopen with the original settings, or restore from a checkpoint/savepoint ` +
        '(restoreFrom) to change them',
      { file: location },
    )
  }
  if (stored.formatVersion !== WORKING_DIR_FORMAT_VERSION) {
    refuse(`its layout version is ${stored.formatVersion}, this library reads version ${WORKING_DIR_FORMAT_VERSION}`)
  }
  if (stored.maxParallelism !== given.maxParallelism) {
    refuse(`it was created with maxParallelism ${stored.maxParallelism}, not ${given.maxParallelism}`)
  }
  if (stored.keyGroupRange.start !== given.keyGroupRange.start || stored.keyGroupRange.end !== given.keyGroupRange.end) {
    refuse(`it holds key groups ${formatRange(stored.keyGroupRange)}, not ${formatRange(given.keyGroupRange)}`)
  }
  if (!serializerCanRead(given.keySerializer, stored.keySerializer)) {
    refuse(`its keys were written with ${describeSerializer(stored.keySerializer)}, which the given key serializer cannot read`)
  }
}
