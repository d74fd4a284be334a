// test/netns/agent-fleet.test.ts — a fleet of 5 `keyfleet agent` processes, each started from a JSON config file
// and managing its own netns, driven by `keyfleet remote` (tier netns: root): plan, sync, plan again, allocspi,
// stats, watch --json --since, per-host lines, summaries and the exit status when a host fails.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certs, run, newNetns, delNetns } from './agent-lib.js';
import { AgentClient } from '../../src/client/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'bin/keyfleet');
const certs = new Certs();
const f = (n: string): string => certs.file(n);

interface Host { ns: string; proc: ChildProcessWithoutNullStreams; address: string }
const hosts: Host[] = [];

/** Starts `keyfleet agent --config FILE` and waits for its "listening on" line. */
async function startHost(i: number): Promise<Host> {
  const ns = newNetns();
  writeFileSync(f('roles.json'), JSON.stringify({ 'controller.test': ['read', 'write', 'keys'], 'dashboard.test': ['read'] }));
  // Relative paths: resolved against the config file's directory.
  writeFileSync(f(`agent-${i}.json`), JSON.stringify({
    listen: '127.0.0.1:0', 'tls-cert': 'agent.crt', 'tls-key': 'agent.key', 'client-ca': 'ca.crt', roles: 'roles.json', netns: ns,
    'audit-log': `audit-${i}.log`, 'window-bytes': 65536,
  }));
  const proc = spawn(process.execPath, [BIN, 'agent', '--config', f(`agent-${i}.json`)]);
  const address = await new Promise<string>((resolve, reject) => {
    let out = '', err = '';
    proc.stdout.on('data', (d: Buffer) => { out += d; const m = /listening on (\S+)/.exec(out); if (m) resolve(m[1]!); });
    proc.stderr.on('data', (d: Buffer) => { err += d; });
    proc.on('exit', (code) => reject(new Error(`agent exited ${code}: ${err}`)));
  });
  return { ns, proc, address };
}

function remote(args: string[], who = 'controller'): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'remote', '--ca', f('ca.crt'), '--cert', f(`${who}.crt`), '--key', f(`${who}.key`), ...args]);
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** Waits until each host's agent counts at least `n` Watch subscribers (a CLI process starts slowly under load). */
async function subscribed(hs: Host[], n: number): Promise<void> {
  for (const h of hs) {
    const c = new AgentClient(h.address, certs.as('dashboard'));
    try {
      const deadline = Date.now() + 20000;
      while ((await c.stats()).subscribers < n) {
        if (Date.now() > deadline) throw new Error(`${h.address}: no Watch subscriber after 20 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      c.close();
    }
  }
}

test.before(async () => {
  for (let i = 0; i < 5; i++) hosts.push(await startHost(i));
});

test('a bad config file is refused with the file, the key and what was expected', async () => {
  writeFileSync(f('bad.json'), JSON.stringify({ listen: '127.0.0.1:0', 'window-bytes': 'lots' }));
  const r = await new Promise<{ code: number; err: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'agent', '--config', f('bad.json'), '--insecure']);
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, err }));
  });
  assert.is(r.code, 1);
  assert.match(r.err, `bad.json: "window-bytes": 'window-bytes' expects a positive whole number, not "lots"`);
});

test('`keyfleet remote plan|sync` over 5 agents: per-host changes, atomic sync, an empty second plan, summaries', async () => {
  const agents = hosts.map((h) => h.address).join(',');
  // Each host starts different: host i has a stale policy 10.60.i.1 and host 0 has the wanted one already.
  hosts.forEach((h, i) => run('ip', ['-n', h.ns, 'xfrm', 'policy', 'add', 'src', `10.60.${i}.1`, 'dst', '10.60.0.254', 'dir', 'out']));
  run('ip', ['-n', hosts[0]!.ns, 'xfrm', 'policy', 'add', 'src', '10.61.0.1', 'dst', '10.61.0.2', 'dir', 'out', 'priority', '100']);
  const desired = f('desired.ip');
  writeFileSync(desired, 'xfrm policy add src 10.61.0.1 dst 10.61.0.2 dir out priority 100\nxfrm policy add src 10.62.0.0/16 dst 10.63.0.0/16 dir in\n');
  const p = await remote(['--agent', agents, 'plan', desired]);
  assert.is(p.code, 0, p.err);
  assert.match(p.out, `${hosts[0]!.address}: - policy 10.60.0.1/32 -> 10.60.0.254/32 dir out`);
  assert.match(p.out, `${hosts[0]!.address}: + policy 10.62.0.0/16 -> 10.63.0.0/16 dir in [line 2]`);
  assert.match(p.out, `${hosts[0]!.address}: 1 to add, 0 to update, 1 to delete, 1 unchanged`);
  assert.match(p.out, `${hosts[3]!.address}: 2 to add, 0 to update, 1 to delete, 0 unchanged`);
  assert.match(p.out, 'summary: 5/5 agents ok');
  const s = await remote(['--agent', agents, 'sync', desired]);
  assert.is(s.code, 0, s.out + s.err);
  assert.match(s.out, 'summary: 5/5 agents ok');
  for (const h of hosts) {
    const pol = run('ip', ['-o', '-n', h.ns, 'xfrm', 'policy']);
    assert.not.match(pol, '10.60.');
    assert.match(pol, 'src 10.61.0.1/32 dst 10.61.0.2/32');
    assert.match(pol, 'src 10.62.0.0/16 dst 10.63.0.0/16');
  }
  const again = await remote(['--agent', agents, '--json', 'plan', desired]);
  assert.is(again.code, 0);
  const lines = again.out.trim().split('\n').map((l) => JSON.parse(l) as { agent: string; ok: boolean; result: { changes: unknown[]; unchanged: number } });
  assert.is(lines.length, 5);
  for (const l of lines) assert.equal([l.ok, l.result.changes.length, l.result.unchanged], [true, 0, 2]);
  // A read-only identity may plan but not sync; every host fails and the exit status says so.
  const ro = await remote(['--agent', agents, 'sync', desired], 'dashboard');
  assert.is(ro.code, 1);
  assert.match(ro.out, "needs the 'write' role");
  assert.match(ro.out, 'summary: 0/5 agents ok, 5 failed');
});

test('`keyfleet remote allocspi`, `stats` and `watch --json --since` across the fleet; one unreachable host fails the run', async () => {
  const agents = hosts.map((h) => h.address).join(',');
  const a = await remote(['--agent', agents, 'allocspi', '10.70.0.2', '--src', '10.70.0.1', '--min', '0x4000', '--max', '0x40ff']);
  assert.is(a.code, 0, a.out + a.err);
  for (const h of hosts) {
    const m = new RegExp(`${h.address.replace(/\./g, '\\.')}: spi 0x(\\w+)`).exec(a.out);
    assert.ok(m, a.out);
    const spi = parseInt(m![1]!, 16);
    assert.ok(spi >= 0x4000 && spi <= 0x40ff);
    assert.match(run('ip', ['-n', h.ns, 'xfrm', 'state']), `spi 0x${m![1]}`);
  }
  const st = await remote(['--agent', `${agents},127.0.0.1:1`, '--json', 'stats']);
  assert.is(st.code, 1);
  const rows = st.out.trim().split('\n').map((l) => JSON.parse(l) as { agent: string; ok: boolean; result?: { saCount: number; netns: string; kernelCounters: { name: string }[] } });
  assert.equal(rows.map((r) => r.ok), [true, true, true, true, true, false]);
  rows.slice(0, 5).forEach((r, i) => {
    assert.is(r.result!.netns, hosts[i]!.ns);
    assert.is(r.result!.saCount, 1);
    assert.ok(r.result!.kernelCounters.some((k) => k.name === 'XfrmOutNoStates'));
  });
  // watch: events of two hosts as JSON lines; then resume host 0 from the first event's sequence.
  const two = `${hosts[0]!.address},${hosts[1]!.address}`;
  const w = spawn(process.execPath, [BIN, 'remote', '--ca', f('ca.crt'), '--cert', f('dashboard.crt'), '--key', f('dashboard.key'), '--agent', two, '--json', 'watch']);
  let out = '';
  w.stdout.on('data', (d: Buffer) => { out += d; });
  await subscribed([hosts[0]!, hosts[1]!], 1);
  run('ip', ['-n', hosts[0]!.ns, 'xfrm', 'policy', 'add', 'src', '10.80.0.1', 'dst', '10.80.0.2', 'dir', 'out']);
  run('ip', ['-n', hosts[1]!.ns, 'xfrm', 'policy', 'add', 'src', '10.81.0.1', 'dst', '10.81.0.2', 'dir', 'out']);
  run('ip', ['-n', hosts[0]!.ns, 'xfrm', 'policy', 'delete', 'src', '10.80.0.1', 'dst', '10.80.0.2', 'dir', 'out']);
  const deadline = Date.now() + 10000;
  while (out.trim().split('\n').filter(Boolean).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  w.kill('SIGINT');
  await new Promise((r) => w.on('close', r));
  const evs = out.trim().split('\n').filter((l) => l.startsWith('{') && l.includes('"sequence"')).map((l) => JSON.parse(l) as { agent: string; sequence: string; type: string; entry?: { selector: { src: string } } });
  const h0 = evs.filter((e) => e.agent === hosts[0]!.address);
  const h1 = evs.filter((e) => e.agent === hosts[1]!.address);
  assert.equal(h0.map((e) => [e.type, e.entry?.selector.src]), [['new_policy', '10.80.0.1/32'], ['delete_policy', '10.80.0.1/32']]);
  assert.equal(h1.map((e) => e.type), ['new_policy']);
  const since = h0[0]!.sequence;
  const w2 = spawn(process.execPath, [BIN, 'remote', '--ca', f('ca.crt'), '--cert', f('dashboard.crt'), '--key', f('dashboard.key'), '--agent', hosts[0]!.address, '--json', 'watch', '--since', since]);
  let out2 = '';
  w2.stdout.on('data', (d: Buffer) => { out2 += d; });
  await subscribed([hosts[0]!], 1);
  const d2 = Date.now() + 10000;
  while (!out2.includes('delete_policy') && Date.now() < d2) await new Promise((r) => setTimeout(r, 50));
  w2.kill('SIGINT');
  await new Promise((r) => w2.on('close', r));
  const replay = JSON.parse(out2.trim().split('\n')[0]!) as { sequence: string; type: string };
  assert.equal([replay.type, BigInt(replay.sequence)], ['delete_policy', BigInt(since) + 1n]);
});

test('`keyfleet remote apply` takes JSON operations and `--stream`s a setkey file; `get policy` shows one entry', async () => {
  const two = `${hosts[3]!.address},${hosts[4]!.address}`;
  const ops = f('ops.json');
  writeFileSync(ops, JSON.stringify([{ addPolicy: { selector: { src: '10.90.0.1', dst: '10.90.0.2' }, dir: 'DIRECTION_OUT', priority: 9 } }]));
  const j = await remote(['--agent', two, 'apply', ops]);
  assert.is(j.code, 0, j.out + j.err);
  assert.match(j.out, `${hosts[3]!.address}: ok, 1 applied`);
  const big = f('big.conf');
  writeFileSync(big, Array.from({ length: 5000 }, (_, i) => `spdadd 10.91.${i >> 8}.${i & 255} 10.92.0.1 any -P in none;`).join('\n') + '\n');
  const st = await remote(['--agent', two, 'apply', big, '--stream']);
  assert.is(st.code, 0, st.out + st.err);
  // setkey's RFC mode (the default) gives every `in` policy a fwd copy; IN has the synced policy too.
  assert.match(st.out, `${hosts[4]!.address}: ok, 10000 applied`, st.out);
  for (const h of hosts.slice(3)) assert.match(run('ip', ['-n', h.ns, 'xfrm', 'policy', 'count']), /IN\s+5001 OUT\s+\d+ FWD\s+5000/);
  const g = await remote(['--agent', hosts[3]!.address, '--json', 'get', 'policy', '10.90.0.1', '10.90.0.2', 'out']);
  assert.is(g.code, 0, g.out + g.err);
  const row = JSON.parse(g.out.trim()) as { ok: boolean; result: { priority: number; dir: string } };
  assert.equal([row.ok, row.result.priority, row.result.dir], [true, 9, 'out']);
  const bad = f('bad-ops.json');
  writeFileSync(bad, '[{"addPolicy": {"selector": {"src": "10.90.0.300", "dst": "10.90.0.2"}, "dir": "DIRECTION_OUT"}}]');
  const b = await remote(['--agent', hosts[3]!.address, 'apply', bad]);
  assert.is(b.code, 1);
  assert.match(b.out, "operations[0].add_policy.selector.src: '10.90.0.300' is not an IPv4 or IPv6 address");
});

test.after(async () => {
  for (const h of hosts) {
    h.proc.kill('SIGTERM');
    await new Promise((r) => { if (h.proc.exitCode !== null) r(null); else h.proc.on('exit', r); });
    delNetns(h.ns);
  }
  certs.remove();
});

test.run();
