// Storage by location: a path or file:// URL is the file system, s3://bucket/prefix
// an S3 bucket. Everything that takes a storage root (the coordinator, the CLI,
// the demo) takes one of these strings.
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KeyedStateError } from '../errors.js'
import { FileSystemCheckpointStorage } from './fs.js'
import { normalizeStoragePath } from './paths.js'
import { S3CheckpointStorage, type S3CheckpointStorageOptions } from './s3.js'
import type { CheckpointStorage } from './types.js'

export type StorageLocation = { kind: 'fs'; dir: string } | { kind: 's3'; bucket: string; prefix: string }

export interface OpenStorageOptions {
  /** Options for s3:// locations (bucket and prefix come from the location). */
  s3?: Omit<S3CheckpointStorageOptions, 'bucket' | 'prefix'>
}

/** Parses a location; a relative path is resolved against the working directory. */
export function parseStorageLocation(location: string): StorageLocation {
  if (typeof location !== 'string' || location === '') throw new KeyedStateError('INVALID_ARGUMENT', 'a storage location must be a non-empty string')
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase()
  if (scheme === undefined) return { kind: 'fs', dir: resolve(location) }
  if (scheme === 'file') return { kind: 'fs', dir: fileURLToPath(location) }
  if (scheme !== 's3') throw new KeyedStateError('INVALID_ARGUMENT', `unsupported storage location ${JSON.stringify(location)}: use a path, file://... or s3://bucket/prefix`)
  const rest = location.slice('s3://'.length)
  const slash = rest.indexOf('/')
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  const prefix = slash < 0 ? '' : normalizeStoragePath(rest.slice(slash + 1).replace(/\/+$/, ''), true)
  if (bucket === '') throw new KeyedStateError('INVALID_ARGUMENT', `storage location ${JSON.stringify(location)} names no bucket`)
  return { kind: 's3', bucket, prefix }
}

export function formatStorageLocation(l: StorageLocation): string {
  return l.kind === 'fs' ? l.dir : `s3://${l.bucket}${l.prefix === '' ? '' : `/${l.prefix}`}`
}

/** The location `levels` directories above `l` (for a checkpoint directory: its storage root). */
export function parentLocation(l: StorageLocation, levels: number): StorageLocation {
  if (l.kind === 'fs') {
    let dir = l.dir
    for (let i = 0; i < levels; i++) dir = resolve(dir, '..')
    return { kind: 'fs', dir }
  }
  const parts = l.prefix === '' ? [] : l.prefix.split('/')
  if (levels > parts.length) throw new KeyedStateError('INVALID_ARGUMENT', `${formatStorageLocation(l)} has no directory ${levels} level(s) up`)
  return { kind: 's3', bucket: l.bucket, prefix: parts.slice(0, parts.length - levels).join('/') }
}

/** Opens the storage a location names; s3:// uses the SDK's credential, region and endpoint chain unless `options.s3` says otherwise. */
export function openCheckpointStorage(location: string | StorageLocation, options: OpenStorageOptions = {}): CheckpointStorage {
  const l = typeof location === 'string' ? parseStorageLocation(location) : location
  if (l.kind === 'fs') return new FileSystemCheckpointStorage(l.dir)
  return new S3CheckpointStorage({ ...options.s3, bucket: l.bucket, prefix: l.prefix })
}

/**
 * S3 options from the environment, for the CLI and the demo: the SDK reads
 * credentials, region, AWS_ENDPOINT_URL(_S3) and the checksum settings itself;
 * path-style addressing (most S3-compatible servers) is KEYED_STATE_S3_PATH_STYLE=1.
 */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenStorageOptions['s3'] {
  const pathStyle = env.KEYED_STATE_S3_PATH_STYLE
  return pathStyle === undefined || pathStyle === '' ? {} : { forcePathStyle: pathStyle === '1' || pathStyle.toLowerCase() === 'true' }
}
