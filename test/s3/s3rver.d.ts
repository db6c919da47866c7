// The part of s3rver's API the test server uses (the package ships no types).
declare module 's3rver' {
  import type { Server } from 'node:http'
  interface S3rverOptions {
    address?: string
    port?: number
    directory: string
    silent?: boolean
    configureBuckets?: { name: string }[]
    allowMismatchedSignatures?: boolean
  }
  interface KoaContext {
    method: string
    path: string
    query: Record<string, string | string[] | undefined>
    status: number
    body: unknown
    type: string
  }
  export default class S3rver {
    constructor(options: S3rverOptions)
    middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void>
    store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string }
    httpServer: Server
    run(): Promise<{ address: string; port: number }>
    close(): Promise<void>
  }
}
