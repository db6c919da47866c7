// The tests' S3 server, in its own Node process (run with
// --openssl-legacy-provider: s3rver's list continuation tokens use a legacy
// cipher). s3rver lacks two operations checkpoint storage needs -
// ListMultipartUploads and AbortMultipartUpload - so this adds them over
// s3rver's own upload directories. Prints {"port": N} when listening.
// argv: <data directory> <bucket>...
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import S3rver from 's3rver'

const [directory, ...buckets] = process.argv.slice(2)
if (!directory || buckets.length === 0) throw new Error('usage: server-child <directory> <bucket>...')

const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) })

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
}

function uploadsDir(bucket: string): string {
  return server.store.getResourcePath(bucket, undefined, 'uploads')
}

// First in the chain, ahead of s3rver's router, which answers these with NotImplemented/MethodNotAllowed.
server.middleware.unshift(async (ctx, next) => {
  const parts = ctx.path.split('/').filter((p) => p !== '')
  const bucket = parts[0]
  if (bucket === undefined || !buckets.includes(bucket)) return next()
  if (ctx.method === 'GET' && parts.length === 1 && 'uploads' in ctx.query) {
    const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : ''
    const dir = uploadsDir(bucket)
    const ids = await readdir(dir).catch(() => [] as string[])
    const uploads: string[] = []
    for (const id of ids.sort()) {
      const key = await readFile(join(dir, id, 'key'), 'utf8').catch(() => undefined)
      if (key === undefined || !key.startsWith(prefix)) continue
      const initiated = (await stat(join(dir, id))).birthtime.toISOString()
      uploads.push(`<Upload><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated></Upload>`)
    }
    ctx.type = 'application/xml'
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${bucket}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`
    return
  }
  if (ctx.method === 'DELETE' && parts.length > 1 && typeof ctx.query.uploadId === 'string') {
    const id = ctx.query.uploadId
    if (!/^[0-9a-f]+$/.test(id)) return next()
    const dir = join(uploadsDir(bucket), id)
    const exists = await stat(dir).then(() => true, () => false)
    if (!exists) {
      ctx.status = 404
      ctx.type = 'application/xml'
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>'
      return
    }
    await rm(dir, { recursive: true, force: true })
    ctx.status = 204
    return
  }
  return next()
})

// A real object store outlives a client that resets its connection mid-request; s3rver can throw from
// a stream callback then. Log it and keep serving, so one injected fault cannot stop every later test.
process.on('uncaughtException', (e) => process.stderr.write(`s3rver: uncaught ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`))

const { port } = await server.run()
process.stdout.write(`${JSON.stringify({ port })}\n`)
// Stopped by the parent's signal; nothing to flush.
process.on('SIGTERM', () => process.exit(0))
