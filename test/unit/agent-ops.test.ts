// test/unit/agent-ops.test.ts — the agent's parts for batches that need no kernel (tier unit): structured
// operations encode to the very bytes ip's own command line does (one codec), the window splitter of streamed
// text, the mapping of every XFRM multicast message type to an event, the plan of src/engine/sync.ts over
// records, and `keyfleet agent`'s settings from flags and a config file.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { writeOperations, operationRecord } from '../../src/agent/operations.js';
import { WindowSplitter } from '../../src/agent/window.js';
import { EventHub, EVENT_OF_MSG, type EventSource, type HubEvent } from '../../src/agent/events.js';
import { planChanges } from '../../src/engine/sync.js';
import { readSettings } from '../../src/cli/agent.js';
import { parseIpArgv } from '../../src/wasm/ip-parse.js';
import { encodeXfrm } from '../../src/wasm/xfrm-codec.js';
import { writeRecord } from '../../src/wasm/records.js';
import { markRecords, restoreRecords } from '../../src/kernel/xfrm.js';
import { EventType, IpsecProtocol, Mode, Direction, PolicyAction, type Operation } from '../../src/gen/keyfleet/v1/agent.pb.js';
import { OP_SP_ADD, OP_SP_DELETE } from '../../asm/shared/layout.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const sel = (src: string, dst: string, extra: object = {}) => ({ src, dst, proto: 0, sport: 0, dport: 0, ...extra });

/** Encodes records [first, end) with fixed sequence numbers. */
function bytes(first: number, end: number): string {
  return encodeXfrm(first, end, { seqBase: 100, ack: 'ip', maxBytes: 1 << 20 }).bytes.toString('hex');
}

const CASES: [string, string, Operation][] = [
  ['policy add with a tunnel template', 'xfrm policy add src 10.0.0.1/32 dst 10.0.0.2/32 dir out priority 5 tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 7 mode tunnel',
    { addPolicy: { selector: sel('10.0.0.1', '10.0.0.2/32'), dir: Direction.DIRECTION_OUT, action: 0, priority: 5, index: 0, ifId: 0,
      templates: [{ protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, mode: Mode.MODE_TUNNEL, src: '192.0.2.1', dst: '192.0.2.2', spi: 0, reqid: 7, optional: false }] } }],
  ['policy add, block, tcp port, IPv6', 'xfrm policy add src 2001:db8::/64 dst 2001:db8:1::/48 proto tcp dport 443 dir in action block',
    { addPolicy: { selector: sel('2001:db8::/64', '2001:db8:1::/48', { proto: 6, dport: 443 }), dir: Direction.DIRECTION_IN, action: PolicyAction.POLICY_ACTION_BLOCK, priority: 0, index: 0, ifId: 0, templates: [] } }],
  ['policy update with a mark', 'xfrm policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir fwd mark 7 mask 0xff',
    { updatePolicy: { selector: sel('10.1.0.0/16', '10.2.0.0/16'), dir: Direction.DIRECTION_FWD, action: 0, priority: 0, index: 0, ifId: 0, templates: [], mark: { value: 7, mask: 0xff } } }],
  ['policy delete', 'xfrm policy delete src 10.0.0.1/32 dst 10.0.0.2/32 dir out',
    { deletePolicy: { selector: sel('10.0.0.1', '10.0.0.2'), dir: Direction.DIRECTION_OUT, index: 0 } }],
  ['SA add, ESP tunnel, auth + enc', `xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 reqid 3 mode tunnel auth hmac(sha1) 0x${KEY.toString('hex')} enc cbc(aes) 0x${KEY.subarray(0, 16).toString('hex')}`,
    { addSa: { src: '10.0.0.1', dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x1000, mode: Mode.MODE_TUNNEL, reqid: 3, replayWindow: 0, flags: 0, ifId: 0,
      auth: { name: 'hmac(sha1)', key: KEY, icvBits: 0 }, enc: { name: 'cbc(aes)', key: KEY.subarray(0, 16), icvBits: 0 } } }],
  ['SA add, AEAD with replay window', `xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 mode transport replay-window 32 aead rfc4106(gcm(aes)) 0x${KEY.toString('hex')} 128`,
    { addSa: { src: '10.0.0.1', dst: '10.0.0.2', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x2000, mode: Mode.MODE_TRANSPORT, reqid: 0, replayWindow: 32, flags: 0, ifId: 0,
      aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvBits: 128 } } }],
  ['SA delete', 'xfrm state delete src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000',
    { deleteSa: { dst: '10.0.0.2', src: '10.0.0.1', protocol: IpsecProtocol.IPSEC_PROTOCOL_ESP, spi: 0x1000 } }],
  ['SA flush of one protocol', 'xfrm state flush proto ah', { flushSas: { protocol: IpsecProtocol.IPSEC_PROTOCOL_AH } }],
  ['policy flush', 'xfrm policy flush', { flushPolicies: {} }],
];

for (const [name, ipCmd, op] of CASES) {
  test(`structured ${name} encodes to the bytes of \`ip ${ipCmd.split(' ').slice(0, 4).join(' ')} …\``, () => {
    const mark = markRecords();
    try {
      const ip = parseIpArgv(ipCmd.split(' '));
      assert.equal(ip.diags, [], `ip parser: ${JSON.stringify(ip.diags)}`);
      const ours = writeOperations([op]);
      assert.is(bytes(ours.first, ours.end), bytes(ip.first, ip.end));
    } finally {
      restoreRecords(mark);
    }
  });
}

test('invalid structured operations name the field and what was expected', () => {
  const bad = (op: Operation, re: RegExp): void => assert.throws(() => operationRecord(op, 'operations[2]'), re);
  bad({ addSa: { src: '10.0.0.1', dst: '10.0.0.2', protocol: 0, spi: 0, mode: 0, reqid: 0, replayWindow: 0, flags: 0, ifId: 0 } }, /operations\[2\]\.add_sa\.spi: required/);
  bad({ addSa: { src: '10.0.0.1', dst: '2001:db8::1', protocol: 0, spi: 5, mode: 0, reqid: 0, replayWindow: 0, flags: 0, ifId: 0 } }, /add_sa\.src: address family differs/);
  bad({ addSa: { src: '', dst: '10.0.0.2', protocol: 0, spi: 5, mode: 0, reqid: 0, replayWindow: 0, flags: 0, ifId: 0 } }, /add_sa\.enc: an SA needs auth, enc or aead/);
  bad({ addSa: { src: '', dst: '10.0.0.2', protocol: 0, spi: 5, mode: 0, reqid: 0, replayWindow: 0, flags: 0, ifId: 0, aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvBits: 0 } } }, /aead\.icv_bits: required/);
  bad({ addPolicy: { selector: sel('10.0.0.0/33', '10.0.0.1'), dir: 1, action: 0, priority: 0, index: 0, ifId: 0, templates: [] } }, /selector\.src: prefix length '33' is not 0\.\.32/);
  bad({ addPolicy: { selector: sel('', ''), dir: 1, action: 0, priority: 0, index: 0, ifId: 0, templates: [] } }, /selector\.src: required/);
  bad({ addPolicy: { selector: sel('10.0.0.1', '10.0.0.2', { dport: 70000 }), dir: 1, action: 0, priority: 0, index: 0, ifId: 0, templates: [] } }, /selector\.dport: port 70000/);
  bad({ deleteSa: { dst: 'x', protocol: 0, spi: 1, src: '' } }, /delete_sa\.dst: 'x' is not an IPv4 or IPv6 address/);
  bad({}, /operations\[2\]: empty/);
});

const SETKEY = 'add 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc "0123456789abcdef;" ; # a ; in a comment\nspdadd 10.0.0.1 10.0.0.2 any -P out none;\nspdadd 10.0.0.3 10.0.0.4 any -P out none; spdadd 10.0.0.5 10.0.0.6 any -P out none;\n';

test('the window splitter cuts only after a statement\'s `;`, whatever the chunk boundaries, and counts lines', () => {
  const whole = Buffer.from(SETKEY);
  for (const chunk of [1, 2, 7, 1000]) {
    const s = new WindowSplitter('setkey', 8);
    const wins = [];
    for (let o = 0; o < whole.length; o += chunk) wins.push(...s.push(whole.subarray(o, o + chunk)));
    const last = s.end();
    if (last) wins.push(last);
    assert.is(Buffer.concat(wins.map((w) => w.text)).toString(), SETKEY, `chunk ${chunk}`);
    for (const w of wins.slice(0, -1)) assert.ok(/;\s*$/.test(w.text.toString().replace(/#.*$/gm, '')) || w.text.toString().trimEnd().endsWith(';'), `window ends mid-statement: ${JSON.stringify(w.text.toString())}`);
    // No window cuts inside the quoted key or the comment.
    for (const w of wins) assert.not.match(w.text.toString(), /^[^"]*"[^"]*$/);
    const lineOf = wins.map((w) => w.lineOffset);
    for (let i = 1; i < wins.length; i++) assert.is(lineOf[i], lineOf[i - 1]! + (wins[i - 1]!.text.toString().match(/\n/g) ?? []).length);
  }
  const one = new WindowSplitter('setkey', 1 << 20);
  assert.equal(one.push(whole), []); // below the window size nothing is cut
  assert.is(one.end()!.text.toString(), SETKEY);
  assert.is(one.peak, whole.length);
});

test('the ip window splitter keeps a line continued with a backslash in one window', () => {
  const text = 'xfrm policy add src 10.0.0.1 \\\n dst 10.0.0.2 dir out\nxfrm policy add src 10.0.0.3 dst 10.0.0.4 dir out\n';
  const s = new WindowSplitter('ip', 4);
  const wins = [...Buffer.from(text)].flatMap((b) => s.push(Buffer.from([b])));
  const rest = s.end();
  const all = [...wins, ...(rest ? [rest] : [])].map((w) => [w.text.toString(), w.lineOffset]);
  assert.equal(all, [['xfrm policy add src 10.0.0.1 \\\n dst 10.0.0.2 dir out\n', 0], ['xfrm policy add src 10.0.0.3 dst 10.0.0.4 dir out\n', 2]]);
});

/** Byte offsets after which a window may end, by a plain per-byte scan (the reference for the fast one). */
function legalCuts(text: string, syntax: 'setkey' | 'ip'): Set<number> {
  const cuts = new Set<number>();
  let quote = false, comment = false, escape = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (syntax === 'ip') { if (c === '\n' && text[i - 1] !== '\\') cuts.add(i + 1); continue; }
    if (comment) { if (c === '\n') comment = false; continue; }
    if (quote) { if (escape) escape = false; else if (c === '\\') escape = true; else if (c === '"') quote = false; continue; }
    if (c === '"') quote = true; else if (c === '#') comment = true; else if (c === ';') cuts.add(i + 1);
  }
  return cuts;
}

test('the window splitter cuts only where a per-byte scan allows, for random text and random chunking (fast-check)', () => {
  fc.assert(fc.property(
    fc.array(fc.constantFrom('a', ' ', ';', '"', '#', '\n', '\\'), { maxLength: 300 }).map((a) => a.join('')),
    fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
    fc.constantFrom<'setkey' | 'ip'>('setkey', 'ip'),
    fc.integer({ min: 1, max: 64 }),
    (text, sizes, syntax, limit) => {
      const bytes = Buffer.from(text, 'latin1');
      const sp = new WindowSplitter(syntax, limit);
      const wins = [];
      let o = 0, k = 0;
      while (o < bytes.length) { const n = sizes[k++ % sizes.length]!; wins.push(...sp.push(bytes.subarray(o, o + n))); o += n; }
      const last = sp.end();
      if (last) wins.push(last);
      assert.is(Buffer.concat(wins.map((w) => w.text)).toString('latin1'), text);
      const legal = legalCuts(text, syntax);
      let at = 0;
      for (const w of wins.slice(0, -1)) { at += w.text.length; assert.ok(legal.has(at), `cut at ${at} of ${JSON.stringify(text)}`); }
    },
  ), { numRuns: 500 });
});

/** A netlink message of `type` with an empty body: enough for the hub to classify it. */
function msg(type: number, len = 16): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  return b;
}

test('every XFRM multicast message type maps to its event type; an unknown one becomes OTHER, never dropped', () => {
  let feed: ((d: Buffer[]) => void) | null = null;
  const source: EventSource = { start: (d) => { feed = d; }, close: () => undefined };
  const hub = new EventHub({ source });
  hub.start();
  const s = hub.subscribe({ onReady: () => undefined, types: null });
  const want: [number, EventType][] = [
    [16, EventType.EVENT_TYPE_NEW_SA], [26, EventType.EVENT_TYPE_UPDATE_SA], [17, EventType.EVENT_TYPE_DELETE_SA],
    [19, EventType.EVENT_TYPE_NEW_POLICY], [25, EventType.EVENT_TYPE_UPDATE_POLICY], [20, EventType.EVENT_TYPE_DELETE_POLICY],
    [23, EventType.EVENT_TYPE_ACQUIRE], [24, EventType.EVENT_TYPE_EXPIRE], [27, EventType.EVENT_TYPE_POLICY_EXPIRE],
    [28, EventType.EVENT_TYPE_FLUSH_SA], [29, EventType.EVENT_TYPE_FLUSH_POLICY], [30, EventType.EVENT_TYPE_AEVENT],
    [32, EventType.EVENT_TYPE_REPORT], [38, EventType.EVENT_TYPE_MAPPING], [99, EventType.EVENT_TYPE_OTHER],
  ];
  // Every named type of the proto except GAP/OTHER/UNSPECIFIED is produced by some kernel message.
  const named = Object.values(EventType).filter((v): v is number => typeof v === 'number' && v > EventType.EVENT_TYPE_GAP && v !== EventType.EVENT_TYPE_OTHER);
  assert.equal([...new Set(Object.values(EVENT_OF_MSG))].sort((a, b) => a - b), named);
  feed!([Buffer.concat(want.map(([t]) => msg(t)))]);
  const got: HubEvent[] = [];
  for (let e = hub.take(s); e; e = hub.take(s)) got.push(e);
  assert.equal(got.map((e) => [e.messageType, e.type]), want);
  hub.close();
});

test('planChanges: add the missing, update what differs (naming the fields), delete the rest, keep the equal', () => {
  const mark = markRecords();
  try {
    const p = (src: string, dst: string, dir: number, priority = 0, kind = OP_SP_ADD) => writeRecord({ kind, sel: { saddr: src, daddr: dst, prefixlenS: 32, prefixlenD: 32 }, dir, priority, family: 2 });
    // "kernel" (as a dump would decode it) ...
    const k0 = p('10.0.0.1', '10.0.0.2', 1, 10);
    p('10.0.0.3', '10.0.0.4', 1);
    p('10.0.0.5', '10.0.0.6', 0);
    const kEnd = k0 + 3;
    // ... and desired.
    const d0 = p('10.0.0.1', '10.0.0.2', 1, 20);
    p('10.0.0.5', '10.0.0.6', 0);
    p('10.0.0.7', '10.0.0.8', 2);
    const plan = planChanges(d0, d0 + 3, [{ first: k0, end: kEnd }], { sa: true, policy: true });
    assert.equal(plan.changes.map((c) => [c.action, c.desired - d0, c.current - k0, c.differs]), [['update', 0, 0, ['priority']], ['add', 2, -1 - k0, []], ['delete', -1 - d0, 1, []]]);
    assert.equal([plan.adds, plan.updates, plan.deletes, plan.unchanged], [1, 1, 1, 1]);
    // Scope: policies out of scope are neither added nor deleted — and listing one is an error.
    assert.throws(() => planChanges(d0, d0 + 3, [{ first: k0, end: kEnd }], { sa: true, policy: false }), /outside the scope/);
    const dup = p('10.0.0.5', '10.0.0.6', 0);
    assert.throws(() => planChanges(d0, dup + 1, [], { sa: true, policy: true }), /listed twice/);
    const del = p('10.0.0.9', '10.0.0.9', 0, 0, OP_SP_DELETE);
    assert.throws(() => planChanges(del, del + 1, [], { sa: true, policy: true }), /deletes, flushes and reads do not belong/);
  } finally {
    restoreRecords(mark);
  }
});

test('`keyfleet agent` settings: a JSON config file with flag names, relative paths, flags winning, clear errors', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kf-cfg-'));
  try {
    const cfg = path.join(dir, 'agent.json');
    writeFileSync(cfg, JSON.stringify({ listen: '0.0.0.0:7443', 'tls-cert': 'agent.crt', roles: '/etc/keyfleet/roles.json', 'window-bytes': 65536, insecure: false }));
    const s = readSettings(['--config', cfg, '--listen', '127.0.0.1:9']);
    assert.equal(s, { listen: '127.0.0.1:9', 'tls-cert': path.join(dir, 'agent.crt'), roles: '/etc/keyfleet/roles.json', 'window-bytes': 65536, insecure: false });
    writeFileSync(cfg, JSON.stringify({ lisen: 'x' }));
    assert.throws(() => readSettings(['--config', cfg]), /agent\.json: "lisen": unknown setting 'lisen' \(expected one of listen, tls-cert/);
    assert.throws(() => readSettings(['--window-bytes', '0']), /--window-bytes: 'window-bytes' expects a positive whole number/);
    assert.throws(() => readSettings(['--nope']), /unknown option '--nope'/);
    assert.is(readSettings(['--help']), 'help');
    // The packaged example config is valid.
    const shipped = readSettings(['--config', path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../packaging/keyfleet-agent.json')]);
    assert.is((shipped as Record<string, unknown>)['tls-cert'], '/etc/keyfleet/agent.crt');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
