// The part of better-sqlite3 v12's API the bench uses (the package ships no
// types and @types/better-sqlite3 is not a dependency).
declare module 'better-sqlite3' {
  interface RunResult {
    changes: number
    lastInsertRowid: number | bigint
  }
  interface Statement<P extends unknown[] = unknown[]> {
    run(...params: P): RunResult
    get(...params: P): unknown
    all(...params: P): unknown[]
    iterate(...params: P): IterableIterator<unknown>
    pluck(toggle?: boolean): this
    raw(toggle?: boolean): this
  }
  interface BackupProgress {
    totalPages: number
    remainingPages: number
  }
  interface BackupOptions {
    attached?: string
    progress?: (info: BackupProgress) => number | void
  }
  interface Database {
    prepare<P extends unknown[] = unknown[]>(sql: string): Statement<P>
    exec(sql: string): this
    pragma(source: string, options?: { simple?: boolean }): unknown
    transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R
    backup(destination: string, options?: BackupOptions): Promise<BackupProgress>
    close(): this
    readonly open: boolean
  }
  interface DatabaseConstructor {
    new (filename: string, options?: { readonly?: boolean; fileMustExist?: boolean }): Database
  }
  const Database: DatabaseConstructor
  export default Database
  export type { Database, Statement }
}
