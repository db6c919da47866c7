// The tests' side of driver.ts: starts a coordinator process in its own
// process group (so that "kill everything" reaches its workers too), reads
// its JSON lines, and waits for them in order.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { DriverArgs, DriverLine } from './driver.js'

const DRIVER = fileURLToPath(new URL('./driver.js', import.meta.url))
const LINE_TIMEOUT_MS = 120_000

type LineOf<T extends DriverLine['type']> = Extract<DriverLine, { type: T }>

export interface Driver {
  child: ChildProcess
  /** The next line of `type` (matching `where`) after the last one returned; fails when the driver exits first. */
  next<T extends DriverLine['type']>(type: T, where?: (line: LineOf<T>) => boolean): Promise<LineOf<T>>
  /** A command on its stdin ("rescale 3", "stop"). */
  command(line: string): void
  /** SIGKILL to the coordinator alone, or to its whole process group (its child-process workers too). */
  kill(what: 'coordinator' | 'everything'): void
}

export function startDriver(args: DriverArgs, env: NodeJS.ProcessEnv = process.env): Driver {
  const child = spawn(process.execPath, [DRIVER, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env })
  const lines: DriverLine[] = []
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as DriverLine))
  let cursor = 0
  const exited = () => child.exitCode !== null || child.signalCode !== null
  return {
    child,
    async next(type, where) {
      const deadline = Date.now() + LINE_TIMEOUT_MS
      for (;;) {
        for (let i = cursor; i < lines.length; i++) {
          const line = lines[i]!
          if (line.type === type && (!where || where(line as LineOf<typeof type>))) {
            cursor = i + 1
            return line as LineOf<typeof type>
          }
        }
        if (exited()) throw new Error(`driver exited (${child.exitCode ?? child.signalCode}) before a '${type}' line`)
        if (Date.now() > deadline) throw new Error(`timed out waiting for a '${type}' line from the driver`)
        await sleep(10)
      }
    },
    command: (line) => void child.stdin!.write(`${line}\n`),
    kill: (what) => {
      if (what === 'everything') process.kill(-child.pid!, 'SIGKILL')
      else child.kill('SIGKILL')
    },
  }
}

/** For a test's `finally`: SIGKILL to whatever is left of the drivers' process groups. */
export function killDrivers(drivers: readonly Driver[]): void {
  for (const d of drivers) {
    try {
      process.kill(-d.child.pid!, 'SIGKILL')
    } catch {
      // the group is gone already
    }
  }
}
