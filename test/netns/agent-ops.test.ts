// test/netns/agent-ops.test.ts — the agent's batch forms, Plan/Sync, Get, AllocSpi, filters, Stats and Watch
// against this kernel (tier netns: root), each agent over mTLS on 127.0.0.1:0 managing a fresh netns. Kernel
// state is read back with `ip xfrm`; events are provoked with ip and with packets sent inside the netns.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AgentClient, EntryKind, EventType, OperationStatus, Direction, IpsecProtocol, Mode, ChangeAction, PolicyAction,
  type Operation, type Policy, type WatchEvent,
} from '../../src/client/index.js';
import { Certs, run, collect, rejection, withAgent, take } from './agent-lib.js';

const certs = new Certs();

const sel = (src: string, dst: string) => ({ src, dst, proto: 0, sport: 0, dport: 0 });
function policy(src: string, dst: string, dir: Direction, extra: Partial<Policy> = {}): Policy {
  return { selector: sel(src, dst), dir, action: PolicyAction.POLICY_ACTION_UNSPECIFIED, priority: 0, index: 0, templates: [], ifId: 0, ...extra };
}
const add = (p: Policy): Operation => ({ addPolicy: p });
const ipPolicies = (ns: string): string => run('ip', ['-n', ns, 'xfrm', 'policy']);
/** ip's listing as a sorted set of one-line entries (the kernel's order of equal-priority policies varies). */
const policySet = (ns: string): string[] => run('ip', ['-o', '-n', ns, 'xfrm', 'policy']).trim().split('\n').filter(Boolean).map((l) => l.replace(/\s+/g, ' ').trim()).sort();

test('Apply with structured operations: policies reach the kernel as ip shows them; results per operation', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    try {
      const tmpl = { protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, mode: Mode.MODE_TUNNEL, src: '192.0.2.1', dst: '192.0.2.2', spi: 0, reqid: 7, optional: false };
      const r = await c.apply({ operations: [
        add(policy('10.0.0.1', '10.0.0.2', Direction.DIRECTION_OUT, { priority: 5, templates: [tmpl] })),
        add(policy('10.1.0.0/24', '10.2.0.0/16', Direction.DIRECTION_IN, { action: PolicyAction.POLICY_ACTION_BLOCK })),
      ] });
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.results.map((x) => [x.index, x.line, x.operation, x.status]), [[0, 0, 'spdadd', OperationStatus.OPERATION_STATUS_OK], [1, 0, 'spdadd', OperationStatus.OPERATION_STATUS_OK]]);
      const out = ipPolicies(ns);
      assert.match(out, /src 10\.0\.0\.1\/32 dst 10\.0\.0\.2\/32 \n\tdir out priority 5 ptype main \n\ttmpl src 192\.0\.2\.1 dst 192\.0\.2\.2\n\t\tproto esp reqid 7 mode tunnel/);
      assert.match(out, /src 10\.1\.0\.0\/24 dst 10\.2\.0\.0\/16 \n\tdir in action block priority 0/);
      // Same again plus a new one, continue_on_error: two EEXIST, one OK, each with its index.
      const again = await c.apply({ operations: [add(policy('10.0.0.1', '10.0.0.2', Direction.DIRECTION_OUT)), add(policy('10.3.0.1', '10.3.0.2', Direction.DIRECTION_FWD)), add(policy('10.1.0.0/24', '10.2.0.0/16', Direction.DIRECTION_IN))] }, { continueOnError: true });
      assert.not.ok(again.ok);
      assert.equal(again.results.map((x) => [x.index, x.status, x.code, x.errno]), [
        [0, OperationStatus.OPERATION_STATUS_FAILED, 'EEXIST', 17], [1, OperationStatus.OPERATION_STATUS_OK, '', 0], [2, OperationStatus.OPERATION_STATUS_FAILED, 'EEXIST', 17]]);
      // Without continue_on_error the batch stops at the failing chunk: the later operation is not applied.
      const stop = await c.apply({ operations: [add(policy('10.0.0.1', '10.0.0.2', Direction.DIRECTION_OUT)), add(policy('10.4.0.1', '10.4.0.2', Direction.DIRECTION_OUT))] });
      assert.is(stop.results[0]!.code, 'EEXIST');
      assert.ok([OperationStatus.OPERATION_STATUS_OK, OperationStatus.OPERATION_STATUS_NOT_APPLIED].includes(stop.results[1]!.status));
      // delete_policy and flush_policies.
      const del = await c.apply({ operations: [{ deletePolicy: { selector: sel('10.3.0.1', '10.3.0.2'), dir: Direction.DIRECTION_FWD, index: 0 } }] });
      assert.ok(del.ok, JSON.stringify(del));
      assert.not.match(ipPolicies(ns), '10.3.0.1');
      const fl = await c.apply({ operations: [{ flushPolicies: {} }] });
      assert.ok(fl.ok);
      assert.is(ipPolicies(ns).trim(), '');
    } finally {
      c.close();
    }
  });
});

test('structured Apply: atomic undoes the batch when one operation fails; dry_run sends nothing; bad fields are named', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    try {
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '10.9.0.1', 'dst', '10.9.0.2', 'dir', 'out', 'priority', '3']);
      const before = policySet(ns);
      // The third operation is refused by the kernel (a transport template of another family: validate_tmpl EINVAL).
      const v6 = { protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, mode: Mode.MODE_TRANSPORT, src: '2001:db8::1', dst: '2001:db8::2', spi: 0, reqid: 0, optional: false };
      const r = await c.apply({ operations: [
        add(policy('10.5.0.1', '10.5.0.2', Direction.DIRECTION_OUT)),
        { updatePolicy: policy('10.9.0.1', '10.9.0.2', Direction.DIRECTION_OUT, { priority: 99 }) },
        add(policy('10.6.0.1', '10.6.0.2', Direction.DIRECTION_OUT, { templates: [v6] })),
      ] }, { atomic: true });
      assert.not.ok(r.ok);
      assert.is(r.results[2]!.code, 'EINVAL');
      assert.is(r.rolledBack, 2);
      assert.equal(r.results.slice(0, 2).map((x) => x.status), [OperationStatus.OPERATION_STATUS_ROLLED_BACK, OperationStatus.OPERATION_STATUS_ROLLED_BACK]);
      assert.equal(policySet(ns), before);
      const dry = await c.apply({ operations: [add(policy('10.7.0.1', '10.7.0.2', Direction.DIRECTION_OUT))] }, { dryRun: true });
      assert.ok(dry.ok);
      assert.is(dry.applied, 0);
      assert.is(dry.results[0]!.status, OperationStatus.OPERATION_STATUS_NOT_APPLIED);
      assert.equal(policySet(ns), before);
      const e1 = await rejection(c.apply({ operations: [add(policy('10.7.0.1', '10.7.0.2', Direction.DIRECTION_OUT)), add(policy('10.7.0.1', '10.7.0.2', Direction.DIRECTION_UNSPECIFIED))] }));
      assert.is(e1.code, 3);
      assert.match(e1.message, 'operations[1].add_policy.dir');
      const e2 = await rejection(c.apply({ operations: [add(policy('10.7.0.1', 'not-an-address', Direction.DIRECTION_OUT))] }));
      assert.match(e2.message, 'operations[0].add_policy.selector.dst');
      const e3 = await rejection(c.apply({ operations: [{}] }));
      assert.match(e3.message, 'operations[0]: empty');
      assert.equal(policySet(ns), before); // nothing of a rejected batch was applied
    } finally {
      c.close();
    }
  });
});

test('Apply with ip -batch text: per-line results; a syntax error applies nothing; reads are refused', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    try {
      const text = 'xfrm policy add src 10.8.0.1 dst 10.8.0.2 dir out priority 8\n\nxfrm policy add src 10.8.0.1 dst 10.8.0.2 dir out\nxfrm policy add src 10.8.0.3 dst 10.8.0.4 dir in\n';
      const r = await c.apply({ ip: text }, { continueOnError: true });
      assert.equal(r.results.map((x) => [x.index, x.line, x.code]), [[0, 1, ''], [1, 3, 'EEXIST'], [2, 4, '']]);
      assert.match(ipPolicies(ns), 'src 10.8.0.3/32 dst 10.8.0.4/32');
      const bad = await c.apply({ ip: 'xfrm policy add src 10.8.1.1 dst 10.8.1.2 dir out\nxfrm policy add src 10.8.1.3 dst 10.8.1.4 dir sideways\n' });
      assert.not.ok(bad.ok);
      assert.is(bad.diagnostics[0]!.line, 2);
      assert.match(bad.diagnostics[0]!.message, 'sideways');
      assert.not.match(ipPolicies(ns), '10.8.1.1');
      const e = await rejection(c.apply({ ip: 'xfrm policy list\n' }));
      assert.is(e.code, 3);
      assert.match(e.message, 'line 1');
    } finally {
      c.close();
    }
  });
});

test('Plan shows the minimal diff against the kernel; Sync applies it; a second Plan is empty; a failing Sync changes nothing', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    try {
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '10.20.0.1', 'dst', '10.20.0.2', 'dir', 'out', 'priority', '10']);
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '10.21.0.1', 'dst', '10.21.0.2', 'dir', 'out']);
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '10.22.0.1', 'dst', '10.22.0.2', 'dir', 'in']);
      const desired = [
        'xfrm policy add src 10.20.0.1 dst 10.20.0.2 dir out priority 20',
        'xfrm policy add src 10.22.0.1 dst 10.22.0.2 dir in',
        'xfrm policy add src 10.23.0.0/24 dst 10.24.0.0/24 dir fwd tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 3',
      ].join('\n') + '\n';
      const p = await c.plan({ ip: desired });
      const summary = p.changes.map((x) => [x.action, x.entry!.src, x.entry!.dir, x.differs, x.line]);
      assert.equal(summary, [
        [ChangeAction.CHANGE_ACTION_UPDATE, '10.20.0.1/32', 'out', 'priority', 1],
        [ChangeAction.CHANGE_ACTION_ADD, '10.23.0.0/24', 'fwd', '', 3],
        [ChangeAction.CHANGE_ACTION_DELETE, '10.21.0.1/32', 'out', '', 0],
      ]);
      assert.equal([p.adds, p.updates, p.deletes, p.unchanged], [1, 1, 1, 1]);
      assert.match(ipPolicies(ns), '10.21.0.1'); // Plan changes nothing
      const s = await c.sync({ ip: desired });
      assert.ok(s.ok, JSON.stringify(s.results));
      const after = ipPolicies(ns);
      assert.not.match(after, '10.21.0.1');
      assert.match(after, /src 10\.20\.0\.1\/32 dst 10\.20\.0\.2\/32 \n\tdir out priority 20/);
      assert.match(after, /src 10\.23\.0\.0\/24 dst 10\.24\.0\.0\/24 \n\tdir fwd priority 0 ptype main \n\ttmpl src 192\.0\.2\.1 dst 192\.0\.2\.2\n\t\tproto esp reqid 3 mode tunnel/);
      const p2 = await c.plan({ ip: desired });
      assert.equal([p2.changes.length, p2.unchanged], [0, 3]);
      // The same desired state as setkey text plans nothing either (the kernel state is the same).
      // setkey text plans the same way (its default priority is the kernel's 0x80000000, hence an update).
      const p3 = await c.plan('spdadd 10.20.0.1 10.20.0.2 any -P out none;\n', { kameMode: true });
      assert.equal(p3.changes.map((x) => [x.action, x.entry!.src, x.differs]).sort((a, b) => String(a).localeCompare(String(b))), [
        [ChangeAction.CHANGE_ACTION_UPDATE, '10.20.0.1/32', 'priority'], [ChangeAction.CHANGE_ACTION_DELETE, '10.22.0.1/32', ''], [ChangeAction.CHANGE_ACTION_DELETE, '10.23.0.0/24', '']]);
      // A desired state with one entry the kernel refuses: Sync is atomic, the tables stay exactly as they were.
      const before = policySet(ns);
      const broken = `${desired}xfrm policy add src 10.25.0.1 dst 10.25.0.2 dir out tmpl src 2001:db8::1 dst 2001:db8::2 proto esp mode transport\n`;
      const bad = await c.sync({ ip: broken.replace('priority 20', 'priority 30').replace(/.*10\.22\.0\.1.*\n/, '') });
      assert.not.ok(bad.ok);
      assert.ok(bad.rolledBack >= 1, JSON.stringify(bad));
      assert.is(bad.results[0]!.code, 'EINVAL');
      assert.equal(policySet(ns), before);
      // An empty desired state is refused (it would plan deleting everything).
      const empty = await rejection(c.sync(''));
      assert.is(empty.code, 3);
      assert.match(empty.message, 'desired: empty');
      // A delete in a desired state is a request error, not a plan.
      const e = await rejection(c.plan({ ip: 'xfrm policy delete src 10.20.0.1 dst 10.20.0.2 dir out\n' }));
      assert.is(e.code, 3);
      assert.match(e.message, 'desired: line 1');
    } finally {
      c.close();
    }
  });
});

test('Get returns one policy or NOT_FOUND; AllocSpi picks SPIs in the range; List filters by direction and address', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    const reader = new AgentClient(agent.address, certs.as('dashboard'));
    try {
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '10.30.0.1', 'dst', '10.30.0.2', 'dir', 'out', 'priority', '4']);
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '10.31.0.1', 'dst', '10.31.0.2', 'dir', 'in']);
      const g = await reader.get({ policy: { selector: sel('10.30.0.1', '10.30.0.2'), dir: Direction.DIRECTION_OUT, index: 0 } });
      assert.equal([g.src, g.dst, g.dir, g.priority], ['10.30.0.1/32', '10.30.0.2/32', 'out', 4]);
      const nf = await rejection(reader.get({ policy: { selector: sel('10.30.0.1', '10.30.0.2'), dir: Direction.DIRECTION_IN, index: 0 } }));
      assert.is(nf.code, 5);
      const e = await rejection(reader.allocSpi({ dst: '10.30.0.2' }));
      assert.is(e.code, 7); // AllocSpi needs write
      const a = await c.allocSpi({ src: '10.30.0.1', dst: '10.30.0.2', min: 0x2000, max: 0x20ff, reqid: 1 });
      assert.ok(a.spi >= 0x2000 && a.spi <= 0x20ff, a.spi.toString(16));
      assert.match(run('ip', ['-n', ns, 'xfrm', 'state']), `spi 0x${a.spi.toString(16).padStart(8, '0')}`);
      const one = await c.allocSpi({ src: '10.30.0.1', dst: '10.30.0.2', min: 0x3000, max: 0x3000, reqid: 2 });
      assert.is(one.spi, 0x3000);
      const full = await rejection(c.allocSpi({ src: '10.30.0.1', dst: '10.30.0.2', min: 0x3000, max: 0x3000, reqid: 3 }));
      assert.ok(full.code === 8 || full.code === 6, `${full.code} ${full.message}`);
      const bad = await rejection(c.allocSpi({ dst: '10.30.0.2', min: 9, max: 3 }));
      assert.is(bad.code, 3);
      assert.match(bad.message, 'max');
      const ins = await collect(reader.list(EntryKind.ENTRY_KIND_POLICY, { dir: Direction.DIRECTION_IN }));
      assert.equal(ins.map((x) => x.src), ['10.31.0.1/32']);
      // The failed allocation left a larval SA with SPI 0 behind (xfrm_find_acq made it): the kernel's doing, and List shows it as ip does.
      const byAddr = await collect(reader.list(EntryKind.ENTRY_KIND_UNSPECIFIED, { address: '10.30.0.2' }));
      const ipSas = run('ip', ['-n', ns, 'xfrm', 'state']).split('\n').filter((l) => l.startsWith('src 10.30.0.1 dst 10.30.0.2')).length;
      assert.is(ipSas, 3);
      assert.equal(byAddr.map((x) => x.kind), [...Array(ipSas).fill(EntryKind.ENTRY_KIND_SA), EntryKind.ENTRY_KIND_POLICY]);
      const bySpi = await collect(reader.list(EntryKind.ENTRY_KIND_SA, { spi: 0x3000 }));
      assert.equal(bySpi.map((x) => x.spi), [0x3000]);
    } finally {
      c.close();
      reader.close();
    }
  });
});

/** Sends one UDP datagram inside the netns (bash's /dev/udp); returns whether the send succeeded. */
function sendUdp(ns: string, dst: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', `echo x > /dev/udp/${dst}/9`], { stdio: 'ignore' }).status === 0;
}

function enableLoopbackXfrm(ns: string): void {
  run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // Loopback skips IPsec by default (disable_xfrm/disable_policy = 1 on lo).
  run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.lo.disable_xfrm=0', 'net.ipv4.conf.lo.disable_policy=0']);
}

test('Stats reports the netns\'s /proc/net/xfrm_stat counters (a blocked packet counts) and agent counters', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('dashboard'));
    try {
      enableLoopbackXfrm(ns);
      const counter = async (name: string): Promise<bigint> => (await c.stats()).kernelCounters.find((k) => k.name === name)?.value ?? -1n;
      assert.is(await counter('XfrmOutPolBlock'), 0n);
      run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', '127.0.0.1', 'dst', '127.0.0.3', 'dir', 'out', 'action', 'block']);
      assert.not.ok(sendUdp(ns, '127.0.0.3'));
      assert.is(await counter('XfrmOutPolBlock'), 1n);
      const s = await c.stats({ includeSaCounters: true });
      assert.is(s.policyCount, 1);
      assert.is(s.netns, ns);
      assert.equal(s.saCounters, []);
      // The host's own counter is another namespace's: it must not be what we read.
      assert.ok(s.kernelCounters.length >= 20);
    } finally {
      c.close();
    }
  });
});

test('ApplyStream holds a bounded window: 20000 policies in 64 KiB windows, backpressure, lines of the whole text', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    try {
      const lines: string[] = [];
      for (let i = 0; i < 20000; i++) lines.push(`spdadd 10.${(i >> 8) & 255}.${i & 255}.1 172.16.0.1 any -P out none; # policy ${i}; "quoted;"`);
      lines[14999] = 'spdadd 10.0.0.1 172.16.0.1 any -P out none;'; // a duplicate of line 1: EEXIST at line 15000
      const bytes = Buffer.from(lines.join('\n') + '\n');
      const chunk = 16 << 10;
      const chunks = function* (): Generator<Uint8Array> { for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk); };
      const r = await c.applyStream(chunks(), { continueOnError: true }, 'bulk.conf');
      assert.is(r.applied, 19999);
      assert.equal(r.results.filter((x) => x.status === OperationStatus.OPERATION_STATUS_FAILED).map((x) => [x.line, x.code, x.index]), [[15000, 'EEXIST', 14999]]);
      assert.ok(r.windows >= 10, `windows ${r.windows}`);
      assert.ok(r.peakWindowBytes <= BigInt((64 << 10) + chunk), `peak ${r.peakWindowBytes}`);
      assert.ok(r.backpressured > 0, 'the client never had to wait for the agent');
      assert.is(run('ip', ['-n', ns, 'xfrm', 'policy', 'count']).trim().replace(/\s+/g, ' '), 'SPD IN 0 OUT 19999 FWD 0');
      // Structured operations stream in windows of operations too.
      const ops = function* (): Generator<Operation[]> {
        for (let b = 0; b < 5; b++) yield Array.from({ length: 700 }, (_, i) => add(policy(`10.200.${b}.${i & 255}`, `10.201.${i >> 8}.1`, Direction.DIRECTION_IN)));
      };
      const r2 = await c.applyStream(ops());
      assert.ok(r2.ok, JSON.stringify(r2.results.slice(0, 3)));
      assert.is(r2.applied, 3500);
      assert.ok(r2.windows >= 3, `windows ${r2.windows}`);
      assert.is(run('ip', ['-n', ns, 'xfrm', 'policy', 'count']).trim().replace(/\s+/g, ' '), 'SPD IN 3500 OUT 19999 FWD 0');
    } finally {
      c.close();
    }
  }, { limits: { windowBytes: 64 << 10, windowOperations: 1000 } });
});

test('ApplyStream stops at a setkey `exit` as setkey stops reading: later windows are not applied, not even parsed', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('controller'));
    try {
      const lines: string[] = [];
      for (let i = 0; i < 400; i++) lines.push(`spdadd 10.7.${i >> 8}.${i & 255} 172.16.0.1 any -P out none; # policy ${i}`);
      lines[249] = 'exit;'; // line 250, in a later window than the first
      lines[300] = 'this is no statement;'; // after exit: setkey never reads it
      const text = lines.join('\n') + '\n';
      const bytes = Buffer.from(text);
      const chunks = function* (): Generator<Uint8Array> { for (let o = 0; o < bytes.length; o += 1000) yield bytes.subarray(o, o + 1000); };
      const unary = await c.apply(text, {}, 'exit.conf');
      assert.ok(unary.ok, JSON.stringify(unary.diagnostics));
      assert.is(unary.applied, 249);
      const wantSet = policySet(ns);
      assert.is(wantSet.length, 249);
      await c.flush(EntryKind.ENTRY_KIND_POLICY);
      const r = await c.applyStream(chunks(), {}, 'exit.conf');
      assert.ok(r.ok, JSON.stringify(r.diagnostics));
      assert.is(r.applied, 249);
      assert.equal(r.diagnostics, []);
      assert.ok(r.results.every((x) => x.line < 250), JSON.stringify(r.results.filter((x) => x.line >= 250).slice(0, 3)));
      // Windows of 4 KiB: the exit sits in about the fourth; the stream is ~15 KiB, so windows after it are skipped.
      assert.ok(r.windows >= 2 && r.windows < Math.ceil(bytes.length / 4096), `windows ${r.windows}`);
      assert.equal(policySet(ns), wantSet);
      // An exit in the very first window stops everything after it, too.
      await c.flush(EntryKind.ENTRY_KIND_POLICY);
      const early = Buffer.from(`spdadd 10.8.0.1 172.16.0.1 any -P out none;\nexit;\n${text}`);
      const r2 = await c.applyStream([early.subarray(0, 5000), early.subarray(5000)], {}, 'early.conf');
      assert.ok(r2.ok);
      assert.is(r2.applied, 1);
      assert.is(r2.windows, 1);
      assert.is(run('ip', ['-n', ns, 'xfrm', 'policy', 'count']).trim().replace(/\s+/g, ' '), 'SPD IN 0 OUT 1 FWD 0');
    } finally {
      c.close();
    }
  }, { limits: { windowBytes: 4096 } });
});

test('Watch maps the kernel\'s policy, flush, acquire and policy-expire events; filters; resume from a sequence', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('dashboard'));
    const ac = new AbortController();
    try {
      enableLoopbackXfrm(ns);
      const w = c.watch({}, ac.signal);
      const only = c.watch({ address: '10.40.0.9' }, ac.signal);
      await Promise.all([w.ready, only.ready]);
      const ipx = (...a: string[]): string => run('ip', ['-n', ns, 'xfrm', ...a]);
      ipx('policy', 'add', 'src', '10.40.0.1', 'dst', '10.40.0.2', 'dir', 'out');
      ipx('policy', 'update', 'src', '10.40.0.1', 'dst', '10.40.0.2', 'dir', 'out', 'priority', '7');
      ipx('policy', 'delete', 'src', '10.40.0.1', 'dst', '10.40.0.2', 'dir', 'out');
      ipx('policy', 'add', 'src', '127.0.0.1', 'dst', '127.0.0.2', 'dir', 'out', 'tmpl', 'proto', 'esp', 'mode', 'transport');
      sendUdp(ns, '127.0.0.2'); // no SA: the kernel asks for one (XFRM_MSG_ACQUIRE)
      ipx('policy', 'add', 'src', '10.40.0.9', 'dst', '10.40.0.10', 'dir', 'in', 'limit', 'time-hard', '1');
      ipx('policy', 'flush');
      ipx('state', 'flush');
      ipx('policy', 'add', 'src', '10.40.0.9', 'dst', '10.40.0.11', 'dir', 'in', 'limit', 'time-hard', '1');
      const got = await take(w.events, 10);
      assert.equal(got.map((e) => EventType[e.type]), [
        'EVENT_TYPE_NEW_POLICY', 'EVENT_TYPE_UPDATE_POLICY', 'EVENT_TYPE_DELETE_POLICY', 'EVENT_TYPE_NEW_POLICY', 'EVENT_TYPE_ACQUIRE',
        'EVENT_TYPE_NEW_POLICY', 'EVENT_TYPE_FLUSH_POLICY', 'EVENT_TYPE_FLUSH_SA', 'EVENT_TYPE_NEW_POLICY', 'EVENT_TYPE_POLICY_EXPIRE',
      ]);
      assert.equal(got.map((e) => e.messageType), [19, 25, 20, 19, 23, 19, 29, 28, 19, 27]);
      assert.is(got[1]!.entry!.priority, 7);
      assert.is(got[9]!.entry!.dst, '10.40.0.11/32');
      assert.is(got[9]!.hard, true); // time-hard 1: a hard policy expiry
      for (let i = 1; i < got.length; i++) assert.ok(got[i]!.sequence === got[i - 1]!.sequence + 1n);
      // The address filter passes only entries of 10.40.0.9 (and the entry-less flush events).
      const filtered = await take(only.events, 5);
      assert.equal(filtered.map((e) => EventType[e.type]), ['EVENT_TYPE_NEW_POLICY', 'EVENT_TYPE_FLUSH_POLICY', 'EVENT_TYPE_FLUSH_SA', 'EVENT_TYPE_NEW_POLICY', 'EVENT_TYPE_POLICY_EXPIRE']);
      // Resume after the update: the events since are replayed from the agent's window, in order.
      const resumed = c.watch({ sinceSequence: got[1]!.sequence, types: [EventType.EVENT_TYPE_DELETE_POLICY, EventType.EVENT_TYPE_ACQUIRE] }, ac.signal);
      const again = await take(resumed.events, 2);
      assert.equal(again.map((e) => [e.sequence, e.type]), [[got[2]!.sequence, EventType.EVENT_TYPE_DELETE_POLICY], [got[4]!.sequence, EventType.EVENT_TYPE_ACQUIRE]]);
    } finally {
      ac.abort();
      c.close();
    }
  });
});

test('kernel ENOBUFS on a tiny receive buffer: subscribers get a GAP, and List resyncs to the exact kernel state', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, certs.as('dashboard'));
    const ac = new AbortController();
    try {
      const w = c.watch({}, ac.signal);
      await w.ready;
      let batch = '';
      for (let i = 0; i < 3000; i++) batch += `xfrm policy add src 10.50.${i >> 8}.${i & 255} dst 10.51.0.1 dir out\n`;
      // Block this process's event loop while ip adds 3000 policies: nobody reads the agent's event socket, whose
      // receive buffer holds a few messages only, so the kernel drops events and reports ENOBUFS.
      const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: batch });
      assert.is(r.status, 0, String(r.stderr));
      const events: WatchEvent[] = [];
      const it = w.events[Symbol.asyncIterator]();
      let sawGap = false;
      while (!sawGap) {
        const n = await Promise.race([it.next(), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 5000))]);
        if (n === 'timeout' || n.done) break;
        events.push(n.value);
        if (n.value.type === EventType.EVENT_TYPE_GAP) sawGap = true;
      }
      assert.ok(sawGap, `no GAP among ${events.length} events`);
      assert.ok(events.length < 3000, 'every event arrived: the buffer did not overflow');
      const s = await c.stats();
      assert.ok(s.kernelOverruns >= 1n);
      assert.ok(s.gaps >= 1n);
      // Resync: List shows exactly what ip shows.
      const listed = (await collect(c.list(EntryKind.ENTRY_KIND_POLICY))).map((e) => e.src).sort();
      assert.is(listed.length, 3000);
      const ipList = run('ip', ['-n', ns, 'xfrm', 'policy']).split('\n').filter((l) => l.startsWith('src ')).map((l) => l.split(' ')[1]!).sort();
      assert.equal(listed, ipList);
    } finally {
      ac.abort();
      c.close();
    }
  }, { events: { rcvbuf: 1 } });
});

test.after(() => certs.remove());

test.run();
