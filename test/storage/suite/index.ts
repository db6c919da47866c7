// The storage conformance suite: the same cases for every CheckpointStorage.
// Each feature file exports a function that registers its tests for a
// factory; what only some storages can do is a `supports` flag (see factory.ts).
// A new storage runs it with one line: `storageSuite(myFactory)` in a *.test.ts.
import { containmentTests } from './containment.js'
import type { StorageFactory } from './factory.js'
import { largeFileTests } from './large.js'
import { listDeleteTests } from './list-delete.js'
import { nameTests } from './names.js'
import { readTests } from './read.js'
import { uploadCancelTests } from './upload-cancel.js'
import { writeTests } from './write.js'

export type { OpenedStorage, StorageFactory } from './factory.js'

export const storageFeatures: ((factory: StorageFactory) => void)[] = [
  writeTests,
  readTests,
  listDeleteTests,
  nameTests,
  containmentTests,
  largeFileTests,
  uploadCancelTests,
]

export function storageSuite(factory: StorageFactory): void {
  for (const feature of storageFeatures) feature(factory)
}
