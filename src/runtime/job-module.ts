// Loads a job module (its default export is a JobDefinition) in a worker or
// the CLI, and checks its shape, so that a wrong module fails with a message
// naming it rather than with "x is not a function" in the middle of a run.
import { pathToFileURL } from 'node:url'
import { isAbsolute, resolve } from 'node:path'
import { KeyedStateError } from '../errors.js'
import type { JobDefinition } from './operator.js'

/** A module given as a file URL, an absolute path, or a path relative to the working directory. */
export function jobModuleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href
  if (/^file:/.test(module)) return module
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href
}

export async function loadJob(module: string | URL): Promise<JobDefinition<unknown, unknown>> {
  const url = jobModuleUrl(module)
  let loaded: { default?: unknown }
  try {
    loaded = (await import(url)) as { default?: unknown }
  } catch (e) {
    throw new KeyedStateError('INVALID_ARGUMENT', `cannot load job module ${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
  const job = loaded.default as Partial<JobDefinition<unknown, unknown>> | undefined
  const missing = ['keySerializer', 'keyOf', 'operator', 'source'].filter((k) => job?.[k as keyof JobDefinition<unknown, unknown>] === undefined)
  if (!job || typeof job !== 'object' || missing.length > 0) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `job module ${url} must default-export a job definition (defineJob({ keySerializer, keyOf, operator, source })); missing: ${missing.join(', ') || 'everything'}`,
    )
  }
  return job as JobDefinition<unknown, unknown>
}
