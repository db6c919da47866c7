// Human formatting of measured numbers. Sizes are decimal (1 MB = 10^6 bytes)
// because the state sizes the issue asks for (10 MB, 100 MB, 1 GB) are decimal.

export type Unit = 'ops/s' | 'ms' | 'bytes' | 'MB/s' | 'ratio' | 'pct' | 'count' | 'text'

export type Cell = number | string | null

const MB = 1e6

export function formatOpsPerSec(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M/s`
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k/s`
  return `${v.toFixed(0)} /s`
}

export function formatMs(v: number): string {
  if (v < 1) return `${v.toFixed(3)} ms`
  if (v < 100) return `${v.toFixed(1)} ms`
  if (v < 10_000) return `${v.toFixed(0)} ms`
  return `${(v / 1000).toFixed(1)} s`
}

export function formatBytes(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} GB`
  if (v >= MB) return `${(v / MB).toFixed(1)} MB`
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} kB`
  return `${v.toFixed(0)} B`
}

export function formatRatio(v: number): string {
  if (v >= 100) return `${v.toFixed(0)}×`
  if (v >= 10) return `${v.toFixed(1)}×`
  return `${v.toFixed(2)}×`
}

export function formatCell(v: Cell, unit: Unit): string {
  if (v === null) return 'n/a'
  if (typeof v === 'string') return v
  if (!Number.isFinite(v)) return 'n/a'
  switch (unit) {
    case 'ops/s':
      return formatOpsPerSec(v)
    case 'ms':
      return formatMs(v)
    case 'bytes':
      return formatBytes(v)
    case 'MB/s':
      return `${v.toFixed(v >= 100 ? 0 : 1)} MB/s`
    case 'ratio':
      return formatRatio(v)
    case 'pct':
      return `${v.toFixed(v >= 10 ? 1 : 2)} %`
    case 'count':
      return v.toLocaleString('en-US')
    case 'text':
      return String(v)
  }
}

/** '10MB', '1GB', '512kB', '3.5MB' or plain bytes -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text)
  if (!m) throw new Error(`cannot read size '${text}' (use e.g. 10MB, 1GB)`)
  const n = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase()
  const scale = unit === 'gb' ? 1e9 : unit === 'mb' ? MB : unit === 'kb' ? 1e3 : 1
  return Math.round(n * scale)
}

/** Short size labels for table columns: '10 MB', '1 GB'. */
export function sizeLabel(bytes: number): string {
  if (bytes >= 1e9) return `${+(bytes / 1e9).toFixed(2)} GB`
  if (bytes >= MB) return `${+(bytes / MB).toFixed(1)} MB`
  return `${+(bytes / 1e3).toFixed(1)} kB`
}

export function mbPerSec(bytes: number, ms: number): number {
  return ms > 0 ? bytes / MB / (ms / 1000) : NaN
}
