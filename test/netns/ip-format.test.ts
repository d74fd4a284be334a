// test/netns/ip-format.test.ts — the `ip xfrm` formatter (src/wasm/ip-format.ts) against the installed
// iproute2 6.1 on the same kernel state (tier netns: root). Each test fills a fresh netns with `ip xfrm policy
// add` / `state allocspi`, dumps it through XfrmKernel and compares our text with `ip -n NS [opts] xfrm … list`
// byte for byte (nothing masked: add/use times come from the same kernel state). Also count, get/allocspi
// replies, monitor events, and the 100k-policy timing (decode+format vs `ip xfrm policy list`).
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wasm } from '../../src/wasm/index.js';
import { XfrmKernel } from '../../src/kernel/xfrm.js';
import { decodeXfrm } from '../../src/wasm/xfrm-codec.js';
import { writeRecord } from '../../src/wasm/records.js';
import { openNetlinkXfrm } from '../../src/native/index.js';
import { formatIpStates, formatIpPolicies, formatIpMonitor, formatIpCount, type IpFormatOptions } from '../../src/wasm/ip-format.js';
import * as L from '../../asm/shared/layout.js';
import * as X from '../../asm/shared/xfrm.js';

let nsCount = 0;

function run(args: string[], input?: string): { out: string; err: string; status: number } {
  const r = spawnSync('ip', args, { encoding: 'latin1', maxBuffer: 1 << 30, ...(input !== undefined ? { input } : {}) });
  return { out: r.stdout, err: r.stderr, status: r.status ?? -1 };
}
function ip(...args: string[]): string {
  const r = run(args);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.err.trim()}`);
  return r.out;
}

async function withNetns(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `kf-${process.pid}-ipf${++nsCount}`;
  ip('netns', 'add', ns);
  try {
    await fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Interface names of the netns, as ll_index_to_name would find them there. */
function ifNamesOf(ns: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of ip('-n', ns, '-o', 'link').split('\n')) {
    const x = /^(\d+): ([^:@]+)[:@]/.exec(line);
    if (x) m.set(Number(x[1]), x[2]!);
  }
  return m;
}

/** Policies of many shapes (selectors, flags, marks, if_id, templates, lifetimes, ptype, action, IPv6, dev). */
const POLICIES = [
  'src 10.0.0.0/24 dst 10.1.0.0/24 dir out priority 10 tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel reqid 1',
  'src 10.0.0.1 dst 10.1.0.1 proto tcp sport 22 dport 80 dir in tmpl proto esp mode transport level use',
  'src 10.0.0.2 dst 10.1.0.2 proto icmp type 8 code 0 dir fwd',
  'src 10.0.0.3 dst 10.1.0.3 proto gre key 1.2.3.4 dir out',
  'src 10.0.0.4 dst 10.1.0.4 proto ipv6-icmp type 135 dir out',
  'src fd00::/64 dst fd01::/64 proto ipv6-icmp type 135 code 0 dir out',
  'src 10.0.0.5 dst 10.1.0.5 dev lo dir out',
  'src 10.0.0.6 dst 10.1.0.6 dev kfv0 dir in',
  'src 10.0.0.7 dst 10.1.0.7 dir out index 0x1001 priority 3',
  'src 10.0.0.8 dst 10.1.0.8 dir out ptype sub action block',
  'src 10.0.0.9 dst 10.1.0.9 dir out flag localok',
  'src 10.0.0.10 dst 10.1.0.10 dir out flag icmp flag localok',
  'src 10.0.0.11 dst 10.1.0.11 dir out mark 0x10 mask 0xff',
  'src 10.0.0.12 dst 10.1.0.12 dir in mark 0',
  'src 10.0.0.13 dst 10.1.0.13 dir out if_id 0x42',
  'src 10.0.0.15 dst 10.1.0.15 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto comp mode tunnel tmpl proto esp spi 0x1234 mode transport reqid 7 tmpl proto ah mode beet',
  'src 10.0.0.16 dst 10.1.0.16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel level required',
  'src 10.0.0.17 dst 10.1.0.17 dir in limit time-soft 100 limit time-hard 200 limit time-use-soft 30 limit time-use-hard 40 limit byte-soft 1000 limit byte-hard 2000 limit packet-soft 10 limit packet-hard 20',
  'src 10.0.0.18 dst 10.1.0.18 proto sctp sport 9 dir out',
  'src 10.0.0.19 dst 10.1.0.19 proto dccp dport 9 dir out',
  'src 10.0.0.20 dst 10.1.0.20 proto mobility-header type 5 dir out',
  'src 10.0.0.21 dst 10.1.0.21 proto 200 dir out',
  'src 2001:db8::1 dst ::ffff:1.2.3.4 dir out tmpl src 2001:db8::1 dst 2001:db8:0:0:1:0:0:1 proto esp mode tunnel',
  'src ::/0 dst ::1 dir in',
  'src 0.0.0.0/0 dst 0.0.0.0/0 dir fwd priority 4294967295',
  'src 10.0.0.22 dst 10.1.0.22 proto udp dport 4500 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto route2 mode ro',
  'src 10.0.0.23 dst 10.1.0.23 dir out tmpl proto esp mode in_trigger',
  'src 10.0.0.25 dst 10.1.0.25 dir in ptype sub mark 7 if_id 1 priority 1 tmpl src 1.1.1.1 dst 2.2.2.2 proto ah mode tunnel reqid 0xffffffff level use',
  'src 10.0.0.26 dst 10.1.0.26 dir fwd action block flag localok',
  'src 10.0.0.27/8 dst 10.1.0.27/16 proto 0 dir in',
  'src 10.0.0.28 dst 10.1.0.28 proto udp sport 1 dport 65535 dir out tmpl proto esp spi 1 mode beet',
];

/** allocspi'd (larval) SAs: the only SAs this kernel can hold (no esp4/ah4/ipcomp). */
const ALLOCSPI = [
  'src 10.0.0.1 dst 10.0.0.2 proto esp',
  'src 10.0.0.1 dst 10.0.0.3 proto ah reqid 9 mode tunnel min 0x100 max 0x200',
  'src 2001:db8::1 dst 2001:db8::2 proto comp mark 5 mask 0xf',
  'src 10.0.0.1 dst 10.0.0.5 proto esp mode beet reqid 0x80000000 mark 0 mask 0xffffffff',
  'src fe80::1 dst ::ffff:10.0.0.1 proto ah min 0xffffff00 max 0xffffffff',
];

function populate(ns: string): void {
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ip('-n', ns, 'link', 'add', 'kfv0', 'type', 'veth', 'peer', 'name', 'kfv1');
  const batch = POLICIES.map((p) => `xfrm policy add ${p}`).concat(ALLOCSPI.map((s) => `xfrm state allocspi ${s}`));
  // allocspi prints the new SA: output discarded
  const r = run(['-n', ns, '-batch', '-'], batch.join('\n') + '\n');
  if (r.status !== 0) throw new Error(`ip -batch: ${r.err}`);
}

const COMBOS: { args: string[]; opts: IpFormatOptions }[] = [
  { args: [], opts: {} },
  { args: ['-s'], opts: { stats: 1 } },
  { args: ['-s', '-s'], opts: { stats: 2 } },
  { args: ['-d'], opts: { details: true } },
  { args: ['-o'], opts: { oneline: true } },
  { args: ['-s', '-o'], opts: { stats: 1, oneline: true } },
  { args: ['-s', '-s', '-o'], opts: { stats: 2, oneline: true } },
  { args: ['-d', '-s'], opts: { details: true, stats: 1 } },
  { args: ['-d', '-s', '-s', '-o'], opts: { details: true, stats: 2, oneline: true } },
];

/** First differing line, for a readable failure. */
function firstDiff(a: string, b: string): string {
  const la = a.split('\n'), lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n ours ${JSON.stringify(la[i])}\n   ip ${JSON.stringify(lb[i])}`;
  }
  return 'equal';
}

let identical = 0;
function same(ours: Buffer, theirs: string, what: string): void {
  const o = ours.toString('latin1');
  assert.ok(o === theirs, `${what}: ${firstDiff(o, theirs)}`);
  identical++;
}

test('policy list text is byte-identical to `ip xfrm policy list` for every -s/-s -s/-d/-o combination', async () => {
  await withNetns(async (ns) => {
    populate(ns);
    const names = ifNamesOf(ns);
    wasm().exports.resetAll();
    const k = XfrmKernel.open({ netns: ns });
    try {
      const { first, end } = await k.dump('policy');
      assert.is(end - first, POLICIES.length);
      for (const c of COMBOS) {
        const theirs = ip('-n', ns, ...c.args, 'xfrm', 'policy', 'list');
        same(formatIpPolicies(first, end, { ...c.opts, ifNames: names }), theirs, `policy list ${c.args.join(' ')}`);
      }
      // -4 / -6 set preferred_family (a list filter in ip; our formatter only uses it for family-less selectors)
      const v4 = ip('-n', ns, '-4', 'xfrm', 'policy', 'list');
      const recs: number[] = [];
      for (let i = first; i < end; i++) if (wasm().dv.getUint8(wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE + L.R_FAMILY) === L.AF_INET) recs.push(i);
      const parts = recs.map((i) => formatIpPolicies(i, i + 1, { family: L.AF_INET, ifNames: names }));
      same(Buffer.concat(parts), v4, 'policy list -4 (family filter applied by the caller)');
    } finally {
      k.close();
    }
  });
});

test('state list text of allocspi SAs is byte-identical to `ip xfrm state list` (with nokeys too)', async () => {
  await withNetns(async (ns) => {
    populate(ns);
    wasm().exports.resetAll();
    const k = XfrmKernel.open({ netns: ns });
    try {
      const { first, end } = await k.dump('sa');
      assert.is(end - first, ALLOCSPI.length);
      for (const c of COMBOS) {
        const theirs = ip('-n', ns, ...c.args, 'xfrm', 'state', 'list');
        same(formatIpStates(first, end, c.opts), theirs, `state list ${c.args.join(' ')}`);
        const nk = ip('-n', ns, ...c.args, 'xfrm', 'state', 'list', 'nokeys');
        same(formatIpStates(first, end, { ...c.opts, nokeys: true }), nk, `state list nokeys ${c.args.join(' ')}`);
      }
    } finally {
      k.close();
    }
  });
});

test('an allocspi reply prints as `ip xfrm state get` prints the same SA', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    wasm().exports.resetAll();
    const k = XfrmKernel.open({ netns: ns });
    try {
      const idx = writeRecord({
        kind: L.OP_SA_ALLOCSPI, family: L.AF_INET, daddr: '192.0.2.2', saddr: '192.0.2.1', proto: L.IPPROTO_ESP,
        mode: L.XFRM_MODE_TUNNEL, reqid: 77, spiMin: 0x1000, spiMax: 0x1fff,
      });
      const reply = await k.requestRecord(idx);
      const before = wasm().regionLen(L.REGION_RECORDS) / L.REC_SIZE;
      for (const c of reply.chunks) decodeXfrm(c, { append: true });
      const rec = before;
      const spiBe = wasm().dv.getUint32(wasm().regionPtr(L.REGION_RECORDS) + rec * L.REC_SIZE + L.R_SPI, true);
      const spi = '0x' + (((spiBe & 0xff) << 24) | ((spiBe & 0xff00) << 8) | ((spiBe >>> 8) & 0xff00) | (spiBe >>> 24)).toString(16).padStart(8, '0').replace(/^-/, '');
      for (const c of COMBOS.slice(0, 5)) {
        const theirs = ip('-n', ns, ...c.args, 'xfrm', 'state', 'get', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', spi);
        same(formatIpStates(rec, rec + 1, c.opts), theirs, `allocspi reply vs state get ${c.args.join(' ')}`);
      }
    } finally {
      k.close();
    }
  });
});

/** GETSADINFO / GETSPDINFO request: nlmsghdr + u32 0xffffffff (ip/xfrm_state.c xfrm_sad_getinfo). */
function infoRequest(type: number, seq: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(20, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(X.NLM_F_REQUEST, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(0xffffffff, 16);
  return b;
}

test('state count / policy count text is byte-identical to `ip xfrm state|policy count`', async () => {
  await withNetns(async (ns) => {
    populate(ns);
    wasm().exports.resetAll();
    const k = XfrmKernel.open({ netns: ns });
    try {
      for (const [what, type] of [['state', X.XFRM_MSG_GETSADINFO], ['policy', X.XFRM_MSG_GETSPDINFO]] as const) {
        const seq = k.channel.allocSeq(1);
        const reply = await k.channel.request(infoRequest(type, seq), seq, 'count');
        const before = wasm().regionLen(L.REGION_RECORDS) / L.REC_SIZE;
        for (const c of reply.chunks) decodeXfrm(c, { append: true });
        for (const c of COMBOS) {
          const theirs = ip('-n', ns, ...c.args, 'xfrm', what, 'count');
          const ours = formatIpCount(before, c.opts);
          assert.ok(ours.ok);
          same(ours.text, theirs, `${what} count ${c.args.join(' ')}`);
        }
      }
    } finally {
      k.close();
    }
  });
});

test('monitor events print as `ip xfrm monitor` prints them (policy add/update/delete, SA events, flushes, defaults)', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const sock = openNetlinkXfrm({ netns: ns, groups: [X.XFRMNLGRP_ACQUIRE, X.XFRMNLGRP_EXPIRE, X.XFRMNLGRP_SA, X.XFRMNLGRP_POLICY, X.XFRMNLGRP_AEVENTS, X.XFRMNLGRP_REPORT, X.XFRMNLGRP_MIGRATE, X.XFRMNLGRP_MAPPING] });
    const got: Buffer[] = [];
    sock.start((d) => { got.push(...d); }, () => { /* ENOBUFS would show as a diff */ });
    const monitors = [[], ['-s'], ['-o']].map((args) => {
      const child = spawn('ip', ['-n', ns, ...args, 'xfrm', 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('latin1');
      child.stdout.on('data', (d: string) => { out += d; });
      return { args, child, text: () => out };
    });
    try {
      await new Promise((r) => setTimeout(r, 400)); // let the monitors subscribe
      const ops = [
        'xfrm policy add src 10.9.0.1 dst 10.9.0.2 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel',
        'xfrm policy update src 10.9.0.1 dst 10.9.0.2 dir out priority 3 mark 1 if_id 2',
        'xfrm policy add src 10.9.0.3 dst 10.9.0.4 proto tcp dport 443 dir in ptype sub',
        'xfrm state allocspi src 10.9.0.1 dst 10.9.0.2 proto esp reqid 4 mode tunnel',
        'xfrm policy delete src 10.9.0.1 dst 10.9.0.2 dir out mark 1 if_id 2',
        'xfrm policy flush ptype sub',
        'xfrm state flush proto ah',
        'xfrm state flush',
        'xfrm policy setdefault out block',
        'xfrm policy setdefault out accept',
        'xfrm policy flush',
      ];
      for (const op of ops) run(['-n', ns, ...op.split(' ')]);
      await new Promise((r) => setTimeout(r, 600));
      wasm().exports.resetAll();
      for (const d of got) decodeXfrm(d, { append: true, keepAll: true });
      const n = wasm().regionLen(L.REGION_RECORDS) / L.REC_SIZE;
      assert.ok(n >= 6, `events seen: ${n}`);
      const opts: IpFormatOptions[] = [{}, { stats: 1 }, { oneline: true }];
      monitors.forEach((m, i) => same(formatIpMonitor(0, n, opts[i]!), m.text(), `monitor ${m.args.join(' ')}`));
    } finally {
      for (const m of monitors) m.child.kill();
      sock.close();
    }
  });
});

test('100k policies: decode+format is much faster than `ip xfrm policy list`, and the text is identical', async () => {
  await withNetns(async (ns) => {
    const N = 100000;
    const lines: string[] = [];
    for (let i = 0; i < N; i++) {
      const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      lines.push(i % 2 === 0
        ? `xfrm policy add src ${a} dst 172.16.0.1 dir out priority ${i % 100} tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel reqid ${i}`
        : `xfrm policy add src ${a}/32 dst 192.168.0.0/16 proto tcp dport ${i % 65535 + 1} dir in`);
    }
    const r = run(['-n', ns, '-batch', '-'], lines.join('\n') + '\n');
    assert.is(r.status, 0, r.err);

    const t0 = process.hrtime.bigint();
    const theirs = ip('-n', ns, 'xfrm', 'policy', 'list');
    const tIp = Number(process.hrtime.bigint() - t0) / 1e6;

    wasm().exports.resetAll();
    const k = XfrmKernel.open({ netns: ns });
    try {
      // end to end: the kernel dump (XfrmKernel.dump decodes datagram by datagram) + format
      const t1 = process.hrtime.bigint();
      const { first, end } = await k.dump('policy');
      const text = formatIpPolicies(first, end);
      const tOurs = Number(process.hrtime.bigint() - t1) / 1e6;
      assert.is(end - first, N);
      same(text, theirs, '100k policy list');

      // decode+format alone: the same dump received raw (the `ip xfrm policy list` request), then timed apart
      const seq = k.channel.allocSeq(1);
      const req = Buffer.alloc(16);
      req.writeUInt32LE(16, 0);
      req.writeUInt16LE(X.XFRM_MSG_GETPOLICY, 4);
      req.writeUInt16LE(X.NLM_F_REQUEST | X.NLM_F_DUMP, 6);
      req.writeUInt32LE(seq, 8);
      const reply = await k.channel.request(req, seq, 'dump');
      wasm().exports.resetAll();
      const t2 = process.hrtime.bigint();
      for (const c of reply.chunks) decodeXfrm(c, { append: true });
      const n = wasm().regionLen(L.REGION_RECORDS) / L.REC_SIZE;
      const t3 = process.hrtime.bigint();
      const again = formatIpPolicies(0, n);
      const t4 = process.hrtime.bigint();
      const tDec = Number(t3 - t2) / 1e6, tFmt = Number(t4 - t3) / 1e6;
      assert.is(n, N);
      assert.ok(again.equals(text));
      console.log(`ip-format: 100k policies: \`ip xfrm policy list\` ${tIp.toFixed(0)} ms; keyfleet dump+decode+format ${tOurs.toFixed(0)} ms ` +
        `(${(tIp / tOurs).toFixed(1)}x); decode ${tDec.toFixed(0)} ms + format ${tFmt.toFixed(0)} ms = ${(tIp / (tDec + tFmt)).toFixed(1)}x faster than ip; ${text.length} bytes`);
      assert.ok((tDec + tFmt) * 5 < tIp, `decode+format ${tDec + tFmt} ms vs ip ${tIp} ms`);
      assert.ok(tOurs < tIp, `end to end ${tOurs} ms vs ip ${tIp} ms`);
    } finally {
      k.close();
    }
  });
});

test.after(() => {
  console.log(`ip-format: ${identical} byte-identical comparisons with iproute2 6.1`);
});

test.run();
