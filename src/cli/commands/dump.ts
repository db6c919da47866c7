import { keyGroupOf, rangeContains, type KeyGroupRange } from '../../keygroups.js'
import { KeyedStateError } from '../../errors.js'
import { openFullSnapshot } from '../../snapshot/format/open-snapshot.js'
import { unpackEntries } from '../../snapshot/format/packed.js'
import type { FullSnapshotHandle } from '../../snapshot/types.js'
import type { CheckpointStorage } from '../../storage/types.js'
import type { CheckpointMetadata } from '../../checkpoint/metadata.js'
import { statesOfHandle } from '../lib/inspect-snapshot.js'
import { entryDecoder, entryKeyBytes, KEY_SERIALIZER_IDS, parseKeyArgument, serializerFor } from '../lib/decode.js'
import { describeSerializer, type SerializerConfig } from '../../serializers/serializer.js'
import { materializeIncremental } from '../lib/incremental.js'
import { openSnapshotDirectory } from '../lib/open.js'
import { jsonReplacer, progress, writeLine } from '../lib/output.js'

export interface DumpOptions {
  state: string
  key?: string
  /** Default: the key serializer the snapshot recorded (string when it records none). */
  keySerializer?: string
}

type ResolvedDumpOptions = DumpOptions & { keySerializer: string }

/** The key serializer the snapshot recorded (its first handle's), or undefined when it records none. */
async function recordedKeySerializer(storage: CheckpointStorage, md: CheckpointMetadata): Promise<SerializerConfig | undefined> {
  const handle = md.instances.find((i) => i.handle)?.handle
  if (!handle) return undefined
  return (await statesOfHandle(storage, handle)).keySerializer
}

/**
 * The key serializer to decode keys with. A recorded built-in one is the
 * truth: another given with --key-serializer would print wrong keys (int32
 * over 4-byte strings decodes without an error), so it is refused. Keys of a
 * user's own serializer come out as base64 unless --key-serializer says how
 * to read them; snapshots that record none default to string.
 */
function chooseKeySerializer(recorded: SerializerConfig | undefined, given: string | undefined): { id: string; note?: string } {
  const builtIn = recorded !== undefined && serializerFor(recorded) !== undefined && (KEY_SERIALIZER_IDS as readonly string[]).includes(recorded.id)
  if (recorded && builtIn) {
    if (given !== undefined && given !== recorded.id) {
      throw new KeyedStateError(
        'SERIALIZER_MISMATCH',
        `the keys were written with the ${describeSerializer(recorded)} serializer (the snapshot records it); ` +
          `--key-serializer ${given} cannot read them: leave --key-serializer out`,
      )
    }
    return { id: recorded.id }
  }
  if (recorded) {
    return given !== undefined
      ? { id: given, note: `keys were written with '${describeSerializer(recorded)}', which the CLI does not know; decoding them as ${given} as asked` }
      : { id: 'bytes', note: `keys were written with '${describeSerializer(recorded)}', which the CLI does not know; they are given as base64 (--key-serializer decodes them)` }
  }
  return { id: given ?? 'string' }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Writes the entries of one state as JSON lines; returns whether the snapshot knows the state. */
async function dumpFull(
  storage: CheckpointStorage,
  handle: FullSnapshotHandle,
  options: ResolvedDumpOptions,
  keyBytes: Uint8Array | undefined,
  range: KeyGroupRange,
  knownStates: Set<string>,
  undecoded: { keys: number },
): Promise<boolean> {
  const reader = await openFullSnapshot(storage, handle)
  for (const s of reader.states) knownStates.add(s.name)
  const meta = reader.states.find((s) => s.name === options.state)
  if (!meta) return false
  const decoder = entryDecoder(meta, options.keySerializer)
  for await (const section of reader.sections(range)) {
    if (section.stateName !== options.state) continue
    for (const [key, value] of unpackEntries(section.chunk, `state '${section.stateName}', key group ${section.keyGroup}`)) {
      if (keyBytes && !sameBytes(entryKeyBytes(meta, key), keyBytes)) continue
      await writeLine(JSON.stringify(decoder.decode(section.keyGroup, key, value), jsonReplacer))
    }
  }
  undecoded.keys += decoder.undecodedKeys
  return true
}

export async function dumpCommand(path: string, options: DumpOptions): Promise<number> {
  const { storage, metadata: md } = await openSnapshotDirectory(path)
  const chosen = chooseKeySerializer(await recordedKeySerializer(storage, md), options.keySerializer)
  if (chosen.note) process.stderr.write(`keyed-state: note: ${chosen.note}\n`)
  const resolved: ResolvedDumpOptions = { ...options, keySerializer: chosen.id }
  const undecoded = { keys: 0 }
  const keyBytes = options.key === undefined ? undefined : parseKeyArgument(options.key, resolved.keySerializer)
  const keyGroup = keyBytes ? keyGroupOf(keyBytes, md.maxParallelism) : undefined
  const instances = md.instances.filter((i) => i.handle && (keyGroup === undefined || rangeContains(i.keyGroupRange, keyGroup)))
  const knownStates = new Set<string>()
  let found = false
  const bar = progress('dumping', instances.length, 'instances')
  try {
    for (const inst of instances) {
      const h = inst.handle!
      const range = keyGroup === undefined ? h.keyGroupRange : { start: keyGroup, end: keyGroup }
      if (h.type === 'full') {
        found = (await dumpFull(storage, h, resolved, keyBytes, range, knownStates, undecoded)) || found
      } else {
        const m = await materializeIncremental(storage, h)
        try {
          if (m.handle) found = (await dumpFull(m.storage, m.handle, resolved, keyBytes, range, knownStates, undecoded)) || found
        } finally {
          await m.cleanup()
        }
      }
      bar.increment()
    }
  } finally {
    bar.stop()
  }
  if (undecoded.keys > 0) {
    process.stderr.write(
      `keyed-state: warning: ${undecoded.keys} key(s) could not be read as ${resolved.keySerializer} and are given as base64; ` +
        `they were written with another serializer: try another --key-serializer (${KEY_SERIALIZER_IDS.join(', ')})\n`,
    )
  }
  if (!found && (keyGroup === undefined || knownStates.size > 0)) {
    const known = [...knownStates].sort()
    throw new KeyedStateError(
      'UNKNOWN_STATE',
      `state '${options.state}' is not in ${md.type} ${md.checkpointId}; ${known.length > 0 ? `it holds: ${known.join(', ')}` : 'it holds no state'}`,
      { state: options.state },
    )
  }
  return 0
}
