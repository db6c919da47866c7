// The column family of each state of the RocksDB backend, and when it is
// created. RocksDB 7.8 rewrites its OPTIONS file, one ~5 KB section per column
// family, and parses it back after every create call, so creating n families one
// at a time costs O(n^2): 1,000 states took minutes to register or restore
// (issue 14). Families are therefore created in batches, one native call each:
//
// - a state registered by the user gets its family when some state, or a
//   snapshot, next needs one: every family registered since then is created
//   with it, so states registered before their first use (as operators do when
//   they open) cost one batch together;
// - states of a restored snapshot are created as one batch at once;
// - on reopen the families are on disk already.
import type { NativeDb } from './native/types.js'
import { KeyedStateError } from '../../errors.js'
import { columnFamilyOf } from './meta-store.js'

interface Entry {
  readonly columnFamily: string
  /** RocksDB's id of the family; -1 until it is created. */
  cf: number
}

export class StateColumnFamilies {
  private readonly entries = new Map<string, Entry>()
  /** Registered states whose family does not exist yet, in registration order. */
  private pending: Entry[] = []

  constructor(private readonly db: NativeDb) {}

  /** Records the state's family: the one on disk when there is one, else one created with the next batch. */
  add(stateName: string): void {
    if (this.entries.has(stateName)) return
    const columnFamily = columnFamilyOf(stateName)
    const entry: Entry = { columnFamily, cf: this.db.columnFamily(columnFamily) }
    this.entries.set(stateName, entry)
    if (entry.cf < 0) this.pending.push(entry)
  }

  /** The family's name (it may not be created yet). */
  nameOf(stateName: string): string {
    return this.entry(stateName).columnFamily
  }

  /** The family's id, or -1 while it waits for the next batch. */
  idIfCreated(stateName: string): number {
    return this.entry(stateName).cf
  }

  /** The family's id; creates it, with every other waiting family, when it does not exist yet. */
  id(stateName: string): number {
    const entry = this.entry(stateName)
    if (entry.cf < 0) this.createPending()
    return entry.cf
  }

  /** Creates every waiting family with one native call. */
  createPending(): void {
    if (this.pending.length === 0) return
    const batch = this.pending
    let ids: number[]
    try {
      ids = this.db.createColumnFamilies(batch.map((e) => e.columnFamily))
    } catch (e) {
      // RocksDB may have created the first part of the batch before it failed: those keep their
      // ids, the rest waits for the next attempt.
      for (const entry of batch) entry.cf = this.db.closed ? -1 : this.db.columnFamily(entry.columnFamily)
      this.pending = batch.filter((entry) => entry.cf < 0)
      throw e
    }
    for (const [i, entry] of batch.entries()) entry.cf = ids[i]!
    this.pending = []
  }

  private entry(stateName: string): Entry {
    const e = this.entries.get(stateName)
    if (!e) throw new KeyedStateError('UNKNOWN_STATE', `unknown state '${stateName}'`, { state: stateName })
    return e
  }
}
