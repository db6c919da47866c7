// better-sqlite3 (v12), the synchronous SQL store Node users pick for local
// state. WAL journal with synchronous=OFF: no fsync per write, like RocksDB
// without a WAL, so both skip durability until their checkpoint/backup.
import Database, { type Database as SqliteDb } from 'better-sqlite3'
import type { Dataset } from '../data.js'
import type { TempSpace } from '../tmp.js'
import { blackhole, cursor, type AccessSubject, type AccessWorkload } from './types.js'

export function openSqlite(file: string): SqliteDb {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = OFF')
  db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID')
  return db
}

/** Loads a dataset into the kv table in one transaction (the fastest bulk load it has). */
export function fillSqlite(db: SqliteDb, data: Dataset): void {
  const insert = db.prepare<[string, string]>('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)')
  const BATCH = 100_000
  for (let start = 0; start < data.count; start += BATCH) {
    const end = Math.min(data.count, start + BATCH)
    db.transaction(() => {
      for (let i = start; i < end; i++) insert.run(data.key(i), data.value(i))
    })()
  }
}

export function sqliteSubject(tmp: TempSpace, w: AccessWorkload): AccessSubject {
  const dir = tmp.dir('access-sqlite')
  const db = openSqlite(`${dir}/state.db`)
  db.exec(`
    CREATE TABLE list (k TEXT NOT NULL, seq INTEGER NOT NULL, v TEXT NOT NULL, PRIMARY KEY (k, seq)) WITHOUT ROWID;
    CREATE TABLE map (k TEXT NOT NULL, uk TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (k, uk)) WITHOUT ROWID;
  `)
  const { keys, values, userKeys } = w
  const kvPut = db.prepare<[string, string]>('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v')
  const kvGet = db.prepare<[string]>('SELECT v FROM kv WHERE k = ?').pluck()
  const listAdd = db.prepare<[string, number, string]>('INSERT INTO list (k, seq, v) VALUES (?, ?, ?)')
  const listGet = db.prepare<[string]>('SELECT v FROM list WHERE k = ? ORDER BY seq').pluck()
  const mapPut = db.prepare<[string, string, string]>('INSERT INTO map (k, uk, v) VALUES (?, ?, ?) ON CONFLICT (k, uk) DO UPDATE SET v = excluded.v')
  const mapGet = db.prepare<[string, string]>('SELECT v FROM map WHERE k = ? AND uk = ?').pluck()
  const mapIter = db.prepare<[string]>('SELECT uk, v FROM map WHERE k = ?').raw()

  // Prefilled collections live under a different key prefix than the ones being written.
  db.transaction(() => {
    for (const i of w.collectionOrder) {
      for (let j = 0; j < w.listLength; j++) listAdd.run(`g|${keys[i]}`, j, values[(i + j) % values.length]!)
      for (let j = 0; j < w.mapEntries; j++) mapPut.run(`n|${keys[i]}`, userKeys[j]!, values[(i + j) % values.length]!)
    }
  })()

  let seq = 0
  const ops: AccessSubject['ops'] = {
    value: (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          kvPut.run(keys[i]!, values[i]!)
          blackhole.value = kvGet.get(keys[i]!)
        }
      }
    })(),
    'list-add': (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          listAdd.run(keys[i]!, seq++, values[i]!)
        }
      }
    })(),
    'list-get': (() => {
      const next = cursor(w.collectionOrder)
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = listGet.all(`g|${keys[next()]}`)
      }
    })(),
    'map-put': (() => {
      const next = cursor(w.order)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          mapPut.run(keys[i]!, userKeys[u++ & 15]!, values[i]!)
        }
      }
    })(),
    'map-get': (() => {
      const next = cursor(w.collectionOrder)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = mapGet.get(`n|${keys[next()]}`, userKeys[u++ & 15]!)
      }
    })(),
    'map-iterate': (() => {
      const next = cursor(w.collectionOrder)
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = mapIter.all(`n|${keys[next()]}`)
      }
    })(),
  }
  return {
    name: 'better-sqlite3',
    ops,
    opsPerCall: 200,
    note: 'better-sqlite3: one autocommit statement per write (upsert), WAL with synchronous=OFF, WITHOUT ROWID tables keyed like ours',
    close: async () => {
      db.close()
      tmp.remove(dir)
    },
  }
}
