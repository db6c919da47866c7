// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and
// the share of total time spent in each function and below it.
//   node dist/bench/tools/profile-top.js FILE.cpuprofile [top=25]
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0)
  throw e
})

const [file, topText = '25'] = process.argv.slice(2)
if (!file) throw new Error('usage: profile-top FILE.cpuprofile [top]')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const label = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim()
}

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0
  total += dt
  const node = byId.get(profile.samples[i]!)
  if (!node) continue
  self.set(label(node), (self.get(label(node)) ?? 0) + dt)
  const seen = new Set<string>()
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const l = label(byId.get(id)!)
    if (seen.has(l)) continue
    seen.add(l)
    inclusive.set(l, (inclusive.get(l) ?? 0) + dt)
  }
}

const top = Number(topText)
const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)} %`
process.stdout.write(`total ${(total / 1e6).toFixed(2)} s\n\nself time:\n`)
for (const [l, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(v)}  ${l}\n`)
process.stdout.write(`\ninclusive time:\n`)
for (const [l, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(v)}  ${l}\n`)
