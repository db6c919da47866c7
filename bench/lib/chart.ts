// The checkpoint-cost chart: time and bytes written against state size for each
// method, rendered headless (vega-lite -> vega -> SVG, no canvas needed).
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { CostPoint } from './context.js'

export function checkpointChartSpec(points: readonly CostPoint[]): TopLevelSpec {
  const values = points.map((p) => ({
    method: p.method,
    stateMB: p.stateBytes / 1e6,
    seconds: p.timeMs / 1000,
    writtenMB: p.bytesWritten / 1e6,
  }))
  const x = { field: 'stateMB', type: 'quantitative', title: 'state size (MB)', scale: { type: 'log' } } as const
  const color = { field: 'method', type: 'nominal', title: 'method', legend: { orient: 'bottom', columns: 2, labelLimit: 320 } } as const
  const shape = { field: 'method', type: 'nominal', title: 'method' } as const
  const panel = (field: string, title: string) => ({
    width: 360,
    height: 260,
    mark: { type: 'line', point: true },
    encoding: { x, y: { field, type: 'quantitative', title, scale: { type: 'log' } }, color, shape },
  })
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Checkpoint cost against state size', subtitle: 'log-log; lower is better' },
    data: { values },
    hconcat: [panel('seconds', 'time to make the state durable (s)'), panel('writtenMB', 'bytes written (MB)')],
    config: { font: 'sans-serif', background: 'white' },
  } as TopLevelSpec
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
