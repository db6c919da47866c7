// keyed-state ui <root>: serves the checkpoint page for a storage (a directory
// or s3://bucket/prefix) until the process is stopped (Ctrl-C), printing its address.
import { startCheckpointUi } from '../../ui/server.js'
import { openStorageRoot } from '../lib/open.js'
import { writeLine } from '../lib/output.js'

export async function uiCommand(root: string, options: { host: string; port: number }): Promise<number> {
  const storage = await openStorageRoot(root)
  const ui = await startCheckpointUi({ storage, host: options.host, port: options.port })
  await writeLine(`checkpoints of ${storage.location} at ${ui.url}`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await ui.close()
  storage.close?.()
  return 0
}
