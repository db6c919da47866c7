// What the numbers were measured on, and whether a state size fits here.
import { statfsSync } from 'node:fs'
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { formatBytes, sizeLabel } from './format.js'

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryBytes: number
  memoryFreeBytes: number
  diskFreeBytes: number
  tmpDir: string
  platform: string
  node: string
  rocksdb: string
  heapLimitBytes: number
  /** 1-minute load average at the start and the end of the run: other processes compete for the cores. */
  loadAverageStart: number
  loadAverageEnd?: number
}

export function diskFreeBytes(dir = tmpdir()): number {
  const s = statfsSync(dir)
  return Number(s.bavail) * Number(s.bsize)
}

export function machineInfo(rocksdbVersion: string): MachineInfo {
  const cpuList = cpus()
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryBytes: totalmem(),
    memoryFreeBytes: freemem(),
    diskFreeBytes: diskFreeBytes(),
    tmpDir: tmpdir(),
    platform: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    rocksdb: rocksdbVersion,
    heapLimitBytes: getHeapStatistics().heap_size_limit,
    loadAverageStart: loadavg()[0]!,
  }
}

export function describeMachine(m: MachineInfo): string[] {
  return [
    `CPU: ${m.cpuModel}, ${m.cores} cores`,
    `memory: ${formatBytes(m.memoryBytes)} (${formatBytes(m.memoryFreeBytes)} free at start)`,
    `disk free in ${m.tmpDir}: ${formatBytes(m.diskFreeBytes)}`,
    `OS: ${m.platform}`,
    `Node ${m.node}, RocksDB ${m.rocksdb}, V8 heap limit ${formatBytes(m.heapLimitBytes)}`,
    `load average (1 min): ${m.loadAverageStart.toFixed(2)} at the start` +
      (m.loadAverageEnd === undefined ? '' : `, ${m.loadAverageEnd.toFixed(2)} at the end`) +
      (Math.max(m.loadAverageStart, m.loadAverageEnd ?? 0) > m.cores ? ' (other processes competed for the cores: expect noise)' : ''),
  ]
}

/**
 * How much a measure at one state size needs, as multiples of the state size
 * (e.g. disk 6 = working DB + raw copy + checkpoint storage + ...).
 */
export interface Footprint {
  diskFactor: number
  memoryFactor: number
}

/** Why `sizeBytes` does not fit on this machine now, or undefined when it does. */
export function whyNotFits(sizeBytes: number, footprint: Footprint): string | undefined {
  const disk = diskFreeBytes()
  const diskNeed = sizeBytes * footprint.diskFactor
  if (diskNeed > disk * 0.9) {
    return `skipped ${sizeLabel(sizeBytes)}: needs ~${formatBytes(diskNeed)} of free disk in ${tmpdir()}, ${formatBytes(disk)} available`
  }
  const memNeed = sizeBytes * footprint.memoryFactor
  const mem = freemem()
  if (memNeed > mem * 0.8) {
    return `skipped ${sizeLabel(sizeBytes)}: needs ~${formatBytes(memNeed)} of free memory, ${formatBytes(mem)} available`
  }
  const heap = getHeapStatistics()
  const heapFree = heap.heap_size_limit - heap.used_heap_size
  if (memNeed > heapFree) {
    return `skipped ${sizeLabel(sizeBytes)}: needs ~${formatBytes(memNeed)} of JS heap, the V8 limit leaves ${formatBytes(heapFree)}`
  }
  return undefined
}

let gcFunction: (() => void) | undefined

/** A full GC, so heap measurements are not noise from garbage (the flag is set at run time, no --expose-gc needed). */
export function forceGc(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc')
    gcFunction = runInNewContext('gc') as () => void
  }
  gcFunction()
}
