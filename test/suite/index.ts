// The conformance suite: the same behaviour tests for every backend. Each
// feature file exports a function that registers its tests for a factory; add
// new features to `suiteFeatures` (or pass them as `extra`).
import { after } from 'node:test'
import type { BackendFactory } from './factory.js'
import { errorTests } from './errors.js'
import { keysTests } from './keys.js'
import { lifecycleTests } from './lifecycle.js'
import { listStateTests } from './list.js'
import { mapStateTests } from './map.js'
import { namespaceTests } from './namespaces.js'
import { reducingAggregatingTests } from './reducing-aggregating.js'
import { reopenTests } from './reopen.js'
import { serializerCheckTests } from './serializer-checks.js'
import { snapshotTests } from './snapshot.js'
import { timerTests } from './timers.js'
import { ttlTests } from './ttl.js'
import { valueStateTests } from './value.js'

export type SuiteFeature = (factory: BackendFactory) => void

export const suiteFeatures: SuiteFeature[] = [
  valueStateTests,
  listStateTests,
  mapStateTests,
  reducingAggregatingTests,
  namespaceTests,
  keysTests,
  errorTests,
  serializerCheckTests,
  lifecycleTests,
  reopenTests,
  snapshotTests,
  ttlTests,
  timerTests,
]

/** Registers every feature's tests for `factory` (plus `extra` ones) and cleans the factory up afterwards. */
export function runConformanceSuite(factory: BackendFactory, extra: readonly SuiteFeature[] = []): void {
  for (const feature of [...suiteFeatures, ...extra]) feature(factory)
  after(() => factory.cleanup())
}
