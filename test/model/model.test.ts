// Model-based property test: random operations on each available backend and
// on a plain in-memory model, compared after every step and keys() at the end.
import { test } from 'node:test'
import fc from 'fast-check'
import type { BackendFactory } from '../suite/factory.js'
import { factoryAvailable, heapFactory, rocksdbFactory } from '../suite/factories.js'
import { stringSerializer } from '../../src/index.js'
import { Model, opArbitrary, runOps } from './model.js'

const SOAK = process.env.SOAK === '1'

function modelTest(factory: BackendFactory, numRuns: number): void {
  test(`[${factory.name}] random operations match the in-memory model`, async (t) => {
    const available = await factoryAvailable(factory)
    if (!available.ok) {
      t.skip(`${factory.name} backend not available: ${available.reason}`)
      return
    }
    let run = 0
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 256 }), async (ops, maxParallelism) => {
          const backend = await factory.open({ keySerializer: stringSerializer, maxParallelism }, `model-${run++}`)
          try {
            runOps(backend, new Model(), ops)
          } finally {
            await backend.close()
          }
        }),
        { numRuns },
      )
    } finally {
      await factory.cleanup()
    }
  })
}

modelTest(heapFactory(), SOAK ? 2000 : 150)
modelTest(rocksdbFactory(), SOAK ? 500 : 40)
