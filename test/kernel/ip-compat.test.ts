// test/kernel/ip-compat.test.ts — `keyfleet ip xfrm state …` against iproute2 6.1's `ip` with real ESP/AH/IPComp SAs
// (layer: tests, tier kernel: runs inside the qemu VM, where esp4/ah4/ipcomp exist). The same command lines run in
// order with `ip -n A` and with keyfleet's ipMain in this node process on netns B (node starts once: seconds under
// TCG); stdout, stderr and exit status must be byte-identical (creation/use times normalised). The netlink request
// of every `add`/`update` is also compared byte for byte with the one ip sent (strace, in a third netns).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipMain } from '../../src/cli/ip.js';
import { requestDiff } from '../netns/ip-strace.js';

const bin = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin/keyfleet');
const A = `kf-${process.pid}-ka`, B = `kf-${process.pid}-kb`, C = `kf-${process.pid}-kc`;
const K16 = '0x00112233445566778899aabbccddeeff';
const K19 = '0x00112233445566778899aabbccddeeff010203';
const K20 = '0x00112233445566778899aabbccddeeff00112233';
const K24 = '0x00112233445566778899aabbccddeeff0011223344556677';
const K32 = '0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const K36 = `${K32}a1a2a3a4`;
const K64 = `${K32}${K32.slice(2)}`;
const ID = (n: number, spi: string, proto = 'esp'): string => `src 10.0.0.1 dst 10.0.${n}.2 proto ${proto} spi ${spi}`;
const CBC = `enc cbc(aes) ${K16} auth hmac(sha1) ${K20}`;

/** Command lines after `ip [-opts] -n NS`; `''` stands for an empty argument. Global options lead. */
const LINES: string[] = [
  // every algorithm family
  `xfrm state add ${ID(1, '0x1001')} reqid 1 mode tunnel ${CBC}`,
  `xfrm state add ${ID(1, '0x1002')} mode transport enc cbc(aes) ${K32} auth-trunc hmac(sha256) ${K32} 128`,
  `xfrm state add ${ID(1, '0x1003')} aead rfc4106(gcm(aes)) ${K20} 128`,
  `xfrm state add ${ID(1, '0x1004')} mode tunnel aead rfc4106(gcm(aes)) ${K36} 64`,
  `xfrm state add ${ID(1, '0x1005')} aead rfc4309(ccm(aes)) ${K19} 128`,
  `xfrm state add ${ID(1, '0x1006')} aead rfc7539esp(chacha20,poly1305) ${K36} 128`,
  `xfrm state add ${ID(1, '0x1007')} enc cbc(des3_ede) ${K24} auth hmac(md5) ${K16}`,
  `xfrm state add ${ID(1, '0x1008')} enc ecb(cipher_null) '' auth digest_null ''`,
  `xfrm state add ${ID(1, '0x1009')} enc cbc(aes) ${K16} auth hmac(sha512) ${K64} mode beet sel src 10.0.0.1 dst 10.0.1.2`,
  `xfrm state add ${ID(1, '0x100a')} enc rfc3686(ctr(aes)) ${K20} auth hmac(sha384) ${K32}${K16.slice(2)}`,
  `xfrm state add ${ID(2, '0x2001', 'ah')} auth hmac(sha256) ${K32} mode tunnel`,
  `xfrm state add ${ID(2, '0x2002', 'ah')} auth xcbc(aes) ${K16}`,
  `xfrm state add ${ID(2, '0x2003', 'ah')} auth-trunc hmac(sha1) ${K20} 96`,
  `xfrm state add ${ID(2, '0x2004', 'ah')} auth cmac(aes) ${K16}`,
  `xfrm state add ${ID(3, '0x3001', 'comp')} comp deflate mode tunnel`,
  `xfrm state add ${ID(3, '0x3002', 'comp')} comp lzs`,
  `xfrm state add ${ID(3, '0x3003', 'comp')} comp lzjh`,
  // encap, marks, if_id, lifetimes, replay, flags, ctx, selectors, options
  `xfrm state add ${ID(4, '0x4001')} ${CBC} encap espinudp 4500 4500 0.0.0.0`,
  `xfrm state add ${ID(4, '0x4002')} ${CBC} encap espinudp-nonike 4500 4501 10.0.0.9`,
  `xfrm state add ${ID(4, '0x4003')} ${CBC} encap espintcp 4500 4500 0.0.0.0`,
  // a repeated encap: ip sends both XFRMA_ENCAPs, the kernel keeps the last
  `xfrm state add ${ID(4, '0x4004')} ${CBC} encap espinudp 4500 4500 0.0.0.0 encap espinudp-nonike 4600 4700 0.0.0.0`,
  `xfrm state get ${ID(4, '0x4004')}`,
  // allocspi with the empty range 0..0: the kernel answers ENOENT and leaves a larval SA with SPI 0
  'xfrm state allocspi src 10.0.0.1 dst 10.0.4.9 proto esp min 0 max 0', 'xfrm state list dst 10.0.4.9',
  `xfrm state add ${ID(4, '0x4004')} ${CBC} mark 7 mask 0xff`,
  `xfrm state add ${ID(4, '0x4005')} ${CBC} mark 0x10`,
  `xfrm state add ${ID(4, '0x4006')} ${CBC} if_id 42`,
  `xfrm state add ${ID(5, '0x5001')} ${CBC} limit time-soft 3000 limit time-hard 3600 limit time-use-soft 100 limit time-use-hard 200`,
  `xfrm state add ${ID(5, '0x5002')} ${CBC} limit byte-soft 1000000 limit byte-hard 2000000 limit packet-soft 1000 limit packet-hard 2000`,
  `xfrm state add ${ID(5, '0x5003')} ${CBC} replay-window 32`,
  `xfrm state add ${ID(5, '0x5004')} ${CBC} replay-window 128`,
  `xfrm state add ${ID(5, '0x5005')} aead rfc4106(gcm(aes)) ${K20} 128 flag esn replay-window 64 replay-seq 5 replay-oseq 7 replay-seq-hi 1 replay-oseq-hi 2`,
  `xfrm state add ${ID(5, '0x5006')} ${CBC} replay-seq 3 replay-oseq 4`,
  `xfrm state add ${ID(6, '0x6001')} ${CBC} flag noecn decap-dscp nopmtudisc wildrecv icmp af-unspec align4`,
  `xfrm state add ${ID(6, '0x6002')} ${CBC} flag 0x3 extra-flag dont-encap-dscp oseq-may-wrap`,
  `xfrm state add ${ID(6, '0x6003')} ${CBC} ctx system_u:object_r:ipsec_spd_t:s0`,
  `xfrm state add ${ID(6, '0x6004')} ${CBC} sel src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp sport 80 dport 443`,
  `xfrm state add ${ID(6, '0x6005')} ${CBC} sel src 10.1.0.0/16 proto icmp type 8 code 0 dev lo`,
  `xfrm state add ${ID(6, '0x6006')} ${CBC} tfcpad 32 output-mark 0x100 mask 0xfff`,
  `xfrm state add ${ID(6, '0x6007')} ${CBC} offload dev lo dir out`,
  `xfrm state add ${ID(6, '0x6008')} ${CBC} seq 5 reqid 0x10 mode tunnel`,
  `xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x7001 mode tunnel aead rfc4106(gcm(aes)) ${K20} 128`,
  `xfrm state add src 2001:db8::1 dst 2001:db8::2 proto ah spi 0x7002 auth hmac(sha256) ${K32}`,
  `xfrm state add src 2001:db8::1 dst 2001:db8::2 proto comp spi 0x7003 comp deflate`,
  `xfrm state add src 2001:db8::1 dst 2001:db8::3 proto esp spi 0x7004 ${CBC} sel src 2001:db8::/64 dst 2001:db8:1::/64 proto udp dport 53`,
  // kernel refusals
  `xfrm state add ${ID(1, '0x1001')} reqid 1 mode tunnel ${CBC}`,
  `xfrm state add ${ID(8, '0x8001')} enc cbc(aes) 0x0011 auth hmac(sha1) ${K20}`,
  `xfrm state add ${ID(8, '0x8002')} enc nosuch ${K16}`,
  `xfrm state add ${ID(8, '0x8003')} aead rfc4106(gcm(aes)) ${K20} 100`,
  `xfrm state update ${ID(8, '0x8004')} ${CBC}`,
  // listing
  'xfrm state list', '-s xfrm state list', '-s -s xfrm state list', '-d xfrm state list', '-o xfrm state list',
  '-s -o xfrm state list', 'xfrm state list nokeys', 'xfrm state list proto ah', 'xfrm state list proto comp',
  'xfrm state list src 10.0.0.1 dst 10.0.4.0/24', 'xfrm state list mode tunnel', 'xfrm state list reqid 1',
  'xfrm state list flag noecn', 'xfrm state list spi 0x1003', 'xfrm state list proto esp spi 0x5005', '-6 xfrm state list',
  '-4 xfrm state list mode transport', 'xfrm state list dst 2001:db8::/32', 'xfrm state list nokeys mode beet',
  'xfrm state count', '-s xfrm state count', '-s -s xfrm state count',
  // get, update, allocspi, delete
  `xfrm state get ${ID(1, '0x1001')}`, `-s xfrm state get ${ID(4, '0x4004')} mark 7 mask 0xff`,
  `xfrm state get ${ID(4, '0x4004')}`, `xfrm state get ${ID(9, '0x9999')}`,
  `xfrm state update ${ID(1, '0x1001')} reqid 1 mode tunnel enc cbc(aes) ${K16.replace('00', 'ff')} auth hmac(sha1) ${K20} limit time-hard 99`,
  `-s xfrm state get ${ID(1, '0x1001')}`,
  'xfrm state allocspi src 10.0.0.7 dst 10.0.0.8 proto esp min 0x7100 max 0x7100 reqid 3 mode tunnel',
  'xfrm state allocspi src 10.0.0.7 dst 10.0.0.8 proto esp min 0x7100 max 0x7100 reqid 3 mode tunnel',
  'xfrm state allocspi src 10.0.0.7 dst 10.0.0.9 proto comp min 0x7200 max 0x7200',
  'xfrm state list dst 10.0.0.8', `xfrm state delete ${ID(1, '0x1002')}`, `xfrm state delete ${ID(1, '0x1002')}`,
  `xfrm state delete ${ID(4, '0x4005')} mark 0x10`, 'xfrm state list src 10.0.0.1 dst 10.0.1.0/24',
  // deleteall, flush
  'xfrm state deleteall proto ah', 'xfrm state list proto ah', '-s -s xfrm state deleteall dst 10.0.4.0/24',
  'xfrm state deleteall reqid 0x10', 'xfrm state deleteall mode beet', 'xfrm state deleteall flag noecn', 'xfrm state count',
  'xfrm state list', 'xfrm state flush proto comp', 'xfrm state list proto comp', 'xfrm -s -s state flush proto esp',
  'xfrm state list', 'xfrm state flush', 'xfrm state list', 'xfrm state count',
];

const words = (l: string): string[] => l.split(/\s+/).filter((w) => w.length > 0).map((w) => (w === "''" ? '' : w));
const norm = (s: string): string => s.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'TIME');

function ip(args: string[]): { out: string; err: string; code: number } {
  const r = spawnSync('ip', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { out: norm(r.stdout), err: r.stderr, code: r.status ?? -1 };
}

/** keyfleet ip in this process: stdout/stderr captured while ipMain runs. */
async function ours(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const o: string[] = [], e: string[] = [];
  const so = process.stdout.write.bind(process.stdout), se = process.stderr.write.bind(process.stderr);
  const grab = (into: string[]) => ((chunk: string | Uint8Array): boolean => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1'));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = grab(o);
  process.stderr.write = grab(e);
  let code: number;
  try { code = await ipMain(args); } finally { process.stdout.write = so; process.stderr.write = se; }
  return { out: norm(o.join('')), err: e.join(''), code };
}

test.before(() => {
  for (const ns of [A, B, C]) { spawnSync('ip', ['netns', 'del', ns]); spawnSync('ip', ['netns', 'add', ns]); }
});
test.after(() => {
  for (const ns of [A, B, C]) spawnSync('ip', ['netns', 'del', ns]);
});

let compared = 0;
test(`${LINES.length} state command lines with real SAs: byte-identical stdout, stderr and exit status under ip and keyfleet ip`, async () => {
  const bad: string[] = [];
  let nonEmpty = 0;
  for (const l of LINES) {
    const w = words(l);
    const globals = w.filter((x) => x.startsWith('-') && x.length > 1);
    const rest = w.filter((x) => !(x.startsWith('-') && x.length > 1));
    const a = ip([...globals, '-n', A, ...rest]);
    const b = await ours([...globals, '-n', B, ...rest]);
    if (a.out.length > 0) nonEmpty++;
    if (a.out === b.out && a.err === b.err && a.code === b.code) compared++;
    else bad.push(`ip ${l}\n  ip:       ${a.code} ${JSON.stringify(a.out.slice(0, 600))} ${JSON.stringify(a.err)}\n  keyfleet: ${b.code} ${JSON.stringify(b.out.slice(0, 600))} ${JSON.stringify(b.err)}`);
  }
  if (bad.length) assert.unreachable(`${bad.length} of ${LINES.length} differ:\n${bad.join('\n')}`);
  assert.ok(nonEmpty >= 30, `only ${nonEmpty} lines printed anything: the SAs were not made`);
});

test('every add/update sends the netlink request ip sends (seq and pid aside)', () => {
  const bad: string[] = [];
  let n = 0;
  for (const l of LINES.filter((x) => / state (add|update) /.test(` ${x} `))) {
    const d = requestDiff(C, words(l));
    if (d) bad.push(`${l}\n  ${d}`);
    else n++;
  }
  if (bad.length) assert.unreachable(bad.join('\n'));
  assert.ok(n >= 40, `${n} requests compared`);
  compared += n;
});

test('monitor with real SAs: soft and hard expire, SA and policy events print as ip prints them', async () => {
  const ns = `kf-${process.pid}-kd`;
  spawnSync('ip', ['netns', 'add', ns]);
  const kids: ChildProcess[] = [];
  try {
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const outs: Buffer[][] = [[], []];
    for (const [i, cmd] of [['ip'], [process.execPath, bin, 'ip']].entries()) {
      const c = spawn(cmd[0]!, [...cmd.slice(1), '-n', ns, 'xfrm', 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
      c.stdout!.on('data', (d: Buffer) => outs[i]!.push(d));
      kids.push(c);
    }
    const text = (i: number): string => Buffer.concat(outs[i]!).toString('latin1');
    // node starts in seconds under TCG: probe until both monitors print an event, then start from a clean slate
    for (let t = 0; t < 60 && !(text(0).includes('10.99.') && text(1).includes('10.99.')); t++) {
      spawnSync('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', `10.99.${t}.0/24`, 'dst', '10.98.0.0/24', 'dir', 'in']);
      await new Promise((r) => setTimeout(r, 500));
    }
    spawnSync('ip', ['-n', ns, 'xfrm', 'policy', 'flush']);
    await new Promise((r) => setTimeout(r, 1000));
    outs[0]!.length = 0; outs[1]!.length = 0;
    const ops = [
      `xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001 reqid 1 mode tunnel ${CBC} limit time-soft 1 limit time-hard 2`,
      `xfrm state add src 10.0.0.1 dst 10.0.0.3 proto ah spi 0x1002 auth hmac(sha256) ${K32} mark 5`,
      `xfrm state update src 10.0.0.1 dst 10.0.0.3 proto ah spi 0x1002 auth hmac(sha256) ${K32} mark 5 limit byte-hard 1000`,
      `xfrm state delete src 10.0.0.1 dst 10.0.0.3 proto ah spi 0x1002 mark 5`,
      'xfrm policy add src 127.0.0.1 dst 127.0.0.2 dir out tmpl src 127.0.0.1 dst 127.0.0.2 proto esp mode transport reqid 9',
    ];
    for (const op of ops) assert.is(spawnSync('ip', ['-n', ns, ...words(op)]).status, 0, op);
    // a datagram the policy covers, with no SA yet (on lo the kernel sends no ACQUIRE for it, under ip as under us)
    spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', 'echo x > /dev/udp/127.0.0.2/9']);
    await new Promise((r) => setTimeout(r, 4000)); // soft expire at 1 s, hard at 2 s
    for (const op of ['xfrm state flush', 'xfrm policy flush']) spawnSync('ip', ['-n', ns, ...words(op)]);
    await new Promise((r) => setTimeout(r, 1500));
    const theirs = text(0);
    assert.match(theirs, /^Expired src 10\.0\.0\.1/m);
    assert.fixture(text(1), theirs);
    compared++;
  } finally {
    for (const c of kids) c.kill();
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

test.after(() => { console.log(`ip-compat (kernel): ${compared} byte-identical comparisons`); });

test.run();
