// A serializer turns values into bytes and back. Its id, version and config are
// recorded with every state so that a restore can refuse incompatible bytes.

export interface SerializerConfig {
  readonly id: string
  readonly version: number
  /** Extra configuration (e.g. the element serializer of a list); plain JSON. */
  readonly config?: unknown
}

export interface Serializer<T> {
  readonly id: string
  readonly version: number
  readonly config?: unknown
  serialize(value: T): Uint8Array
  deserialize(bytes: Uint8Array): T
  /**
   * Whether bytes written by `previous` (id/version/config as recorded in a
   * snapshot) can be read by this serializer. Default: same id, version and config.
   */
  canRead?(previous: SerializerConfig): boolean
}

export function serializerConfig(s: Serializer<unknown>): SerializerConfig {
  return s.config === undefined ? { id: s.id, version: s.version } : { id: s.id, version: s.version, config: s.config }
}

function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null'
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  const keys = Object.keys(v as Record<string, unknown>).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`
}

export function sameSerializerConfig(a: SerializerConfig, b: SerializerConfig): boolean {
  return a.id === b.id && a.version === b.version && canonicalJson(a.config) === canonicalJson(b.config)
}

/** Whether `current` can read bytes that were written with the serializer described by `previous`. */
export function serializerCanRead(current: Serializer<unknown>, previous: SerializerConfig): boolean {
  if (current.canRead) return current.canRead(previous)
  return sameSerializerConfig(serializerConfig(current), previous)
}

export function describeSerializer(c: SerializerConfig): string {
  return c.config === undefined ? `${c.id}@${c.version}` : `${c.id}@${c.version}${canonicalJson(c.config)}`
}
