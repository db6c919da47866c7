// Runs the keyed-state CLI as users do, a child process, for the CLI tests.
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** The objects of JSON-lines output (dump). */
export function jsonLines(s: string): any[] {
  return s.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
}
