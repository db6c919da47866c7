// CPU profiles of one phase only (not the fill before it), through the
// inspector protocol; the file opens in Chrome DevTools or with tools/profile-top.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

export async function withCpuProfile<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}
