// test/kernel/agent.test.ts — the agent with real SAs (kernel tier, inside the qemu VM): structured ESP/AH/IPComp
// SAs over mTLS, key redaction by role in List/Get/Watch, SA events (new, update, delete, flush, soft and hard
// expire, aevent), a NAT-T mapping event provoked by ESP-in-UDP from a changed source port, Plan/Sync replacing
// an SA whose key changed (and an empty plan after), an atomic SA batch that fails as a whole, and a streamed SA
// load in windows. One node process, one agent per test, fresh netns each.
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AgentClient, EntryKind, EventType, IpsecProtocol, Mode, ChangeAction, OperationStatus,
  type Operation, type SecurityAssociation, type WatchEvent,
} from '../../src/client/index.js';
import { openNetlinkXfrm } from '../../src/native/index.js';
import { Certs, run, collect, withAgent, take, newNetns, delNetns } from '../netns/agent-lib.js';

// The VM's init leaves loopback down; the agent listens on 127.0.0.1 (this touches the VM, never the host).
if (process.env.KEYFLEET_IN_VM === '1') run('ip', ['link', 'set', 'lo', 'up']);
const certs = new Certs();
/** Under TCG (and a busy host) the first use of each algorithm and a TLS handshake can take many seconds. */
const as = (who: string) => ({ ...certs.as(who), deadlineMs: 240_000 });
const K16 = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const K20 = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const K20B = Buffer.from('ffeeddccbbaa99887766554433221100ffeeddcc', 'hex');

function sa(spi: number, extra: Partial<SecurityAssociation> = {}): SecurityAssociation {
  return {
    src: '10.0.0.1', dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi, mode: Mode.MODE_TUNNEL, reqid: 7, replayWindow: 32, flags: 0, ifId: 0,
    auth: { name: 'hmac(sha1)', key: K20, icvBits: 96 }, enc: { name: 'cbc(aes)', key: K16, icvBits: 0 }, ...extra,
  };
}

test('structured ESP, AH and IPComp SAs reach the kernel; keys only for the keys role (List, Get, Watch)', async () => {
  assert.is(process.env.KEYFLEET_IN_VM, '1', 'run this tier with `node scripts/test.mjs kernel` (it boots the VM)');
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, as('controller'));
    const reader = new AgentClient(agent.address, as('dashboard'));
    const ac = new AbortController();
    try {
      const wReader = reader.watch({ types: [EventType.EVENT_TYPE_NEW_SA] }, ac.signal);
      const wKeys = c.watch({ types: [EventType.EVENT_TYPE_NEW_SA] }, ac.signal);
      await Promise.all([wReader.ready, wKeys.ready]);
      const r = await c.apply({ operations: [
        { addSa: sa(0x1001) },
        { addSa: sa(0x1002, { mode: Mode.MODE_TRANSPORT, auth: undefined, enc: undefined, aead: { name: 'rfc4106(gcm(aes))', key: K20, icvBits: 128 } }) },
        { addSa: sa(0x1003, { protocol: IpsecProtocol.IPSEC_PROTOCOL_AH, enc: undefined, src: '2001:db8::1', dst: '2001:db8::2', auth: { name: 'hmac(sha256)', key: Buffer.concat([K16, K16]), icvBits: 128 } }) },
        { addSa: sa(0x4004, { protocol: IpsecProtocol.IPSEC_PROTOCOL_COMP, auth: undefined, enc: undefined, comp: { name: 'deflate', key: Buffer.alloc(0), icvBits: 0 }, replayWindow: 0 }) },
      ] });
      assert.ok(r.ok, JSON.stringify(r.results));
      const ip = run('ip', ['-n', ns, 'xfrm', 'state']);
      assert.match(ip, /proto esp spi 0x00001001 reqid 7 mode tunnel\n\treplay-window 32 \n\tauth-trunc hmac\(sha1\) 0x00112233445566778899aabbccddeeff00112233 96\n\tenc cbc\(aes\) 0x00112233445566778899aabbccddeeff/);
      assert.match(ip, /aead rfc4106\(gcm\(aes\)\) 0x00112233445566778899aabbccddeeff00112233 128/);
      assert.match(ip, /src 2001:db8::1 dst 2001:db8::2\n\tproto ah spi 0x00001003/);
      assert.match(ip, /proto comp spi 0x00004004 reqid 7 mode tunnel\n[^]*comp deflate/);
      const hidden = await collect(reader.list(EntryKind.ENTRY_KIND_SA));
      // The IPComp tunnel SA brings the kernel's own IPIP state along (ipcomp_tunnel_attach): List shows what ip shows.
      assert.is(hidden.length, ip.split('\n').filter((l) => l.startsWith('src ')).length);
      assert.equal(hidden.map((e) => e.proto).filter((p) => p !== '4').sort(), ['ah', 'comp', 'esp', 'esp']);
      for (const e of hidden) assert.not.match(e.json, '00112233');
      assert.match(hidden.find((e) => e.spi === 0x1001)!.json, '"key":"redacted"');
      const shown = await collect(c.list(EntryKind.ENTRY_KIND_SA, { spi: 0x1001 }));
      assert.match(shown[0]!.json, '0x00112233445566778899aabbccddeeff00112233');
      const g = await reader.get({ sa: { dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x1002, src: '' } });
      assert.is(g.proto, 'esp');
      assert.not.match(g.json, '00112233');
      const gk = await c.get({ sa: { dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x1002, src: '' } });
      assert.match(gk.json, '0x00112233445566778899aabbccddeeff00112233');
      const evR = await take(wReader.events, 4, 60_000);
      const evK = await take(wKeys.events, 4, 60_000);
      for (const e of evR) assert.not.match(e.entry!.json, '00112233');
      assert.match(evK.find((e) => e.entry!.spi === 0x1001)!.entry!.json, '0x00112233445566778899aabbccddeeff00112233');
    } finally {
      ac.abort();
      c.close();
      reader.close();
    }
  });
});

/** XFRM_MSG_NEWAE for an SA (struct xfrm_aevent_id + XFRMA_REPLAY_VAL): the kernel multicasts it as an aevent. */
function sendNewAe(ns: string, dst: string, src: string, spi: number): void {
  const sock = openNetlinkXfrm({ netns: ns });
  try {
    const b = Buffer.alloc(16 + 48 + 4 + 12);
    b.writeUInt32LE(b.length, 0);
    b.writeUInt16LE(30 /* XFRM_MSG_NEWAE */, 4);
    b.writeUInt16LE(0x1 | 0x4 | 0x100 /* REQUEST | ACK | REPLACE: xfrm_new_ae insists on NLM_F_REPLACE */, 6);
    b.writeUInt32LE(1, 8);
    const p = 16;
    dst.split('.').forEach((o, i) => { b[p + i] = Number(o); }); // xfrm_usersa_id.daddr
    b.writeUInt32BE(spi, p + 16);
    b.writeUInt16LE(2 /* AF_INET */, p + 20);
    b[p + 22] = 50; // IPPROTO_ESP
    src.split('.').forEach((o, i) => { b[p + 24 + i] = Number(o); }); // saddr
    b.writeUInt32LE(7, p + 44); // reqid
    b.writeUInt16LE(16, p + 48); // nla_len
    b.writeUInt16LE(10 /* XFRMA_REPLAY_VAL */, p + 50);
    b.writeUInt32LE(5, p + 52); // oseq
    sock.send(b);
  } finally {
    setTimeout(() => sock.close(), 200);
  }
}

test('Watch maps the kernel\'s SA events: new, update, aevent, soft and hard expire, delete, flush', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, as('dashboard'));
    const w = new AgentClient(agent.address, as('controller'));
    const ac = new AbortController();
    try {
      const watch = c.watch({}, ac.signal);
      await watch.ready;
      let r = await w.apply({ operations: [{ addSa: sa(0x2001) }, { addSa: sa(0x2002, { lifetime: { softAddSeconds: 1n, hardAddSeconds: 2n, softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n, softUseSeconds: 0n, hardUseSeconds: 0n } }) }] });
      assert.ok(r.ok, JSON.stringify(r.results));
      r = await w.apply({ operations: [{ updateSa: sa(0x2001, { lifetime: { hardBytes: 1000000n, softBytes: 0n, softPackets: 0n, hardPackets: 0n, softAddSeconds: 0n, hardAddSeconds: 0n, softUseSeconds: 0n, hardUseSeconds: 0n } }) }] });
      assert.ok(r.ok, JSON.stringify(r.results));
      sendNewAe(ns, '10.0.0.2', '10.0.0.1', 0x2001);
      const first = await take(watch.events, 6, 120_000); // new, new, update, aevent, soft expire, hard expire (+ its delete)
      // The expiries of 0x2002 follow its own timers, so on a slow machine they may come between the others.
      const expires = first.filter((e) => e.type === EventType.EVENT_TYPE_EXPIRE);
      const others = first.filter((e) => e.type !== EventType.EVENT_TYPE_EXPIRE);
      assert.equal(others.map((e) => EventType[e.type]), ['EVENT_TYPE_NEW_SA', 'EVENT_TYPE_NEW_SA', 'EVENT_TYPE_UPDATE_SA', 'EVENT_TYPE_AEVENT']);
      assert.is(others[2]!.entry!.spi, 0x2001);
      assert.equal(expires.map((e) => [e.entry!.spi, JSON.parse(e.entry!.json).proto, e.hard]), [[0x2002, 'esp', false], [0x2002, 'esp', true]]);
      for (let i = 1; i < first.length; i++) assert.ok(first[i]!.sequence > first[i - 1]!.sequence);
      // A flush of an empty SAD sends no event (xfrm_flush_sa returns early on ESRCH): add one SA first.
      const d = await w.apply({ operations: [{ deleteSa: { dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x2001, src: '' } }, { addSa: sa(0x2003) }, { flushSas: { protocol: 0 } }] });
      assert.ok(d.ok, JSON.stringify(d.results));
      const rest = await take(watch.events, 3, 60_000);
      assert.equal(rest.map((e) => EventType[e.type]), ['EVENT_TYPE_DELETE_SA', 'EVENT_TYPE_NEW_SA', 'EVENT_TYPE_FLUSH_SA']);
      assert.is(run('ip', ['-n', ns, 'xfrm', 'state']).trim(), '');
      assert.is(rest[0]!.entry!.spi, 0x2001);
    } finally {
      ac.abort();
      c.close();
      w.close();
    }
  });
});

test('Watch delivers a NAT-T mapping event (XFRM_MSG_MAPPING) when ESP-in-UDP arrives from another source port', async () => {
  // Two netns joined by a veth: the sender's outbound SA encapsulates in UDP 4600 → 4500; the receiver's inbound
  // SA (the agent's netns) expects the peer at port 4501, and a UDP_ENCAP_ESPINUDP socket on 4500 hands the
  // packets to XFRM (esp4.c: a valid packet from another source port → km_new_mapping → XFRMNLGRP_MAPPING).
  run('modprobe', ['veth']);
  await withAgent(certs, async (agent, ns) => {
    const peer = newNetns();
    const c = new AgentClient(agent.address, as('dashboard'));
    const ac = new AbortController();
    const keys = ['enc', 'cbc(aes)', `0x${K16.toString('hex')}`, 'auth-trunc', 'hmac(sha1)', `0x${K20.toString('hex')}`, '96'];
    const saArgs = ['src', '10.9.0.1', 'dst', '10.9.0.2', 'proto', 'esp', 'spi', '0x4242', 'reqid', '9', 'mode', 'transport', ...keys];
    let receiver: ReturnType<typeof spawn> | null = null;
    try {
      run('ip', ['link', 'add', 'kfm-a', 'netns', peer, 'type', 'veth', 'peer', 'name', 'kfm-b', 'netns', ns]);
      for (const [n, dev, addr] of [[peer, 'kfm-a', '10.9.0.1/24'], [ns, 'kfm-b', '10.9.0.2/24']] as const) {
        run('ip', ['-n', n, 'addr', 'add', addr, 'dev', dev]);
        run('ip', ['-n', n, 'link', 'set', dev, 'up']);
        run('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
      }
      run('ip', ['-n', peer, 'xfrm', 'state', 'add', ...saArgs, 'encap', 'espinudp', '4600', '4500', '0.0.0.0']);
      run('ip', ['-n', peer, 'xfrm', 'policy', 'add', 'src', '10.9.0.1', 'dst', '10.9.0.2', 'dir', 'out', 'tmpl', 'src', '10.9.0.1', 'dst', '10.9.0.2', 'proto', 'esp', 'reqid', '9', 'mode', 'transport']);
      run('ip', ['-n', ns, 'xfrm', 'state', 'add', ...saArgs, 'encap', 'espinudp', '4501', '4500', '0.0.0.0']);
      // UDP_ENCAP (100) = UDP_ENCAP_ESPINUDP (2), linux/udp.h; SOL_UDP = 17.
      receiver = spawn('ip', ['netns', 'exec', ns, 'python3', '-c',
        'import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("0.0.0.0",4500))\ns.setsockopt(17,100,2)\nprint("ready",flush=True)\ntime.sleep(300)'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        receiver!.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve(); });
        receiver!.once('exit', (code) => reject(new Error(`the UDP_ENCAP receiver exited ${code}`)));
      });
      const watch = c.watch({ types: [EventType.EVENT_TYPE_MAPPING] }, ac.signal);
      await watch.ready;
      // Two UDP datagrams from the peer: the policy sends them in ESP-in-UDP (nobody listens on port 9; no matter).
      run('ip', ['netns', 'exec', peer, process.execPath, '-e',
        "const s = require('node:dgram').createSocket('udp4'); s.send('a', 9, '10.9.0.2', () => s.send('b', 9, '10.9.0.2', () => s.close()));"]);
      const [ev] = await take(watch.events, 1, 60_000);
      assert.is(ev!.type, EventType.EVENT_TYPE_MAPPING);
      assert.is(ev!.messageType, 38);
      assert.is(ev!.entry!.spi, 0x4242);
      assert.is(ev!.entry!.dst, '10.9.0.2');
      assert.is(ev!.entry!.src, '10.9.0.1');
      assert.equal(JSON.parse(ev!.entry!.json), { dst: '10.9.0.2', proto: 'esp', spi: 0x4242, reqid: 9, old: { address: '10.9.0.1', port: 4501 }, new: { address: '10.9.0.1', port: 4600 } });
      // The kernel decrypted the packets: the receiver's SA counted them.
      assert.match(run('ip', ['-n', ns, '-s', 'xfrm', 'state']), /\b[1-9]\d*\(packets\)/);
    } finally {
      ac.abort();
      c.close();
      receiver?.kill();
      delNetns(peer);
    }
  });
});

test('Sync replaces an SA whose key changed, deletes the extra one, keeps the equal one; a second Plan is empty', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, as('controller'));
    try {
      const r = await c.apply({ operations: [{ addSa: sa(0x3001) }, { addSa: sa(0x3002) }, { addSa: sa(0x3003) }] });
      assert.ok(r.ok);
      const desired: Operation[] = [{ addSa: sa(0x3001) }, { addSa: sa(0x3002, { auth: { name: 'hmac(sha1)', key: K20B, icvBits: 96 } }) }, { addSa: sa(0x3005, { mode: Mode.MODE_TRANSPORT }) }];
      const p = await c.plan({ operations: desired });
      assert.equal(p.changes.map((x) => [x.action, x.entry!.spi, x.differs]), [
        [ChangeAction.CHANGE_ACTION_UPDATE, 0x3002, 'auth.key'], [ChangeAction.CHANGE_ACTION_ADD, 0x3005, ''], [ChangeAction.CHANGE_ACTION_DELETE, 0x3003, '']]);
      assert.is(p.unchanged, 1);
      const s = await c.sync({ operations: desired });
      assert.ok(s.ok, JSON.stringify(s.results));
      const ip = run('ip', ['-n', ns, 'xfrm', 'state']);
      assert.match(ip, /spi 0x00003002[^]*?auth-trunc hmac\(sha1\) 0xffeeddccbbaa99887766554433221100ffeeddcc 96/);
      assert.not.match(ip, 'spi 0x00003003');
      assert.match(ip, /spi 0x00003005 reqid 7 mode transport/);
      const p2 = await c.plan({ operations: desired });
      assert.equal([p2.changes.length, p2.unchanged], [0, 3]);
      // The same SAs as setkey text plan nothing either (one desired state, two syntaxes).
      const text = desired.map((o) => {
        const x = o.addSa!;
        return `add ${x.src} ${x.dst} esp 0x${x.spi.toString(16)} -m ${x.mode === Mode.MODE_TUNNEL ? 'tunnel' : 'transport'} -u 7 -r 32 -E aes-cbc 0x${x.enc!.key.toString('hex')} -A hmac-sha1 0x${x.auth!.key.toString('hex')};`;
      }).join('\n');
      const p3 = await c.plan(text, { scope: EntryKind.ENTRY_KIND_SA });
      assert.equal(p3.changes.map((x) => [x.action, x.differs]), [], JSON.stringify(p3.changes.map((x) => x.differs)));
    } finally {
      c.close();
    }
  });
});

test('an atomic SA batch with a failing operation leaves the SAD as it was; a streamed load of 3000 SAs goes in windows', async () => {
  await withAgent(certs, async (agent, ns) => {
    const c = new AgentClient(agent.address, as('controller'));
    try {
      await c.apply({ operations: [{ addSa: sa(0x5001) }] });
      const before = run('ip', ['-n', ns, 'xfrm', 'state']);
      const r = await c.apply({ operations: [{ addSa: sa(0x5002) }, { deleteSa: { dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x5001, src: '' } }, { addSa: sa(0x5003, { enc: { name: 'cbc(nosuchcipher)', key: K16, icvBits: 0 } }) }] }, { atomic: true });
      assert.not.ok(r.ok);
      assert.is(r.results[2]!.status, OperationStatus.OPERATION_STATUS_FAILED);
      assert.is(r.rolledBack, 2);
      assert.is(run('ip', ['-n', ns, 'xfrm', 'state']).replace(/\s+/g, ' '), before.replace(/\s+/g, ' '));
      let text = '';
      for (let i = 0; i < 3000; i++) text += `add 10.1.${i >> 8}.${i & 255} 10.2.0.1 esp 0x${(0x10000 + i).toString(16)} -E aes-cbc 0x${K16.toString('hex')} -A hmac-sha1 0x${K20.toString('hex')};\n`;
      const bytes = Buffer.from(text);
      const s = await c.applyStream((function* () { for (let o = 0; o < bytes.length; o += 8192) yield bytes.subarray(o, o + 8192); })());
      assert.ok(s.ok, s.output.slice(0, 500));
      assert.is(s.applied, 3000);
      assert.ok(s.windows >= 4, `windows ${s.windows}`);
      assert.ok(s.peakWindowBytes <= BigInt((64 << 10) + 8192));
      const count = spawnSync('ip', ['-n', ns, 'xfrm', 'state', 'count'], { encoding: 'utf8' }).stdout;
      assert.match(count, '3001');
    } finally {
      c.close();
    }
  }, { limits: { windowBytes: 64 << 10 } });
});

test.after(() => certs.remove());

test.run();
