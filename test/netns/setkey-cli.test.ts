// keyfleet setkey end to end on this machine's kernel: policies in a fresh netns, checked with ip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
const work = mkdtempSync(path.join(tmpdir(), 'kf-setkey-'));
let counter = 0;

function ns(): string {
  const name = `kf-${process.pid}-sk${counter++}`;
  const r = spawnSync('ip', ['netns', 'add', name]);
  assert.is(r.status, 0, 'ip netns add');
  return name;
}
function delNs(name: string): void { spawnSync('ip', ['netns', 'del', name]); }

function setkey(name: string, args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, 'setkey', '--netns', name, ...args], { encoding: 'utf8', input, maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function file(text: string): string {
  const p = path.join(work, `f${counter++}.conf`);
  writeFileSync(p, text);
  return p;
}
function ipx(name: string, ...args: string[]): string {
  const r = spawnSync('ip', ['-n', name, 'xfrm', ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

test('spdadd of an out policy lands with af_key defaults: priority 0x80000000, any proto, the template as written', () => {
  const n = ns();
  try {
    const r = setkey(n, ['-f', file('spdadd 10.0.0.0/24 10.0.1.0/24 any -P out ipsec esp/tunnel/192.168.1.1-192.168.1.2/require;\n')]);
    assert.is(r.code, 0, r.out + r.err);
    assert.is(r.out, '');
    const list = ipx(n, 'policy', 'list');
    assert.match(list, 'src 10.0.0.0/24 dst 10.0.1.0/24 \n\tdir out priority 2147483648 ');
    assert.match(list, 'tmpl src 192.168.1.1 dst 192.168.1.2\n\t\tproto esp reqid 0 mode tunnel');
  } finally { delNs(n); }
});

test('RFC mode (-r, the default) adds a fwd copy of every in policy; -k does not', () => {
  const n = ns();
  try {
    const conf = file('spdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/require;\n');
    assert.is(setkey(n, ['-f', conf]).code, 0);
    assert.match(ipx(n, 'policy', 'count'), 'SPD IN  1 OUT 0 FWD 1');
    assert.is(setkey(n, ['-FP']).code, 0);
    assert.is(setkey(n, ['-k', '-f', conf]).code, 0);
    assert.match(ipx(n, 'policy', 'count'), 'SPD IN  1 OUT 0 FWD 0');
  } finally { delNs(n); }
});

test('a kernel error is reported per line as setkey does, processing goes on and the exit status stays 0', () => {
  const n = ns();
  try {
    const conf = file([
      'spdadd 10.0.0.1 10.0.0.2 any -P out none;',
      'spdadd 10.0.0.1 10.0.0.2 any -P out none;',
      'spdadd 10.0.0.3 10.0.0.4 any -P out discard;',
      'spddelete 10.9.9.9 10.9.9.8 any -P out;',
    ].join('\n') + '\n');
    const r = setkey(n, ['-f', conf]);
    assert.is(r.code, 0);
    assert.is(r.out, 'The result of line 2: File exists.\nThe result of line 4: No entry.\n');
    assert.match(ipx(n, 'policy', 'count'), 'OUT 2');
    const strict = setkey(n, ['--strict', '-f', conf]);
    assert.is(strict.code, 1, 'with --strict the first kernel error is fatal');
  } finally { delNs(n); }
});

test('a syntax error applies the statements before it, then exits 1 with setkey\'s lines and a file:line:col diagnostic', () => {
  const n = ns();
  try {
    const conf = file('spdadd 10.0.0.1 10.0.0.2 any -P out none;\nspdadd 10.0.0.3 10.0.0.4 any -P out none;\nspdadd 10.0.0.5 oops-!;\nspdadd 10.0.0.7 10.0.0.8 any -P out none;\n');
    const r = setkey(n, ['-f', conf]);
    assert.is(r.code, 1);
    assert.match(r.err, `${conf}:3:`);
    assert.match(ipx(n, 'policy', 'count'), 'OUT 2');
  } finally { delNs(n); }
});

test('-DP prints policies in setkey\'s format and -FP empties the SPD', () => {
  const n = ns();
  try {
    assert.is(setkey(n, ['-f', file('spdadd 10.0.0.0/24[any] 10.0.1.0/24[80] tcp -P out prio def + 100 ipsec esp/transport//require;\n')]).code, 0);
    const d = setkey(n, ['-DP']);
    assert.is(d.code, 0);
    const lines = d.out.split('\n');
    assert.is(lines[0], '10.0.0.0/24[any] 10.0.1.0/24[80] tcp');
    assert.is(lines[1], '\tout prio def + 100 ipsec');
    assert.is(lines[2], '\tesp/transport//require');
    assert.match(lines[3]!, /^\tcreated: .{20}  lastused: .{20}$/);
    assert.is(lines[4], '\tlifetime: 0(s) validtime: 0(s)');
    assert.match(lines[5]!, new RegExp(`^\\tspid=\\d+ seq=0 pid=\\d+$`));
    assert.is(lines[6], '\trefcnt=1');
    assert.is(setkey(n, ['-FP']).code, 0);
    assert.is(setkey(n, ['-DP']).out, 'No SPD entries.\n');
    assert.is(setkey(n, ['-D']).out, 'No SAD entries.\n');
  } finally { delNs(n); }
});

test('-DP --json prints the documented schema', () => {
  const n = ns();
  try {
    setkey(n, ['-f', file('spdadd 10.0.0.0/24 10.0.1.0/24 any -P out ipsec esp/tunnel/1.1.1.1-2.2.2.2/unique:7;\n')]);
    const j = JSON.parse(setkey(n, ['-DP', '--json']).out) as { policies: { dir: string; priority: number; templates: { reqid: number; mode: string }[] }[] };
    assert.is(j.policies.length, 1);
    assert.is(j.policies[0]!.dir, 'out');
    assert.is(j.policies[0]!.priority, 0x80000000);
    assert.equal(j.policies[0]!.templates.map((t) => [t.mode, t.reqid]), [['tunnel', 7]]);
  } finally { delNs(n); }
});

test('--dry-run prints what each statement would send and touches nothing', () => {
  const n = ns();
  try {
    const r = setkey(n, ['--dry-run', '-f', file('spdadd 10.0.0.1 10.0.0.2 any -P out none;\nspdflush;\n')]);
    assert.is(r.code, 0);
    assert.match(r.out, ':1: spdadd: would send XFRM_MSG_NEWPOLICY');
    assert.match(r.out, ':2: spdflush: would send XFRM_MSG_FLUSHPOLICY');
    assert.match(ipx(n, 'policy', 'count'), 'OUT 0');
  } finally { delNs(n); }
});

test('unique templates without a reqid get af_key-style reqids from 16384 up, skipping used ones', () => {
  const n = ns();
  try {
    setkey(n, ['-k', '-f', file('spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//unique;\nspdadd 10.0.0.3 10.0.0.4 any -P out ipsec esp/transport//unique;\n')]);
    const reqids = [...ipx(n, 'policy', 'list').matchAll(/reqid (\d+)/g)].map((m) => Number(m[1])).sort();
    assert.equal(reqids, [16384, 16385]);
  } finally { delNs(n); }
});

/** Policies as a sorted list of ip's blocks (with index numbers: -s), so order alone does not count. */
function policyBlocks(name: string): string[] {
  return spawnSync('ip', ['-s', '-n', name, 'xfrm', 'policy', 'list'], { encoding: 'utf8' }).stdout.split(/\n(?=src )/).map((b) => b.trim().replace(/(add|use) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '$1 T')).sort();
}

test('--atomic undoes adds, deletes, updates and flushes when a later statement fails', () => {
  const n = ns();
  try {
    setkey(n, ['-f', file('spdadd 10.0.0.1 10.0.0.2 any -P out none;\nspdadd 10.0.0.9 10.0.0.8 any -P in ipsec esp/transport//unique:5;\n')]);
    const before = policyBlocks(n);
    const r = setkey(n, ['--atomic', '-f', file([
      'spdadd 10.0.0.3 10.0.0.4 any -P out none;', 'spddelete 10.0.0.1 10.0.0.2 any -P out;',
      'spdupdate 10.0.0.9 10.0.0.8 any -P in ipsec esp/transport//unique:6;', 'spdflush;',
      'spdadd 10.0.0.5 10.0.0.6 any -P out none;', 'spdadd 10.0.0.5 10.0.0.6 any -P out none;',
    ].join('\n') + '\n')]);
    assert.is(r.code, 1);
    assert.is(r.out, 'The result of line 6: File exists.\n');
    assert.match(r.err, 'rolled back 6 operation(s)');
    assert.equal(policyBlocks(n), before);
    const ok = setkey(n, ['--atomic', '-f', file('spdadd 10.0.0.3 10.0.0.4 any -P out none;\nspddelete 10.0.0.1 10.0.0.2 any -P out;\n')]);
    assert.is(ok.code, 0, ok.err);
    assert.match(ipx(n, 'policy', 'count'), 'OUT 1 FWD 1');
  } finally { delNs(n); }
});

test('--atomic applies nothing when the file has a syntax error', () => {
  const n = ns();
  try {
    const r = setkey(n, ['--atomic', '-f', file('spdadd 10.0.0.1 10.0.0.2 any -P out none;\nspdadd bogus;\n')]);
    assert.is(r.code, 1);
    assert.match(r.err, 'nothing was applied');
    assert.match(ipx(n, 'policy', 'count'), 'OUT 0');
  } finally { delNs(n); }
});

test('100,000 policies load from one file', () => {
  const n = ns();
  try {
    let text = '';
    for (let i = 0; i < 100000; i++) text += `spdadd 10.${i >> 16}.${(i >> 8) & 255}.${i & 255} 11.0.0.1 any -P out ipsec esp/transport//require;\n`;
    const r = setkey(n, ['-f', file(text)]);
    assert.is(r.code, 0, r.out.slice(0, 500) + r.err.slice(0, 500));
    assert.match(ipx(n, 'policy', 'count'), 'OUT 100000');
  } finally { delNs(n); }
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
