// The storage conformance suite (test/storage/suite) on S3: a real
// S3-compatible server in a child process, one key prefix per case, the
// victims of the containment cases planted under the parent prefix.
import { after } from 'node:test'
import { storageSuite } from '../storage/suite/index.js'
import { startS3Server } from './server.js'

const server = await startS3Server()
after(() => server.stop())
let nextPrefix = 0

storageSuite({
  name: 's3',
  supports: { localSymlinks: false },
  // The default part size: the multipart threshold is what the large-file cases straddle.
  partSizeBytes: 8 * 1024 * 1024,
  async open() {
    const base = `suite-${nextPrefix++}`
    const parent = server.storage(base)
    return {
      storage: server.storage(`${base}/root`),
      parent,
      rootName: 'root',
      cleanup: async () => {
        await parent.deleteMany((await parent.list('')).map((e) => e.path))
        parent.close()
      },
    }
  },
})
