// Loads the addon (build/Release/keyed_state_native.node) and maps its errors.
// (Contract; implementation lands with the native addon.)
import { KeyedStateError } from '../errors.js'
import type { NativeBinding } from './types.js'

export function loadNative(): NativeBinding {
  throw new KeyedStateError('NATIVE_UNAVAILABLE', 'native addon not built yet')
}
