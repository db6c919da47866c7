// keyed-state worker <job module> --connect nats://host:4222 --job-id <id>:
// a worker on this host for a job whose coordinator runs elsewhere (runJob
// with `workers: { connect, jobId }`). It serves one assignment at a time
// until SIGTERM or SIGINT.
import { serveRemoteWorker } from '../../runtime/remote-worker.js'

export async function workerCommand(module: string, o: { connect: string; jobId: string }): Promise<number> {
  const worker = await serveRemoteWorker({ job: module, connect: o.connect, jobId: o.jobId })
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  await worker.close()
  return 0
}
