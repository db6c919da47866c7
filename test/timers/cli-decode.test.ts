// The CLI reads timer states (kind 'timers') by their own entry layout, not as
// composite keys: dump shows key, namespace and timestamp, and --key filters work.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { entryDecoder, entryKeyBytes } from '../../src/cli/lib/decode.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { encodeTimer } from '../../src/timers/entry.js'
import { timersMetaInfo } from '../../src/timers/registry.js'
import { voidNamespaceSerializer } from '../../src/serializers/primitives.js'

test('timer entries decode to key, namespace and timestamp', () => {
  const meta = timersMetaInfo('_timers:windows:event', int32Serializer)
  const e = encodeTimer(7, -42, stringSerializer.serialize('user-1'), int32Serializer.serialize(3))
  assert.deepEqual(entryDecoder(meta, 'string').decode(7, e.bytes, new Uint8Array(0)), {
    keyGroup: 7,
    state: '_timers:windows:event',
    key: 'user-1',
    namespace: 3,
    timestamp: -42,
    value: null,
  })
  assert.deepEqual(entryKeyBytes(meta, e.bytes), stringSerializer.serialize('user-1'))
  const plain = timersMetaInfo('_timers:t:processing', voidNamespaceSerializer)
  const p = encodeTimer(0, 5, stringSerializer.serialize('k'), new Uint8Array(0))
  assert.deepEqual(entryDecoder(plain, 'string').decode(0, p.bytes, new Uint8Array(0)), { keyGroup: 0, state: '_timers:t:processing', key: 'k', timestamp: 5, value: null })
})
