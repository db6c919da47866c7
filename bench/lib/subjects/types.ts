// The state-access workload and the shape every compared implementation takes.
import { dataset, permutation } from '../data.js'

export type AccessOp = 'value' | 'list-add' | 'list-get' | 'map-put' | 'map-get' | 'map-iterate'

export const ACCESS_OPS: ReadonlyArray<{ op: AccessOp; label: string }> = [
  { op: 'value', label: 'ValueState update+value' },
  { op: 'list-add', label: 'ListState add' },
  { op: 'list-get', label: 'ListState get (10 elements)' },
  { op: 'map-put', label: 'MapState put' },
  { op: 'map-get', label: 'MapState get' },
  { op: 'map-iterate', label: 'MapState iterate (16 entries)' },
]

/** The same keys, values and visiting order for every implementation. */
export interface AccessWorkload {
  keys: string[]
  values: string[]
  /** Order in which keys are visited by value, list-add and map-put. */
  order: Uint32Array
  /** Keys (indices) holding prefilled lists and maps, visited by list-get, map-get and map-iterate. */
  collectionOrder: Uint32Array
  listLength: number
  mapEntries: number
  userKeys: string[]
  valueChars: number
}

export function accessWorkload(keyCount: number, valueChars: number): AccessWorkload {
  const data = dataset(keyCount, valueChars)
  const keys = Array.from({ length: keyCount }, (_, i) => data.key(i))
  const values = Array.from({ length: keyCount }, (_, i) => data.value(i))
  const collectionKeys = Math.max(100, Math.floor(keyCount / 10))
  return {
    keys,
    values,
    order: permutation(keyCount, 1),
    collectionOrder: permutation(collectionKeys, 2),
    listLength: 10,
    mapEntries: 16,
    userKeys: Array.from({ length: 16 }, (_, j) => `u${j.toString().padStart(2, '0')}`),
    valueChars,
  }
}

/** Cycles through `order` forever. */
export function cursor(order: Uint32Array): () => number {
  let c = 0
  const n = order.length
  return () => {
    const i = order[c]!
    if (++c === n) c = 0
    return i
  }
}

/** Runs `n` operations; may return a promise (async libraries). */
export type OpRunner = (n: number) => unknown

export interface AccessSubject {
  name: string
  ops: Partial<Record<AccessOp, OpRunner>>
  /** Ops whose runner returns its own measured duration in ms (the native C++ loop). */
  selfTimed?: Partial<Record<AccessOp, boolean>>
  /** Operations per call; async libraries use fewer so a sample stays short. */
  opsPerCall?: number
  /** How it was set up, for the table notes. */
  note?: string
  close(): Promise<void>
}

/** Keeps results alive so the JIT cannot drop the reads being measured. */
export const blackhole: { value: unknown } = { value: undefined }
