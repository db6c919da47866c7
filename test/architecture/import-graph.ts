// The import graph of src/, read from the TypeScript sources themselves (no
// build needed): which file imports which, folded into folders. The layering
// rules of docs/ARCHITECTURE.md are checked on this graph by
// import-graph.test.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, posix, relative, sep } from 'node:path'
import ts from 'typescript'

/** One import statement (static, re-export, type-only or dynamic) between two files of src/. */
export interface ImportEdge {
  /** Importing file, relative to src/ with '/' separators. */
  readonly from: string
  /** Imported file, relative to src/ (the .ts source of the .js specifier). */
  readonly to: string
}

function tsFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) out.push(...tsFiles(full))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full)
  }
  return out
}

/** Every relative import between files under `srcDir`; imports of packages and node: modules are left out. */
export function readImportEdges(srcDir: string): ImportEdge[] {
  const edges: ImportEdge[] = []
  for (const file of tsFiles(srcDir)) {
    const from = relative(srcDir, file).split(sep).join('/')
    // preProcessFile is the compiler's own scanner: it finds import, export-from,
    // import type and import() and skips comments and strings.
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue
      const to = posix.normalize(posix.join(posix.dirname(from), ref.fileName)).replace(/\.js$/, '.ts')
      edges.push({ from, to })
    }
  }
  return edges
}

/**
 * The unit a file belongs to in the folder graph: its folder, except for the
 * files directly in src/, which are each a unit of their own (leaf helpers
 * such as errors.ts and keygroups.ts, and the package entry index.ts).
 */
export function unitOf(file: string): string {
  const dir = posix.dirname(file)
  return dir === '.' ? file : `${dir}/`
}

/** Folder graph: unit → units it imports (never itself). */
export function unitGraph(edges: readonly ImportEdge[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>()
  for (const { from, to } of edges) {
    const a = unitOf(from)
    const b = unitOf(to)
    if (!graph.has(a)) graph.set(a, new Set())
    if (!graph.has(b)) graph.set(b, new Set())
    if (a !== b) graph.get(a)!.add(b)
  }
  return graph
}

/** Strongly connected components with more than one unit (Tarjan): each is a folder cycle. */
export function unitCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const visit = (v: string): void => {
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) cycles.push(component.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return cycles
}

/** Where backend implementations live; only the entry points above them may import them. */
export const IMPLEMENTATIONS = 'backends/'
/**
 * Files that compose implementations: the package entry, the CLI, the job
 * runtime (each worker opens its backend; nothing below imports the runtime),
 * and the implementations themselves.
 */
export function mayImportImplementations(file: string): boolean {
  return file === 'index.ts' || file.startsWith('cli/') || file.startsWith('runtime/') || file.startsWith(IMPLEMENTATIONS)
}

/** Imports of a backend implementation from a shared layer (snapshot, storage, state, checkpoint, ...). */
export function layerViolations(edges: readonly ImportEdge[]): ImportEdge[] {
  return edges.filter((e) => e.to.startsWith(IMPLEMENTATIONS) && !mayImportImplementations(e.from))
}

/** The package's src/ directory, from the compiled test (dist/test/architecture/) or the source. */
export function sourceDir(): string {
  let dir = dirname(new URL(import.meta.url).pathname)
  while (!statSync(join(dir, 'package.json'), { throwIfNoEntry: false })) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('package root not found')
    dir = parent
  }
  return join(dir, 'src')
}

/**
 * The layer diagram of docs/ARCHITECTURE.md: the fenced block after the
 * `<!-- layers:` marker. A row starts with its number; its units (folders
 * ending in '/', modules ending in '.ts') come before the '—' of a line, and
 * lines without a number but with a '—' add units to the row above.
 */
export function readLayerDiagram(markdown: string): Map<string, number> {
  const marker = markdown.indexOf('<!-- layers:')
  if (marker < 0) throw new Error('no <!-- layers: marker in the architecture document')
  const open = markdown.indexOf('```', marker)
  const close = markdown.indexOf('```', open + 3)
  const rows = new Map<string, number>()
  let row: number | undefined
  for (const line of markdown.slice(markdown.indexOf('\n', open) + 1, close).split('\n')) {
    const numbered = /^\s*(\d+)\s/.exec(line)
    const dash = line.indexOf('—')
    if (numbered === null && dash < 0) continue
    if (numbered !== null) row = Number(numbered[1])
    if (row === undefined) throw new Error(`layer diagram line before the first row: ${line}`)
    const units = (dash < 0 ? line : line.slice(0, dash)).replace(/^\s*\d+\s/, '').split(/\s+/)
    for (const unit of units.filter((u) => /^[\w.-]+(\/[\w.-]+)*(\/|\.ts)$/.test(u))) {
      if (rows.has(unit)) throw new Error(`${unit} is in two rows of the layer diagram`)
      rows.set(unit, row)
    }
  }
  return rows
}

/** Imports that do not go from a higher row to a strictly lower one. */
export function upwardImports(edges: readonly ImportEdge[], rows: ReadonlyMap<string, number>): ImportEdge[] {
  return edges.filter((e) => {
    const a = unitOf(e.from)
    const b = unitOf(e.to)
    return a !== b && !(rows.get(a)! > rows.get(b)!)
  })
}
