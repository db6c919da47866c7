import { test } from 'node:test'
import assert from 'node:assert/strict'
import { b, codeOf, drain, openDb, s } from './helpers.js'

test('reads through a snapshot do not see later writes', () => {
  const { db } = openDb({ columnFamilies: ['a'] })
  const a = db.columnFamily('a')
  db.put(a, b('k'), b('before'))
  db.put(a, b('gone'), b('here'))
  db.merge(a, b('list'), b('1'))
  const snap = db.snapshot()
  db.put(a, b('k'), b('after'))
  db.delete(a, b('gone'))
  db.merge(a, b('list'), b('2'))
  db.put(a, b('new'), b('x'))
  db.deleteRange(a, b('a'), b('z'))
  db.flush()
  db.compactRange(a)

  assert.equal(s(db.get(a, b('k'), snap)), 'before')
  assert.equal(s(db.get(a, b('gone'), snap)), 'here')
  assert.equal(s(db.get(a, b('list'), snap)), '1')
  assert.equal(db.get(a, b('new'), snap), undefined)
  assert.equal(db.get(a, b('k')), undefined, 'the live view sees the deleteRange')

  const it = db.iterator(a, { snapshot: snap })
  assert.deepEqual(
    drain(it).map((e) => [e.key.toString(), e.value.toString()]),
    [['gone', 'here'], ['k', 'before'], ['list', '1']],
  )
  snap.release()
  snap.release()
  assert.equal(codeOf(() => db.get(a, b('k'), snap)), 'CLOSED')
  assert.equal(codeOf(() => db.iterator(a, { snapshot: snap })), 'CLOSED')
})

test('a snapshot belongs to the database that took it', () => {
  const one = openDb().db
  const two = openDb().db
  const snap = one.snapshot()
  assert.equal(codeOf(() => two.get(0, b('k'), snap)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => two.iterator(0, { snapshot: snap })), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => one.get(0, b('k'), one.batch() as never)), 'INVALID_ARGUMENT')
  snap.release()
})

