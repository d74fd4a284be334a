// test/netns/journal-crash.test.ts — crash safety of --atomic (tier netns: root, this kernel). kill -9 of
// `keyfleet setkey --atomic` and of `keyfleet agent` during an atomic apply of a large policy batch, at every
// phase (failpoints: journal written, after a chunk, all sent, committed, mid-rollback) and at random times;
// the next start on the namespace must leave the SPD exactly as before the batch or exactly as after it.
// Entries are compared as sets (ip's text of each policy, index included): a re-added policy lands
// elsewhere in the kernel's dump order. SAs need esp4: the same checks with SAs run in test/kernel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, statSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentClient } from '../../src/client/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
const work = mkdtempSync(path.join(tmpdir(), 'kf-journal-'));
const journals = path.join(work, 'journal');
const env = { ...process.env, KEYFLEET_JOURNAL_DIR: journals };
let counter = 0;

function ns(): string {
  const name = `kf-${process.pid}-j${counter++}`;
  assert.is(spawnSync('ip', ['netns', 'add', name]).status, 0, 'ip netns add');
  return name;
}
function delNs(name: string): void { spawnSync('ip', ['netns', 'del', name]); rmSync(path.join(journals, name), { recursive: true, force: true }); }

function keyfleet(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; signal: string | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv }, maxBuffer: 1 << 28 });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/** The SPD as a sorted list of `ip -s`'s per-policy text (index, priority, lifetimes, selector, templates), add/use times left out. */
function spd(name: string): string[] {
  const r = spawnSync('ip', ['-s', '-n', name, 'xfrm', 'policy', 'list'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.replace(/^\s+add \d{4}-.*\n/gm, '').split(/\n(?=\S)/).map((s) => s.trimEnd()).filter((s) => s !== '').sort();
}
function file(text: string): string {
  const p = path.join(work, `f${counter++}.conf`);
  writeFileSync(p, text);
  return p;
}

// Before: 300 policies. The batch: 15,000 new ones in three 1 MiB sends, with deletes and updates of existing
// ones in between (restores with the kernel's index), and, in the failing variant, a duplicate at the end.
const pre = Array.from({ length: 300 }, (_, i) => `spdadd 10.9.${i >> 8}.${i & 255} 10.200.0.1 any -P out ipsec esp/transport//require;`);
function batch(fail: boolean): string {
  const lines: string[] = [];
  for (let i = 0; i < 15000; i++) {
    lines.push(`spdadd 10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255} 10.200.0.1 any -P out none;`);
    if (i % 300 === 7) lines.push(`spddelete 10.9.0.${i / 300 | 0} 10.200.0.1 any -P out;`);
    if (i % 300 === 150) lines.push(`spdupdate 10.9.1.${i / 300 | 0} 10.200.0.1 any -P out discard;`);
  }
  if (fail) lines.push(pre[299]!);
  return lines.join('\n') + '\n';
}
const preFile = file(pre.join('\n') + '\n');
const okFile = file(batch(false));
const failFile = file(batch(true));

// The after-state, from an uninterrupted run in a reference namespace.
const ref = ns();
let before: string[] = [], after: string[] = [], okMs = 0;
{
  assert.is(keyfleet(['setkey', '--netns', ref, '-f', preFile]).code, 0);
  before = spd(ref);
  const t = Date.now();
  const r = keyfleet(['setkey', '--netns', ref, '--atomic', '-f', okFile]);
  okMs = Date.now() - t;
  assert.is(r.code, 0, r.err);
  after = spd(ref);
  delNs(ref);
}

/** A namespace holding the before-state. */
function prepared(): string {
  const n = ns();
  assert.is(keyfleet(['setkey', '--netns', n, '-f', preFile]).code, 0);
  return n;
}

function same(got: string[], want: string[]): boolean { return got.length === want.length && got.every((s, i) => s === want[i]); }

test('the reference run changes the SPD (so before and after can be told apart)', () => {
  assert.is(before.length, 300 + 0);
  assert.is(after.length, 300 - 50 + 15000 + 6, 'spdupdate of 10.9.1.44-49 creates them');
  assert.not.ok(same(before, after));
});

for (const [fp, which, conf] of [
  ['journaled', 'before', okFile], ['chunk:1', 'before', okFile], ['chunk:2', 'before', okFile], ['sent', 'before', okFile],
  ['committed', 'after', okFile], ['undo:1', 'before', failFile], ['undo:40', 'before', failFile],
] as const) {
  test(`kill -9 at '${fp}': the next keyfleet run on the namespace leaves the SPD exactly as ${which} the batch and says so`, () => {
    const n = prepared();
    try {
      const r = keyfleet(['setkey', '--netns', n, '--atomic', '-f', conf], { KEYFLEET_FAILPOINT: fp });
      assert.is(r.signal, 'SIGKILL', `the failpoint killed it (${r.err})`);
      assert.is(readdirSync(path.join(journals, n)).filter((f) => f.endsWith('.kfj')).length, 1, 'one journal left behind');
      if (fp !== 'journaled' && fp !== 'committed') assert.not.ok(same(spd(n), before), 'the kill left the SPD half-applied');
      const next = keyfleet(['setkey', '--netns', n, '-DP']);
      assert.is(next.code, 0, next.err);
      assert.match(next.err, which === 'after' ? 'had completed: all of it stays applied' : 'rolled back');
      assert.ok(same(spd(n), which === 'after' ? after : before), `SPD equals the ${which}-state`);
      assert.equal(readdirSync(path.join(journals, n)), [], 'journal removed');
      const again = keyfleet(['setkey', '--netns', n, '-DP']);
      assert.not.match(again.err, 'interrupted', 'recovered once only');
    } finally { delNs(n); }
  });
}

test('kill -9 at random times during an atomic apply: after the next start the SPD is all-old or all-new', async () => {
  const outcomes: string[] = [];
  for (let k = 0; k < 8; k++) {
    const n = prepared();
    try {
      const conf = k % 2 === 0 ? okFile : failFile;
      const child = spawn(process.execPath, [bin, 'setkey', '--netns', n, '--atomic', '-f', conf], { env, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const delay = Math.floor(okMs * (0.2 + Math.random()));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const next = keyfleet(['setkey', '--netns', n, '-DP']);
      assert.is(next.code, 0, next.err);
      const s = spd(n);
      const state = same(s, before) ? 'before' : same(s, after) ? 'after' : 'MIXED';
      outcomes.push(`${path.basename(conf)}@${delay}ms:${state}`);
      assert.is.not(state, 'MIXED', `kill after ${delay} ms left ${s.length} policies (before ${before.length}, after ${after.length})`);
      if (conf === failFile) assert.is(state, 'before', 'a failing batch never ends applied');
    } finally { delNs(n); }
  }
  console.log(`  random kills (apply takes ~${okMs} ms): ${outcomes.join(' ')}`);
});

test('the journal holds key material: a root-only directory, files of mode 0600', () => {
  const n = prepared();
  try {
    const r = keyfleet(['setkey', '--netns', n, '--atomic', '-f', okFile], { KEYFLEET_FAILPOINT: 'journaled' });
    assert.is(r.signal, 'SIGKILL');
    const dir = path.join(journals, n);
    assert.is(statSync(dir).mode & 0o777, 0o700);
    const [j] = readdirSync(dir);
    assert.is(statSync(path.join(dir, j!)).mode & 0o777, 0o600);
  } finally { delNs(n); }
});

/** Rewrites a journal's JSON header (the format of src/engine/journal.ts: magic, u32 length, header, rest). */
function editHeader(f: string, edit: (h: Record<string, unknown>) => void): void {
  const b = readFileSync(f);
  const hl = b.readUInt32LE(4);
  const h = JSON.parse(b.toString('utf8', 8, 8 + hl)) as Record<string, unknown>;
  edit(h);
  const hb = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(4); len.writeUInt32LE(hb.length);
  writeFileSync(f, Buffer.concat([b.subarray(0, 4), len, hb, b.subarray(8 + hl)]));
}

function procStart(pid: number): string {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]!;
}

test('a journal whose writer still runs is a batch in flight: --atomic refuses, a start-up check leaves it alone', async () => {
  const n = prepared();
  let sleeper: ChildProcess | null = null;
  try {
    keyfleet(['setkey', '--netns', n, '--atomic', '-f', okFile], { KEYFLEET_FAILPOINT: 'chunk:1' });
    const dir = path.join(journals, n);
    const j = path.join(dir, readdirSync(dir)[0]!);
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 50));
    editHeader(j, (h) => { h.pid = sleeper!.pid; h.pidStart = procStart(sleeper!.pid!); });
    const half = spd(n);
    const r = keyfleet(['setkey', '--netns', n, '--atomic', '-f', file('spdadd 10.77.0.1 10.77.0.2 any -P out none;\n')]);
    assert.is(r.code, 1);
    assert.match(r.err, `another atomic batch (pid ${sleeper.pid}`);
    assert.ok(same(spd(n), half), 'nothing changed');
    assert.is(keyfleet(['setkey', '--netns', n, '-DP']).code, 0);
    assert.ok(existsSync(j), 'left alone while its writer runs');
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper!.once('exit', r));
    sleeper = null;
    const next = keyfleet(['setkey', '--netns', n, '-DP']);
    assert.match(next.err, 'rolled back');
    assert.ok(same(spd(n), before));
  } finally { sleeper?.kill('SIGKILL'); delNs(n); }
});

test('a journal from an earlier boot is discarded with a notice, the kernel is left as it is', () => {
  const n = prepared();
  try {
    keyfleet(['setkey', '--netns', n, '--atomic', '-f', okFile], { KEYFLEET_FAILPOINT: 'chunk:1' });
    const dir = path.join(journals, n);
    editHeader(path.join(dir, readdirSync(dir)[0]!), (h) => { h.bootId = '00000000-0000-0000-0000-000000000000'; });
    const half = spd(n);
    const next = keyfleet(['setkey', '--netns', n, '-DP']);
    assert.match(next.err, 'earlier boot or namespace');
    assert.ok(same(spd(n), half));
    assert.equal(readdirSync(dir), []);
  } finally { delNs(n); }
});

// ---- the agent: an atomic Apply, kill -9, restart ----

interface RunningAgent { child: ChildProcess; stderr: () => string; address: string }

async function startAgentProcess(n: string, extraEnv: Record<string, string> = {}): Promise<RunningAgent> {
  const sock = path.join(work, `agent-${counter++}.sock`);
  const child = spawn(process.execPath, [bin, 'agent', '--listen', `unix:${sock}`, '--insecure', '--netns', n, '--max-ops', '100000'],
    { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => { out += d; if (out.includes('listening on')) resolve(); });
    child.once('exit', (c) => reject(new Error(`agent exited ${c}: ${err}`)));
  });
  return { child, stderr: () => err, address: `unix:${sock}` };
}

async function stopped(a: RunningAgent, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (a.child.exitCode === null && a.child.signalCode === null) {
    a.child.kill(signal);
    await new Promise((r) => a.child.once('exit', r));
  }
}

test('agent: kill -9 during an atomic Apply (failpoint after the first send); restarted, it rolls the batch back', async () => {
  const n = prepared();
  const text = readFileSync(okFile, 'utf8');
  try {
    const a = await startAgentProcess(n, { KEYFLEET_FAILPOINT: 'chunk:1' });
    const c = new AgentClient(a.address, { insecure: true, deadlineMs: 60000 });
    let failed = false;
    try { await c.apply(text, { atomic: true }, 'crash.conf'); } catch { failed = true; }
    c.close();
    assert.ok(failed, 'the Apply died with the agent');
    await new Promise((r) => a.child.exitCode !== null || a.child.signalCode !== null ? r(null) : a.child.once('exit', r));
    assert.is(a.child.signalCode, 'SIGKILL');
    assert.not.ok(same(spd(n), before), 'half-applied');
    const b = await startAgentProcess(n);
    try {
      assert.match(b.stderr(), 'rolled back');
      assert.ok(same(spd(n), before), 'all-old after the restart, before it serves');
    } finally { await stopped(b, 'SIGTERM'); }
  } finally { delNs(n); }
});

test('agent: kill -9 at a random time during an atomic Apply; after a restart the SPD is all-old or all-new', async () => {
  const text = readFileSync(okFile, 'utf8');
  const outcomes: string[] = [];
  for (let k = 0; k < 3; k++) {
    const n = prepared();
    try {
      const a = await startAgentProcess(n);
      const c = new AgentClient(a.address, { insecure: true, deadlineMs: 60000 });
      const call = c.apply(text, { atomic: true }, 'crash.conf').catch(() => null);
      const delay = Math.floor(Math.random() * okMs * 1.5);
      await new Promise((r) => setTimeout(r, delay));
      await stopped(a);
      await call;
      c.close();
      const b = await startAgentProcess(n);
      await stopped(b, 'SIGTERM');
      const s = spd(n);
      const state = same(s, before) ? 'before' : same(s, after) ? 'after' : 'MIXED';
      outcomes.push(`@${delay}ms:${state}`);
      assert.is.not(state, 'MIXED', `kill after ${delay} ms left ${s.length} policies`);
    } finally { delNs(n); }
  }
  console.log(`  agent random kills: ${outcomes.join(' ')}`);
});

test.after(() => { rmSync(work, { recursive: true, force: true }); });

test.run();
