// test/unit/agent.test.ts — the agent's parts that need no kernel (tier unit): roles files, certificate
// identities, the listening policy, the event hub (sequence numbers, bounded queues, GAP events, resumption,
// kernel ENOBUFS), redaction of key bytes in entries, and health + reflection over 127.0.0.1:0 (plaintext,
// an injected event source, no kernel touched).
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { parseRoles, certificateNames, callerOf, requireRole } from '../../src/agent/auth.js';
import { checkListenPolicy, splitHostPort, startAgent } from '../../src/agent/server.js';
import { EventHub, eventEntry, entryOfEvent, type EventSource, type HubEvent } from '../../src/agent/events.js';
import { encodedEvent, frameWatchResponse, toWatch } from '../../src/agent/watch-wire.js';
import { entryOf } from '../../src/agent/entries.js';
import { writeRecord, readRecord } from '../../src/wasm/records.js';
import { markRecords, restoreRecords } from '../../src/kernel/xfrm.js';
import { encodeXfrm } from '../../src/wasm/xfrm-codec.js';
import { EventType, WatchResponse } from '../../src/gen/keyfleet/v1/agent.pb.js';
import { OP_SA_ADD } from '../../asm/shared/layout.js';
import { loadGolden } from './xfrm-golden.js';

const require = createRequire(import.meta.url);

test('parseRoles maps identities to roles and names what is wrong in a bad file', () => {
  const r = parseRoles('{"controller.example": ["read", "write", "keys"], "dashboard.example": ["read"]}');
  assert.equal([...r.get('controller.example')!], ['read', 'write', 'keys']);
  assert.equal([...r.get('dashboard.example')!], ['read']);
  assert.throws(() => parseRoles('[]', 'r.json'), /r\.json: expected an object/);
  assert.throws(() => parseRoles('{"a": ["admin"]}', 'r.json'), /"a": unknown role "admin"/);
  assert.throws(() => parseRoles('{"a": "read"}'), /expected a list of roles/);
  assert.throws(() => parseRoles('{nope'), /not valid JSON/);
});

test('certificateNames lists SAN DNS names, then the CN', () => {
  assert.equal(certificateNames({ subject: { CN: 'host-1' }, subjectaltname: 'DNS:a.example, IP Address:10.0.0.1, DNS:b.example' }), ['a.example', 'b.example', 'host-1']);
  assert.equal(certificateNames(undefined), []);
});

test('callerOf unions the roles of every certificate name; requireRole answers PERMISSION_DENIED', () => {
  const roles = parseRoles('{"a.example": ["read"], "host-1": ["write"]}');
  const call = { getPeer: () => 'ipv4:127.0.0.1:1', getAuthContext: () => ({ sslPeerCertificate: { subject: { CN: 'host-1' }, subjectaltname: 'DNS:a.example' } as never }) };
  const c = callerOf(call, { insecure: false, roles });
  assert.is(c.identity, 'a.example');
  assert.equal([...c.roles].sort(), ['read', 'write']);
  try {
    requireRole(c, 'keys', 'List with keys');
    assert.unreachable('no keys role');
  } catch (e) {
    assert.is((e as { code: number }).code, 7);
    assert.match((e as Error).message, "needs the 'keys' role");
  }
  assert.equal([...callerOf(call, { insecure: true, roles }).roles], ['read', 'write', 'keys']);
});

test('plaintext is allowed only on a unix socket or loopback, and only with insecure', () => {
  assert.not.throws(() => checkListenPolicy({ listen: '127.0.0.1:0', insecure: true }));
  assert.not.throws(() => checkListenPolicy({ listen: '[::1]:9000', insecure: true }));
  assert.not.throws(() => checkListenPolicy({ listen: 'unix:/run/keyfleet.sock', insecure: true }));
  assert.throws(() => checkListenPolicy({ listen: '0.0.0.0:9000', insecure: true }), /only on a unix socket or a loopback/);
  assert.throws(() => checkListenPolicy({ listen: '127.0.0.1:9000' }), /TLS is required/);
  assert.equal(splitHostPort('[::1]:50051'), { host: '::1', port: 50051 });
  assert.throws(() => splitHostPort('nohost'), /HOST:PORT/);
});

function drain(hub: EventHub, s: Parameters<EventHub['take']>[0]): HubEvent[] {
  const out: HubEvent[] = [];
  for (let e = hub.take(s); e; e = hub.take(s)) out.push(e);
  return out;
}

const ev = (): Omit<HubEvent, 'sequence' | 'timeMs'> => ({ type: EventType.EVENT_TYPE_NEW_POLICY, messageType: 19, entry: null, lost: 0n });

test('a subscriber whose queue overflows gets a GAP with the lost count; others miss nothing', () => {
  const hub = new EventHub({ queueLimit: 4, window: 100 });
  const slow = hub.subscribe({ onReady: () => undefined, types: null });
  const fast = hub.subscribe({ onReady: () => undefined, types: null });
  const fastGot: HubEvent[] = [];
  for (let i = 0; i < 7; i++) {
    hub.publish(ev());
    fastGot.push(...drain(hub, fast));
  }
  assert.equal(fastGot.map((e) => e.sequence), [1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  const got = drain(hub, slow);
  // 1..4 filled the queue; 5 overflowed it: 1..5 are dropped and reported as one GAP; 6 and 7 follow.
  assert.equal(got.map((e) => [e.type, e.sequence, e.lost]), [[EventType.EVENT_TYPE_GAP, 5n, 5n], [EventType.EVENT_TYPE_NEW_POLICY, 6n, 0n], [EventType.EVENT_TYPE_NEW_POLICY, 7n, 0n]]);
  for (let i = 1; i < got.length; i++) assert.ok(got[i]!.sequence > got[i - 1]!.sequence);
});

test('subscribing with since_sequence replays the window, with a GAP when it starts too far back', () => {
  const hub = new EventHub({ window: 3 });
  for (let i = 0; i < 6; i++) hub.publish(ev());
  const resumed = hub.subscribe({ onReady: () => undefined, types: null }, 4n);
  assert.equal(drain(hub, resumed).map((e) => [e.type, e.sequence]), [[EventType.EVENT_TYPE_NEW_POLICY, 5n], [EventType.EVENT_TYPE_NEW_POLICY, 6n]]);
  const old = hub.subscribe({ onReady: () => undefined, types: null }, 1n);
  const got = drain(hub, old);
  assert.equal(got.map((e) => [e.type, e.sequence, e.lost]), [[EventType.EVENT_TYPE_GAP, 3n, 2n], [EventType.EVENT_TYPE_NEW_POLICY, 4n, 0n], [EventType.EVENT_TYPE_NEW_POLICY, 5n, 0n], [EventType.EVENT_TYPE_NEW_POLICY, 6n, 0n]]);
});

/** A kernel-format XFRM_MSG_NEWPOLICY for selector source 10.9.0.k (what the hub receives as a notification). */
function policyMessage(k: number): Buffer {
  const mark = markRecords();
  try {
    const i = writeRecord({ kind: 16, family: 2, dir: 1, sel: { saddr: `10.9.0.${k}`, daddr: '192.0.2.1', prefixlenS: 32, prefixlenD: 32, family: 2 } });
    return Buffer.from(encodeXfrm(i, i + 1).bytes);
  } finally { restoreRecords(mark); }
}

test('the window keeps kernel messages in a byte ring: the oldest go when it is full, resumed events decode from it', () => {
  const msgs = Array.from({ length: 9 }, (_, k) => policyMessage(k + 1));
  const size = msgs[0]!.length;
  // Room for 3 messages (and 5 events): the ring wraps twice over 9 publishes.
  const hub = new EventHub({ window: 5, windowBytes: size * 3 + size / 2 });
  for (const m of msgs) hub.ingest([m]);
  const got = drain(hub, hub.subscribe({ onReady: () => undefined, types: null }, 1n));
  assert.equal(got.map((e) => [e.type, e.sequence, e.lost]), [
    [EventType.EVENT_TYPE_GAP, 6n, 5n], [EventType.EVENT_TYPE_NEW_POLICY, 7n, 0n], [EventType.EVENT_TYPE_NEW_POLICY, 8n, 0n],
    [EventType.EVENT_TYPE_NEW_POLICY, 9n, 0n],
  ]);
  assert.equal(got.slice(1).map((e) => entryOfEvent(e)?.redacted.src), ['10.9.0.7/32', '10.9.0.8/32', '10.9.0.9/32']);
  // Events without kernel bytes (a GAP from ENOBUFS) take a slot but no bytes.
  hub.publish({ type: EventType.EVENT_TYPE_GAP, messageType: 0, entry: null, lost: 0n });
  const again = drain(hub, hub.subscribe({ onReady: () => undefined, types: null }, 7n));
  assert.equal(again.map((e) => [e.type, e.sequence]), [[EventType.EVENT_TYPE_NEW_POLICY, 8n], [EventType.EVENT_TYPE_NEW_POLICY, 9n], [EventType.EVENT_TYPE_GAP, 10n]]);
  assert.equal(entryOfEvent(again[1]!)?.redacted.src, '10.9.0.9/32');
});

test('kernel ENOBUFS on the subscription becomes a GAP event for every subscriber', () => {
  let onError: ((e: Error & { code?: string }) => void) | null = null;
  const source: EventSource = { start: (_d, e) => { onError = e; }, close: () => undefined };
  const hub = new EventHub({ source });
  hub.start();
  const s = hub.subscribe({ onReady: () => undefined, types: new Set([EventType.EVENT_TYPE_ACQUIRE]) });
  hub.publish(ev()); // filtered out
  onError!(Object.assign(new Error('No buffer space available'), { code: 'ENOBUFS' }));
  const got = drain(hub, s);
  assert.equal(got.map((e) => [e.type, e.sequence]), [[EventType.EVENT_TYPE_GAP, 2n]]);
  assert.is(hub.kernelOverruns, 1);
  hub.close();
});

test('entries show key bytes only with the keys role', () => {
  const mark = markRecords();
  try {
    const i = writeRecord({ kind: OP_SA_ADD, saddr: '10.0.0.1', daddr: '10.0.0.2', proto: 50, spi: 0x1000, mode: 1,
      enc: { name: 'cbc(aes)', key: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), bits: 128, param: 0 } });
    const r = readRecord(i);
    const hidden = entryOf(r, false);
    assert.match(hidden.json, '"key":"redacted"');
    assert.not.match(hidden.json, '00112233');
    assert.is(hidden.spi, 0x1000);
    assert.match(entryOf(r, true).json, '0x00112233445566778899aabbccddeeff');
  } finally {
    restoreRecords(mark);
  }
});

test('pre-encoded Watch responses equal WatchResponse.encode, are encoded once, and redact without the keys role', () => {
  const mark = markRecords();
  let sa;
  try {
    const i = writeRecord({ kind: OP_SA_ADD, saddr: '10.0.0.1', daddr: '10.0.0.2', proto: 50, spi: 0x1000, mode: 1,
      enc: { name: 'cbc(aes)', key: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), bits: 128, param: 0 } });
    sa = eventEntry(readRecord(i));
  } finally {
    restoreRecords(mark);
  }
  const hub = new EventHub();
  const events = [
    hub.publish({ type: EventType.EVENT_TYPE_NEW_SA, messageType: 16, entry: sa, lost: 0n }),
    hub.publish(ev()),
    hub.publish({ type: EventType.EVENT_TYPE_GAP, messageType: 0, entry: null, lost: 300n }),
  ];
  for (const keys of [false, true]) {
    const framed = frameWatchResponse(events.map((e) => encodedEvent(e, keys)));
    assert.equal(new Uint8Array(framed), WatchResponse.encode({ events: events.map((e) => toWatch(e, keys)) }).finish());
    assert.equal(WatchResponse.decode(framed).events.map((e) => e.sequence), [1n, 2n, 3n]);
  }
  assert.is(encodedEvent(events[0]!, false), encodedEvent(events[0]!, false));
  assert.is.not(encodedEvent(events[0]!, false), encodedEvent(events[0]!, true));
  assert.is(encodedEvent(events[1]!, false), encodedEvent(events[1]!, true)); // nothing to redact: one encoding
  assert.not.match(WatchResponse.decode(frameWatchResponse([encodedEvent(events[0]!, false)])).events[0]!.entry!.json, '00112233');
  assert.match(WatchResponse.decode(frameWatchResponse([encodedEvent(events[0]!, true)])).events[0]!.entry!.json, '00112233');
  const big = frameWatchResponse([new Uint8Array(200).fill(7)]); // a 200-byte event: a two-byte varint length
  assert.equal([...big.subarray(0, 3)], [0x0a, 0xc8, 0x01]);
});

test('a NAT-T mapping message becomes a MAPPING event whose entry names the SA and the old and new peer', () => {
  // struct nlmsghdr + struct xfrm_user_mapping (linux/xfrm.h), assembled field by field: id {daddr 10.9.0.2,
  // spi 0x4242 (BE), family AF_INET, proto ESP}, reqid 9, old_saddr 10.9.0.1, new_saddr 10.9.0.7, old_sport 4501,
  // new_sport 4600 (BE). The kernel VM test provokes the real one (test/kernel/agent.test.ts).
  const m = Buffer.alloc(16 + 64);
  m.writeUInt32LE(m.length, 0); m.writeUInt16LE(38, 4);
  m.set([10, 9, 0, 2], 16); m.writeUInt32BE(0x4242, 32); m.writeUInt16LE(2, 36); m[38] = 50;
  m.writeUInt32LE(9, 40); m.set([10, 9, 0, 1], 44); m.set([10, 9, 0, 7], 60); m.writeUInt16BE(4501, 76); m.writeUInt16BE(4600, 78);
  const hub = new EventHub();
  const s = hub.subscribe({ onReady: () => undefined, types: null });
  hub.ingest([m]);
  const [ev] = drain(hub, s);
  assert.is(ev!.type, EventType.EVENT_TYPE_MAPPING);
  const e = entryOfEvent(ev!)!;
  assert.equal([e.redacted.src, e.redacted.dst, e.redacted.spi, e.redacted.proto, e.redacted.reqid], ['10.9.0.1', '10.9.0.2', 0x4242, 'esp', 9]);
  assert.equal(JSON.parse(e.redacted.json), { dst: '10.9.0.2', proto: 'esp', spi: 0x4242, reqid: 9, old: { address: '10.9.0.1', port: 4501 }, new: { address: '10.9.0.7', port: 4600 } });
  assert.ok(e.addresses.includes('10.9.0.7'));
  assert.is(toWatch(ev!, false).entry!.json, e.redacted.json);
});

test('a REPORT message becomes a REPORT event whose entry carries the proto, the selector and the care-of address', () => {
  // Captured in the kernel VM (test/fixtures/xfrm/kernel-report.hex; test/kernel/report-event.test.ts makes it live).
  const [m] = loadGolden('kernel-report').messages;
  const hub = new EventHub();
  const s = hub.subscribe({ onReady: () => undefined, types: new Set([EventType.EVENT_TYPE_REPORT]) });
  hub.ingest([m!]);
  const [ev] = drain(hub, s);
  assert.equal([ev!.type, ev!.messageType], [EventType.EVENT_TYPE_REPORT, 32]);
  const e = entryOfEvent(ev!)!;
  assert.equal([e.redacted.kind, e.redacted.proto, e.redacted.src, e.redacted.dst], [0, 'hao', '2001:db8:72::1/128', '2001:db8:71::2/128']);
  assert.equal(JSON.parse(e.redacted.json), {
    proto: 'hao', selector: { src: '2001:db8:72::1/128', dst: '2001:db8:71::2/128', proto: 17, sport: 0x1102, dport: 0x0102, ifindex: 1 }, coa: '2001:db8:71::1',
  });
  assert.ok(e.addresses.includes('2001:db8:71::1'), 'address filters see the care-of address');
  assert.is(toWatch(ev!, false).entry!.json, e.redacted.json);
});

test('the agent serves grpc.health.v1 and server reflection (what grpcurl needs)', async () => {
  const source: EventSource = { start: () => undefined, close: () => undefined };
  const agent = await startAgent({ listen: '127.0.0.1:0', insecure: true, roles: parseRoles('{}'), events: { source } });
  try {
    const healthProto = require.resolve('grpc-health-check/proto/health/v1/health.proto');
    const reflProto = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
    const pkg = loadPackageDefinition(loadSync([healthProto, reflProto], { keepCase: true, enums: String })) as never as {
      grpc: { health: { v1: { Health: new (a: string, c: unknown) => { check(r: object, cb: (e: ServiceError | null, r: { status: string }) => void): void; close(): void } } };
        reflection: { v1: { ServerReflection: new (a: string, c: unknown) => { ServerReflectionInfo(): NodeJS.ReadWriteStream & { write(m: object): boolean; end(): void }; close(): void } } } };
    };
    const h = new pkg.grpc.health.v1.Health(agent.address, credentials.createInsecure());
    const st = await new Promise<string>((res, rej) => h.check({ service: 'keyfleet.v1.AgentService' }, (e, r) => (e ? rej(e) : res(r.status))));
    assert.is(st, 'SERVING');
    h.close();
    const rc = new pkg.grpc.reflection.v1.ServerReflection(agent.address, credentials.createInsecure());
    const call = rc.ServerReflectionInfo();
    const names = await new Promise<string[]>((res, rej) => {
      call.on('data', (m: { list_services_response?: { service: { name: string }[] } }) => { res(m.list_services_response!.service.map((s) => s.name)); call.end(); });
      call.on('error', rej);
      call.write({ list_services: '*' });
    });
    assert.ok(names.includes('keyfleet.v1.AgentService'), names.join(','));
    rc.close();
  } finally {
    await agent.close();
  }
});

test.run();
