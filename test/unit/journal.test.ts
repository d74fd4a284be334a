// Unit tests for src/engine/journal.ts: the durable file of an atomic batch (no kernel involved).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, statSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Journal, readJournal, listJournals, journalDir, writerAlive, bootId, netnsInode, type JournalHeader } from '../../src/engine/journal.js';

const base = mkdtempSync(path.join(tmpdir(), 'kf-journal-unit-'));
process.env.KEYFLEET_JOURNAL_DIR = base;
const undo = Buffer.from('0123456789abcdef'.repeat(64));
// Journals of the host namespace (a named one must exist in /run/netns); each test cleans up after itself.
const begin = (): Journal => Journal.begin(undefined, { source: 'x.conf', operations: 3, restores: 1, deletes: 2 }, undo);

test('journalDir is one directory per namespace under KEYFLEET_JOURNAL_DIR, "host" for the initial one', () => {
  assert.is(journalDir('blue'), path.join(base, 'blue'));
  assert.is(journalDir(undefined), path.join(base, 'host'));
});

test('begin writes a complete journal durably: root-only directory, file mode 0600, header and undo bytes read back', () => {
  const j = begin();
  assert.is(statSync(path.dirname(j.file)).mode & 0o777, 0o700);
  assert.is(statSync(j.file).mode & 0o777, 0o600);
  assert.equal(readdirSync(path.dirname(j.file)), [path.basename(j.file)], 'no temporary file left');
  const e = readJournal(j.file)!;
  assert.ok(e);
  assert.is(e.committed, false);
  assert.ok(e.undo.equals(undo));
  const h: JournalHeader = e.header;
  assert.is(h.version, 1);
  assert.is(h.pid, process.pid);
  assert.is(h.bootId, bootId());
  assert.is(h.netns, 'host');
  assert.is(h.netnsIno, netnsInode(undefined));
  assert.is(h.source, 'x.conf');
  assert.is(h.operations, 3);
  assert.ok(writerAlive(h), 'this process wrote it and runs');
  j.remove();
});

test('commit appends the commit mark; remove deletes the file', () => {
  const j = begin();
  j.commit();
  assert.is(readJournal(j.file)!.committed, true);
  j.remove();
  assert.equal(readdirSync(path.join(base, 'host')), []);
});

test('a truncated or foreign file is not a journal', () => {
  const j = begin();
  const b = readFileSync(j.file);
  writeFileSync(j.file, b.subarray(0, b.length - 10));
  assert.is(readJournal(j.file), null);
  writeFileSync(j.file, 'not a journal at all');
  assert.is(readJournal(j.file), null);
  j.remove();
});

test('listJournals lists oldest first and deletes temporary files of writers that are gone', () => {
  const dir = path.join(base, 'host');
  const a = begin(), b = begin();
  writeFileSync(path.join(dir, '.1-999999999-zz.tmp'), 'x');
  const list = listJournals(undefined);
  assert.equal(list.map((f) => path.basename(f)).sort(), [path.basename(a.file), path.basename(b.file)].sort());
  assert.not.ok(readdirSync(dir).some((f) => f.endsWith('.tmp')));
  assert.equal(listJournals('nothing-here'), []);
  a.remove(); b.remove();
});

test('writerAlive tells a reused pid from the writer by its start time', () => {
  const j = begin();
  const e = readJournal(j.file)!;
  j.remove();
  assert.not.ok(writerAlive({ ...e.header, pidStart: '1' }));
  assert.not.ok(writerAlive({ ...e.header, pid: 999999999 }));
  assert.ok(netnsInode(undefined) > 0);
});

test.after(() => { rmSync(base, { recursive: true, force: true }); });

test.run();
