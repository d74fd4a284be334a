// test/unit/ip-parse.test.ts — specification of the `ip xfrm` parser (asm/src/ip-parse.ts via src/wasm/ip-parse.ts)
// (layer: tests). Acceptance: every test/fixtures/xfrm/*.hex capture's command, parsed and encoded, gives the bytes
// iproute2 6.1 sent (seq/pid masked). Also: abbreviations, diagnostics with ip's exact text and exit codes, batch split.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wasm } from '../../src/wasm/index.js';
import { readRecord } from '../../src/wasm/records.js';
import { encodeXfrm } from '../../src/wasm/xfrm-codec.js';
import { parseIpArgv, parseIpBatch, ipDiagText, setIpParseLinks } from '../../src/wasm/ip-parse.js';
import { infoRequest, spdSetRequest, defaultRequest } from '../../src/wasm/ip-control.js';
import * as L from '../../asm/shared/layout.js';
import * as D from '../../asm/shared/ip-diag.js';
import { goldenNames, loadGolden, maskSeqPid, type Golden } from './xfrm-golden.js';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Split a shell command line the way sh would for the captured commands ('…' quoting only). */
export function shellWords(cmd: string): string[] {
  const out: string[] = [];
  let cur = '', inQ = false, has = false;
  for (const c of cmd) {
    if (inQ) { if (c === "'") inQ = false; else cur += c; continue; }
    if (c === "'") { inQ = true; has = true; continue; }
    if (c === ' ' || c === '\t') { if (has) out.push(cur); cur = ''; has = false; continue; }
    cur += c; has = true;
  }
  if (has) out.push(cur);
  return out;
}

function fresh(): void {
  wasm().exports.resetAll();
}

function parse(line: string, family = 0): ReturnType<typeof parseIpArgv> {
  fresh();
  return parseIpArgv(shellWords(line), family);
}

/** test/fixtures/ip-capture/NAME.hex: captures of ip-only requests and options (same format as fixtures/xfrm). */
const captureDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/ip-capture');
function loadCapture(name: string): Golden {
  const text = readFileSync(path.join(captureDir, `${name}.hex`), 'latin1');
  const blocks = text.replace(/^#.*\n/gm, '').trim().split(/\n\s*\n/);
  return { name, command: text.match(/^# command: (.*)$/m)![1]!, messages: blocks.map((b) => Buffer.from(b.replace(/\s/g, ''), 'hex')) };
}
const captures = readdirSync(captureDir).filter((f) => f.endsWith('.hex')).map((f) => f.slice(0, -4));
const requests: [string, () => Golden][] = [
  ...goldenNames().filter((n) => !n.startsWith('kernel-')).map((n): [string, () => Golden] => [n, () => loadGolden(n)]),
  ...captures.filter((n) => !n.startsWith('ctl-')).map((n): [string, () => Golden] => [n, () => loadCapture(n)]),
];

// The captures ran in a scratch netns whose only link is lo (index 1): the parser resolves names against that.
setIpParseLinks(new Map([[1, 'lo']]));
for (const [name, load] of requests) {
  test(`parsing \`${name}\`'s command and encoding it gives the bytes ip sent`, () => {
    const g = load();
    const words = shellWords(g.command);
    assert.is(words[0], 'ip');
    const r = parse(words.slice(1).join(' ').replace(/'/g, "'"));
    fresh();
    const res = parseIpArgv(words.slice(1));
    assert.equal(res.diags.map((d) => ipDiagText(d).stderr), [], g.command);
    assert.is(res.end - res.first, 1);
    void r;
    const enc = encodeXfrm(res.first, res.end, { seqBase: 7, ack: 'ip' });
    // `dev NAME` makes ip ask NETLINK_ROUTE first (ll_name_to_index): the XFRM request is the last message
    const want = g.messages[g.messages.length - 1]!;
    const got = enc.bytes.subarray(0, want.length);
    const a = maskSeqPid(got), b = maskSeqPid(want);
    if (!a.equals(b) || enc.bytes.length !== ((want.length + 3) & ~3)) {
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      assert.unreachable(`${g.command}\nlen got ${enc.bytes.length} want ${want.length}; first difference at byte ${i}\n got  ${a.subarray(i, i + 24).toString('hex')}\n want ${b.subarray(i, i + 24).toString('hex')}`);
    }
  });
}

// The fixed-size requests without a record kind (src/wasm/ip-control.ts): count, set, setdefault, getdefault.
for (const name of captures.filter((n) => n.startsWith('ctl-'))) {
  test(`\`${name}\`'s command builds the bytes ip sent`, () => {
    const g = loadCapture(name);
    const res = parse(shellWords(g.command).slice(1).join(' '));
    assert.equal(res.diags.map((d) => ipDiagText(d).stderr), [], g.command);
    const aux = wasm().dv.getUint32(wasm().regionPtr(L.REGION_RECORDS) + res.first * L.REC_SIZE + L.R_AUX, true);
    const build: Record<number, () => Buffer> = {
      [D.IPC_SA_COUNT]: () => infoRequest(false, 7), [D.IPC_SP_COUNT]: () => infoRequest(true, 7),
      [D.IPC_SP_SET]: () => spdSetRequest(res.first, 7), [D.IPC_SP_SETDEFAULT]: () => defaultRequest(res.first, 7),
      [D.IPC_SP_GETDEFAULT]: () => defaultRequest(null, 7),
    };
    const got = build[aux]!();
    const want = g.messages[0]!;
    assert.is(maskSeqPid(got.subarray(0, want.length)).toString('hex'), maskSeqPid(want).toString('hex'), g.command);
    assert.is(got.readUInt32LE(0), want.length);
  });
}

const ERRORS: [string, string, number][] = [
  ['xfrm', 'Usage: ip xfrm XFRM-OBJECT { COMMAND | help }\nwhere  XFRM-OBJECT := state | policy | monitor\n', 255],
  ['xfrm state frob', 'Command "frob" is unknown, try "ip xfrm state help".\n', 255],
  ['xfrm policy add src 10.0.0.0/8', 'Not enough information: DIR is required.\n', 1],
  ['xfrm policy add dir sideways', 'Error: argument "sideways" is wrong: DIR value is invalid\n', 255],
  ['xfrm policy add dir in action deny', 'Error: argument "deny" is wrong: ACTION value is invalid\n\n', 255],
  ['xfrm policy add dir in dir out', 'Error: duplicate "dir": "dir" is the second value.\n', 255],
  ['xfrm policy add src 10.0.0.300 dir in', 'Error: any valid prefix is expected rather than "10.0.0.300".\n', 1],
  ['xfrm policy add src 10.0.0.0/33 dir in', 'Error: any valid prefix is expected rather than "10.0.0.0/33".\n', 1],
  ['xfrm policy add dst 10.0.0.0/8 dir out proto tcp', 'Error: duplicate "unknown": "proto" is the second value.\n', 255],
  ['xfrm policy add dir out tmpl src 1.1.1.1 mode tunnel', 'Error: argument "XFRM-PROTO" is required\n', 255],
  ['xfrm policy add dir out priority', 'Command line is not complete. Try option "help"\n', 255],
  ['xfrm policy delete dir out', 'Not enough information: either SELECTOR or INDEX is required.\n', 1],
  ['xfrm policy delete src 1.2.3.4 index 9 dir out', 'Error: either "SELECTOR" is duplicate, or "INDEX" is a garbage.\n', 255],
  ['xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1', 'ALGO-TYPE value "enc" or "aead" is required with XFRM-PROTO value "esp"\n', 1],
  ['xfrm state add src 1.1.1.1 dst 2.2.2.2 proto ah spi 1 enc aes 0x00', 'ALGO-TYPE values "enc", "aead", and "comp" are invalid with XFRM-PROTO value "ah"\n', 1],
  ['xfrm state add src 1.1.1.1 dst 2.2.2.2 proto comp spi 0x10000 comp deflate', 'SPI value is too large with XFRM-PROTO value "comp"\n', 1],
  ['xfrm state add src 1.1.1.1 dst ::1 proto esp', 'Error: argument "esp" is wrong: the same address family is required between values after "src" and "dst"\n', 255],
  ['xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 0x00 flag esn', 'Error: esn flag set without replay-window.\n', 255],
  ['xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 0x00 replay-window 5000', 'Error: replay-window (5000) > XFRMA_REPLAY_ESN_MAX (4096).\n', 255],
  ['xfrm state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp min 5', '"max" is missing\n', 1],
  ['xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 0xzz', 'Error: argument "0xzz" is wrong: ALGO-KEYMAT value is invalid\n', 255],
  ['xfrm policy add src 1.0.0.0/8 proto tcp type 3 dir in', '"type" and "code" are invalid with PROTO value "tcp"\n', 1],
];
for (const [line, text, exit] of ERRORS) {
  test(`\`ip ${line}\` fails with ip's text and exit ${exit}`, () => {
    const r = parse(line);
    assert.is(r.diags.length, 1, line);
    const t = ipDiagText(r.diags[0]!);
    assert.is(t.stderr, text);
    assert.is(t.exit, exit);
    assert.is(r.end, r.first);
  });
}

test('abbreviations resolve in source order: s = show, se = set, d = delete, al = allocspi', () => {
  assert.is(readRecord(parse('x st s').first).aux, D.IPC_SA_LIST);
  assert.is(readRecord(parse('xfrm po s').first).aux, D.IPC_SP_LIST);
  assert.is(readRecord(parse('xfrm po se').first).aux, D.IPC_SP_SET);
  assert.is(readRecord(parse('xfrm policy d index 1 dir in').first).kind, L.OP_SP_DELETE);
  assert.is(readRecord(parse('xfrm sa al src 1.1.1.1 dst 2.2.2.2 proto esp').first).kind, L.OP_SA_ALLOCSPI);
  assert.is(readRecord(parse('xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 0x00 mode be').first).mode, 4);
});

test('keys: odd hex digit counts get a leading zero, `0x` alone and other text are the raw bytes', () => {
  let r = readRecord(parse("xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 0xabc").first);
  assert.is(r.enc!.key.toString('hex'), '0abc');
  r = readRecord(parse("xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 0x").first);
  assert.is(r.enc!.key.toString(), '0x');
  r = readRecord(parse("xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc aes 'my secret'").first);
  assert.is(r.enc!.key.toString(), 'my secret');
  assert.is(r.enc!.bits, 72);
});

test('a batch file parses in one call: comments, quotes, blank lines, line numbers, and stops after a list', () => {
  fresh();
  const text = Buffer.from([
    '# comment', 'xfrm policy add src 10.0.0.0/24 dst 10.0.1.0/24 dir out # trailing', '',
    "xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff",
    'xfrm policy list', 'xfrm policy add src 10.0.2.0/24 dst 10.0.3.0/24 dir out', '',
  ].join('\n'));
  const r = parseIpBatch(text, 0, true);
  assert.is(r.end - r.first, 3);
  assert.equal([0, 1, 2].map((i) => readRecord(r.first + i).line), [2, 4, 5]);
  assert.is(readRecord(r.first + 2).kind, L.OP_SP_DUMP);
  fresh();
  const all = parseIpBatch(text, 0, false);
  assert.is(all.end - all.first, 4);
});

test('a batch stops at the first bad line and reports its line number', () => {
  fresh();
  const r = parseIpBatch(Buffer.from('xfrm policy add dir in\nxfrm policy add dir nowhere\nxfrm policy add dir out\n'), 0, true);
  assert.is(r.end - r.first, 1);
  assert.is(r.diags[0]!.line, 2);
  assert.is(ipDiagText(r.diags[0]!).stderr, 'Error: argument "nowhere" is wrong: DIR value is invalid\n');
});

test('-6 makes `any` a valid address and IPv6 the default family', () => {
  const r = readRecord(parse('xfrm policy add src any dst 2001:db8::/32 dir out', 10).first);
  assert.is(r.sel.family, 10);
  assert.is(r.sel.prefixlenS, 0);
  assert.is(r.sel.prefixlenD, 32);
});

test.run();
