// The canonical full-snapshot format (docs/FORMAT.md): writer, reader, verifier.
export * from './constants.js'
export { checkCodec } from './codec.js'
export { BlockPayloadBuilder, FullSnapshotEncoder, type EncodedFileSummary, type SnapshotMeta } from './encoder.js'
export {
  corruptSnapshot,
  decodeBlock,
  readKeyGroupBlocks,
  readLayout,
  storageByteSource,
  WindowedReader,
  type ByteSource,
  type DecodedBlock,
  type DecodedSection,
  type SnapshotLayout,
} from './decoder.js'
export { forEachPacked, packEntries, unpackEntries, type PackedEntry } from './packed.js'
export { openFullSnapshot, type FullSnapshotReader, type SnapshotEntry, type SnapshotSection } from './open-snapshot.js'
export { verifyFullSnapshot, type SnapshotProblem, type VerifyOptions, type VerifyReport } from './verify.js'
