// How broker sources and producers turn events into message bytes and back,
// and which key group (partition) an event's key belongs to: the same murmur3
// hash as the backend, so a producer writes each event where the worker that
// owns its key reads.
import { assignToKeyGroup, checkMaxParallelism, DEFAULT_MAX_PARALLELISM } from '../keygroups.js'
import type { Serializer } from '../serializers/serializer.js'

export interface EventCodec<E> {
  encode(event: E): Uint8Array
  decode(bytes: Uint8Array): E
}

/** UTF-8 JSON: readable in broker tools; pass your own codec for binary formats. */
export const jsonEventCodec: EventCodec<any> = {
  encode: (event) => Buffer.from(JSON.stringify(event), 'utf8'),
  decode: (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')),
}

/** What a producer needs to route an event: its key, the key's serializer and the job's maxParallelism. */
export interface KeyRouting<E, K> {
  keyOf(event: E): K
  keySerializer: Serializer<K>
  /** The job's maxParallelism (default 128): one partition per key group. */
  maxParallelism?: number
}

export function keyGroupRouter<E, K>(routing: KeyRouting<E, K>): (event: E) => number {
  const maxParallelism = routing.maxParallelism ?? DEFAULT_MAX_PARALLELISM
  checkMaxParallelism(maxParallelism)
  return (event) => assignToKeyGroup(routing.keySerializer.serialize(routing.keyOf(event)), maxParallelism)
}
