// test/netns/agent.test.ts — `keyfleet agent` end to end over mTLS on 127.0.0.1:0 (tier netns: root). Each
// agent manages a fresh network namespace; certificates are made here with openssl. Covers Apply → List →
// `ip xfrm policy`, rejections (no client certificate, wrong CA, read-only identity), Watch of a policy
// added with `ip`, and a fleet of 5 agents driven by `keyfleet remote apply` with a summary.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startAgent, type Agent } from '../../src/agent/server.js';
import { AgentClient, EntryKind, EventType, OperationStatus, type Entry } from '../../src/client/index.js';
import { Certs, run, newNetns, delNetns, collect, rejection, withAgent as withAgentOf } from './agent-lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const certs = new Certs();
const f = (n: string): string => certs.file(n);
const read = (n: string): Buffer => certs.read(n);
const tls = certs.tls;
const ROLES = certs.roles;
const as = (who: string, ca = 'ca') => certs.as(who, ca);
const withAgent = (fn: (a: Agent, ns: string) => Promise<void>, audit?: string): Promise<void> => withAgentOf(certs, fn, audit ? { auditLog: audit } : {});

const POLICIES = 'spdadd 10.1.0.1 10.1.0.2 any -P out ipsec esp/transport//require;\nspdadd 10.1.0.3/32 10.1.0.4/32 tcp -P out none;\n';

test('Apply of setkey policy text over mTLS reaches the netns; List and `ip xfrm policy` show the policies', async () => {
  const audit = f('audit.log');
  await withAgent(async (agent, ns) => {
    const c = new AgentClient(agent.address, as('controller'));
    try {
      const r = await c.apply(POLICIES, {}, 'policies.conf');
      assert.ok(r.ok, JSON.stringify(r));
      assert.is(r.applied, 2);
      assert.equal(r.results.map((x) => [x.line, x.operation, x.status]), [[1, 'spdadd', OperationStatus.OPERATION_STATUS_OK], [2, 'spdadd', OperationStatus.OPERATION_STATUS_OK]]);
      const listed = await collect(c.list(EntryKind.ENTRY_KIND_POLICY));
      assert.equal(listed.map((e: Entry) => `${e.src} ${e.dst} ${e.dir}`).sort(), ['10.1.0.1/32 10.1.0.2/32 out', '10.1.0.3/32 10.1.0.4/32 out']);
      const ipOut = run('ip', ['-n', ns, 'xfrm', 'policy']);
      assert.match(ipOut, 'src 10.1.0.1/32 dst 10.1.0.2/32');
      assert.match(ipOut, /src 10\.1\.0\.3\/32 dst 10\.1\.0\.4\/32 proto tcp/);
      // The same batch again: each operation fails with EEXIST, reported per line.
      const again = await c.apply(POLICIES, { continueOnError: true });
      assert.not.ok(again.ok);
      assert.equal(again.results.map((x) => [x.line, x.code, x.errno]), [[1, 'EEXIST', 17], [2, 'EEXIST', 17]]);
    } finally {
      c.close();
    }
  }, audit);
  const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { who: string; method: string; result: { ok: boolean } });
  assert.equal(lines.map((l) => [l.who, l.method, l.result.ok]), [['controller.test', 'Apply', true], ['controller.test', 'Apply', false]]);
  assert.not.match(readFileSync(audit, 'utf8'), 'spdadd');
});

test('a caller without a client certificate, with one from another CA, or without the write role is rejected', async () => {
  await withAgent(async (agent, ns) => {
    const anon = new AgentClient(agent.address, { ca: read('ca.crt'), deadlineMs: 5000 });
    const rogue = new AgentClient(agent.address, as('rogue'));
    const dash = new AgentClient(agent.address, as('dashboard'));
    try {
      const e1 = await rejection(anon.apply(POLICIES));
      assert.is(e1.code, 14, `no client cert: ${e1.message}`); // UNAVAILABLE: the TLS handshake fails
      const e2 = await rejection(rogue.apply(POLICIES));
      assert.is(e2.code, 14, `wrong CA: ${e2.message}`);
      const e3 = await rejection(dash.apply(POLICIES));
      assert.is(e3.code, 7, e3.message); // PERMISSION_DENIED
      assert.match(e3.message, "needs the 'write' role");
      const e4 = await rejection(dash.flush());
      assert.is(e4.code, 7);
      // The read role may list; nothing was applied.
      assert.equal(await collect(dash.list()), []);
      assert.is(run('ip', ['-n', ns, 'xfrm', 'policy']).trim(), '');
    } finally {
      anon.close(); rogue.close(); dash.close();
    }
  });
});

test('malformed requests get INVALID_ARGUMENT naming the field; read statements are refused by Apply', async () => {
  await withAgent(async (agent) => {
    const c = new AgentClient(agent.address, as('controller'));
    try {
      const e1 = await rejection(c.apply(''));
      assert.is(e1.code, 3);
      assert.match(e1.message, 'setkey_text');
      const e2 = await rejection(c.apply('dump esp;\n'));
      assert.is(e2.code, 3);
      assert.match(e2.message, 'use List');
      const e3 = await rejection(c.apply(POLICIES, { atomic: true, continueOnError: true }));
      assert.is(e3.code, 3);
      assert.match(e3.message, 'options');
      // A parse error is a result, not a crash: diagnostics with the line, nothing applied.
      const r = await c.apply('spdadd 10.0.0.1 10.0.0.2 any -P sideways none;\n');
      assert.not.ok(r.ok);
      assert.is(r.diagnostics[0]?.line, 1);
      const s = await c.stats();
      assert.is(s.policyCount, 0);
    } finally {
      c.close();
    }
  });
});

test('Watch delivers a policy added with `ip xfrm policy add`, with a sequence number', async () => {
  await withAgent(async (agent, ns) => {
    const c = new AgentClient(agent.address, as('dashboard'));
    const ac = new AbortController();
    try {
      const w = c.watch({}, ac.signal);
      // a second subscriber takes whole WatchResponses (`batches`): the same events, in the same order
      const wb = c.watch({}, ac.signal);
      await Promise.all([w.ready, wb.ready]);
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'dir', 'out']);
      run('ip', ['-n', ns, 'xfrm', 'policy', 'delete', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'dir', 'out']);
      const got: { seq: bigint; type: EventType; src?: string }[] = [];
      for await (const ev of w.events) {
        got.push({ seq: ev.sequence, type: ev.type, ...(ev.entry ? { src: ev.entry.src } : {}) });
        if (got.length === 2) break;
      }
      assert.equal(got.map((g) => [g.type, g.src]), [[EventType.EVENT_TYPE_NEW_POLICY, '192.0.2.1/32'], [EventType.EVENT_TYPE_DELETE_POLICY, '192.0.2.1/32']]);
      assert.ok(got[1]!.seq > got[0]!.seq);
      const batched: { seq: bigint; type: EventType; src?: string }[] = [];
      for await (const batch of wb.batches) {
        assert.ok(batch.length > 0, 'a WatchResponse carries at least one event');
        for (const ev of batch) batched.push({ seq: ev.sequence, type: ev.type, ...(ev.entry ? { src: ev.entry.src } : {}) });
        if (batched.length >= 2) break;
      }
      assert.equal(batched, got);
    } finally {
      ac.abort();
      c.close();
    }
  });
});

test('ApplyStream takes a bulk batch in arbitrary chunks (2000 policies) and Stats counts them', async () => {
  await withAgent(async (agent, ns) => {
    const c = new AgentClient(agent.address, as('controller'));
    try {
      let text = '';
      for (let i = 0; i < 2000; i++) text += `spdadd 10.${(i >> 8) & 255}.${i & 255}.1 172.16.0.1 any -P out none;\n`;
      const bytes = Buffer.from(text);
      const chunks = function* (): Generator<Uint8Array> { for (let o = 0; o < bytes.length; o += 777) yield bytes.subarray(o, o + 777); };
      const r = await c.applyStream(chunks(), {}, 'bulk.conf');
      assert.ok(r.ok, r.output);
      assert.is(r.applied, 2000);
      const s = await c.stats();
      assert.is(s.policyCount, 2000);
      assert.is(s.netns, ns);
      assert.is(run('ip', ['-n', ns, 'xfrm', 'policy', 'count']).trim().replace(/\s+/g, ' '), 'SPD IN 0 OUT 2000 FWD 0');
    } finally {
      c.close();
    }
  });
});

test('`keyfleet remote apply` drives a fleet of 5 agents (each in its own netns) and prints a summary', async () => {
  const agents: { agent: Agent; ns: string }[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const ns = newNetns();
      agents.push({ ns, agent: await startAgent({ listen: '127.0.0.1:0', tls, roles: ROLES, netns: ns }) });
    }
    const conf = f('fleet.conf');
    writeFileSync(conf, POLICIES);
    const remote = (extra: string[]): Promise<{ code: number; out: string }> => new Promise((resolve) => {
      const p = spawn(process.execPath, [path.join(ROOT, 'bin/keyfleet'), 'remote', '--agent', [...agents.map((a) => a.agent.address), ...extra].join(','),
        '--ca', f('ca.crt'), '--cert', f('controller.crt'), '--key', f('controller.key'), 'apply', conf], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      p.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
    const r = await remote([]);
    assert.is(r.code, 0, r.out);
    for (const a of agents) assert.match(r.out, `${a.agent.address}: ok, 2 applied`);
    assert.match(r.out, 'summary: 5/5 agents ok');
    for (const a of agents) assert.match(run('ip', ['-n', a.ns, 'xfrm', 'policy']), 'src 10.1.0.1/32 dst 10.1.0.2/32');
    // Again, plus one address where no agent listens: every host fails, the exit status says so.
    const r2 = await remote(['127.0.0.1:1']);
    assert.is(r2.code, 1, r2.out);
    assert.match(r2.out, '127.0.0.1:1: error');
    assert.match(r2.out, /summary: 0\/6 agents ok, 6 failed/);
  } finally {
    for (const a of agents) {
      await a.agent.close();
      delNetns(a.ns);
    }
  }
});

test.after(() => certs.remove());

test.run();
