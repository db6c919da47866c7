// All bench data lives under one directory in os.tmpdir(), removed when the
// run ends however it ends (normal exit, error, Ctrl-C).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export class TempSpace {
  readonly root: string
  private counter = 0
  private removed = false

  constructor(keep = false) {
    this.root = mkdtempSync(join(tmpdir(), 'keyed-state-bench-'))
    if (keep) return
    process.once('exit', () => this.removeAll())
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.removeAll()
        process.exit(130)
      })
    }
  }

  /** A new empty directory, unique within this run. */
  dir(label: string): string {
    const path = join(this.root, `${String(++this.counter).padStart(3, '0')}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}`)
    mkdirSync(path, { recursive: true })
    return path
  }

  /** A path for a file or a directory the callee creates (e.g. a RocksDB dir). */
  path(label: string): string {
    return join(this.root, `${String(++this.counter).padStart(3, '0')}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}`)
  }

  /** Frees disk as soon as a fixture is done with it (1 GB fixtures add up). */
  remove(path: string): void {
    rmSync(path, { recursive: true, force: true })
  }

  removeAll(): void {
    if (this.removed) return
    this.removed = true
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** Runs `fn` with a fresh directory and removes it afterwards. */
export async function withDir<T>(tmp: TempSpace, label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = tmp.dir(label)
  try {
    return await fn(dir)
  } finally {
    tmp.remove(dir)
  }
}

/** Bytes of all files below `path` (a RocksDB dir, a storage root). */
export function dirSizeBytes(path: string): number {
  let total = 0
  const visit = (p: string) => {
    let st: ReturnType<typeof statSync>
    try {
      st = statSync(p)
    } catch {
      return
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name))
    else total += st.size
  }
  visit(path)
  return total
}
