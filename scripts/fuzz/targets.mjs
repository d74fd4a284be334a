// scripts/fuzz/targets.mjs — the fuzz targets and the properties they check (layer: tooling/fuzz).
// Owns: for each target an input arbitrary (fast-check) and a check that throws FuzzFailure when a property breaks:
// no trap (WebAssembly.RuntimeError / WasmTrap), diagnostics inside the input, records well formed (R_KIND in the
// known set, blob offsets + lengths inside REGION_BLOB), encoder output a well-formed netlink stream, decode∘encode
// idempotent, formatter output plain text that leaves every other region untouched. Layout: asm/shared/layout.ts.
// Uses the compiled modules under dist/ (npm run build), in the one wasm instance of this thread.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { validSetkey, nearValidSetkey, hostileSetkey, setkeyOptions, KEYWORDS } from './setkey-gen.mjs';
import { mutationProgram, applyProgram } from './mutate.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);

const L = await dist('asm/shared/layout.js');
const K = await dist('asm/shared/setkey-diag.js');
const { wasm, WasmTrap } = await dist('src/wasm/index.js');
const { parseSetkey, clearSetkeyHostCache } = await dist('src/wasm/setkey-parse.js');
const { decodeXfrm, encodeXfrm, xfrmFixedSize } = await dist('src/wasm/xfrm-codec.js');
const { writeRecord } = await dist('src/wasm/records.js');
const { decodePfkey, encodePfkey, pfkeyMessages } = await dist('src/wasm/pfkey-codec.js');
const { kdebugSadb } = await dist('src/wasm/pfkey-debug.js');
const { configureSetkeyFormat, formatSetkeySAs, formatSetkeySPs, countSetkeySAs, countSetkeySPs } = await dist('src/wasm/setkey-format.js');

/** A broken property; `trap` marks a WebAssembly trap or WasmTrap (the worst kind). */
export class FuzzFailure extends Error {
  constructor(kind, message) { super(`${kind}: ${message}`); this.kind = kind; }
}
const fail = (kind, msg) => { throw new FuzzFailure(kind, msg); };

/** Run fn; turn traps (and any other exception out of the wrappers) into FuzzFailures. */
function guard(step, fn) {
  try { return fn(); } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    if (e instanceof WebAssembly.RuntimeError || e instanceof WasmTrap) fail('trap', `${step}: ${e.message}`);
    fail('exception', `${step}: ${e && e.stack || e}`);
  }
}

// ---------------------------------------------------------------- corpora
const fixtureDir = path.join(root, 'test', 'fixtures');
export const setkeyCorpus = readdirSync(path.join(fixtureDir, 'setkey')).filter((f) => f.endsWith('.conf')).sort()
  .map((f) => Uint8Array.from(readFileSync(path.join(fixtureDir, 'setkey', f))));

function loadHex(file) {
  const text = readFileSync(file, 'utf8');
  const body = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return body.split(/\n\s*\n/).map((b) => Uint8Array.from(Buffer.from(b.replace(/\s+/g, ''), 'hex'))).filter((b) => b.length > 0);
}
const xfrmDir = path.join(fixtureDir, 'xfrm');
/** Every captured datagram (requests ip sent, replies and events the kernel sent). */
export const xfrmCaptures = readdirSync(xfrmDir).filter((f) => f.endsWith('.hex')).sort().flatMap((f) => loadHex(path.join(xfrmDir, f)));

/** Every PF_KEY message setkey 0.8.2 sent for the setkey fixtures (captured in the kernel VM; test/unit/pfkey-codec.test.ts). */
export const pfkeyCaptures = Object.values(JSON.parse(readFileSync(path.join(fixtureDir, 'pfkey-setkey-sent.json'), 'utf8')))
  .flat().map((h) => Uint8Array.from(Buffer.from(h, 'hex')));

const protocols = existsSync(path.join(fixtureDir, 'setkey-dump', 'protocols'))
  ? readFileSync(path.join(fixtureDir, 'setkey-dump', 'protocols'), 'latin1') : null;
configureSetkeyFormat({ timezone: 'utc', protocols });

// The `ip xfrm` parser and formatter join the targets when they are built (src/wasm/ip-parse.ts, ip-format.ts).
let ip = null;
try {
  const parse = await dist('src/wasm/ip-parse.js');
  const format = await dist('src/wasm/ip-format.js');
  if (typeof parse.parseIpBatch === 'function' && typeof format.formatIpStates === 'function') {
    format.configureIpFormat({ timezone: 'utc', protocols });
    ip = { ...parse, ...format };
  }
} catch { ip = null; }
const ipBatchCorpus = [];
if (ip) {
  const lines = readFileSync(path.join(xfrmDir, 'commands.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
    .map((l) => l.slice(l.indexOf('\t') + 1).replace(/^ip (-n \S+ )?/, '').replace(/'/g, ''));
  for (let i = 0; i < lines.length; i += 4) ipBatchCorpus.push(Uint8Array.from(Buffer.from(lines.slice(i, i + 4).join('\n') + '\n')));
}
const ipFormatAll = (step, first, end) => {
  if (!ip) return;
  const before = snapshot();
  const o = { stats: formatIndex % 3, oneline: (formatIndex & 4) !== 0, nokeys: (formatIndex & 8) !== 0, ifNames: new Map([[1, 'lo']]) };
  guard(`${step} ip xfrm state list`, () => ip.formatIpStates(first, end, o));
  guard(`${step} ip xfrm policy list`, () => ip.formatIpPolicies(first, end, o));
  guard(`${step} ip xfrm monitor`, () => ip.formatIpMonitor(first, end, o));
  if (!before.equals(snapshot())) fail('format', `${step}: ip formatting changed the records or the blob`);
};

/** Host names the generated text may use resolve here, without DNS (everything else: EAI_NONAME). */
class FuzzHosts extends Map {
  get(name) { return super.get(name) ?? K.GAI_NONAME; }
}
const hosts = new FuzzHosts([['gw', ['192.0.2.1']], ['gw6', ['2001:db8::1']], ['multi', ['10.0.0.1', '10.0.0.2', '2001:db8::2']],
  ['localhost', ['127.0.0.1', '::1']]]);

// ---------------------------------------------------------------- invariants
const KINDS = new Set([L.OP_NONE, L.OP_SA_ADD, L.OP_SA_UPDATE, L.OP_SA_DELETE, L.OP_SA_GET, L.OP_SA_DELETEALL, L.OP_SA_FLUSH,
  L.OP_SA_DUMP, L.OP_SA_ALLOCSPI, L.OP_SP_ADD, L.OP_SP_UPDATE, L.OP_SP_DELETE, L.OP_SP_GET, L.OP_SP_FLUSH, L.OP_SP_DUMP,
  L.OP_SP_DELETEALL, L.OP_EXIT]);

/** Every record of REGION_RECORDS: known kind, blob references inside REGION_BLOB. Returns the record count. */
export function checkRecords(step, inputLen = -1) {
  const w = wasm();
  const rlen = w.regionLen(L.REGION_RECORDS);
  if (rlen % L.REC_SIZE !== 0) fail('records', `${step}: REGION_RECORDS length ${rlen} is not a multiple of REC_SIZE`);
  const n = rlen / L.REC_SIZE;
  const blobLen = w.regionLen(L.REGION_BLOB);
  const dv = w.dv;
  const base = w.regionPtr(L.REGION_RECORDS);
  const inBlob = (i, what, off, len) => {
    if (off + len > blobLen) fail('records', `${step}: record ${i} ${what} [${off}, +${len}) outside the blob (${blobLen} bytes)`);
  };
  for (let i = 0; i < n; i++) {
    const r = base + i * L.REC_SIZE;
    const u32 = (o) => dv.getUint32(r + o, true);
    const kind = dv.getUint8(r + L.R_KIND);
    if (!KINDS.has(kind)) fail('records', `${step}: record ${i} has unknown kind ${kind}`);
    for (const [slot, name] of [[L.R_ALG_AUTH, 'auth'], [L.R_ALG_ENC, 'enc'], [L.R_ALG_AEAD, 'aead'], [L.R_ALG_COMP, 'comp']]) {
      const nameLen = u32(slot + L.ALG_NAME_LEN);
      if (nameLen === 0) continue;
      inBlob(i, `${name} name`, u32(slot + L.ALG_NAME_OFF), nameLen);
      inBlob(i, `${name} key`, u32(slot + L.ALG_KEY_OFF), Math.ceil(u32(slot + L.ALG_KEY_BITS) / 8));
    }
    if (u32(L.R_FLAGS) & L.RF_HAS_CTX) inBlob(i, 'ctx', u32(L.R_CTX_OFF), u32(L.R_CTX_LEN));
    if (u32(L.R_TMPL_COUNT)) inBlob(i, 'templates', u32(L.R_TMPL_OFF), u32(L.R_TMPL_COUNT) * L.TMPL_SIZE);
    if (u32(L.R_ATTRS_LEN)) inBlob(i, 'attrs', u32(L.R_ATTRS_OFF), u32(L.R_ATTRS_LEN));
    if (inputLen >= 0) {
      const s = u32(L.R_SRC_START), e = u32(L.R_SRC_END);
      if (!(s <= e && e <= inputLen)) fail('records', `${step}: record ${i} source range [${s}, ${e}) outside the input (${inputLen} bytes)`);
      if (u32(L.R_LINE) < 1) fail('records', `${step}: record ${i} has line ${u32(L.R_LINE)}`);
    }
  }
  return n;
}

/** Encoder output: back-to-back NLMSG_ALIGN'd messages, attributes inside their message, one map entry per message. */
export function checkNetlink(step, res, first, end) {
  const b = res.bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0, k = 0;
  while (off < b.length) {
    if (off + 16 > b.length) fail('netlink', `${step}: ${b.length - off} trailing bytes`);
    const len = dv.getUint32(off, true);
    if (len < 16 || off + len > b.length) fail('netlink', `${step}: message ${k} nlmsg_len ${len} at ${off} of ${b.length}`);
    const fixed = xfrmFixedSize(dv.getUint16(off + 4, true), dv.getUint16(off + 6, true));
    if (fixed >= 0) {
      let a = off + 16 + ((fixed + 3) & ~3);
      if (16 + fixed > len) fail('netlink', `${step}: message ${k} shorter (${len}) than its fixed part (${fixed})`);
      while (a < off + len) {
        const alen = dv.getUint16(a, true);
        if (alen < 4 || a + alen > off + len) fail('netlink', `${step}: message ${k} attribute at ${a - off} nla_len ${alen} (message ${len})`);
        a += (alen + 3) & ~3;
      }
    }
    off += (len + 3) & ~3;
    k++;
  }
  if (off !== b.length) fail('netlink', `${step}: stream ends at ${off}, output has ${b.length}`);
  if (res.recordOfMessage.length !== k) fail('netlink', `${step}: ${k} messages but ${res.recordOfMessage.length} map entries`);
  let prev = -1;
  for (const r of res.recordOfMessage) {
    if (r < first || r >= end || r <= prev) fail('netlink', `${step}: message map entry ${r} not increasing inside [${first}, ${end})`);
    prev = r;
  }
  if (res.consumed > end - first) fail('netlink', `${step}: consumed ${res.consumed} of ${end - first}`);
}

/** The records+blob bytes, to prove a formatter or encoder left them alone. */
function snapshot() {
  const w = wasm();
  return Buffer.concat([w.copy(L.REGION_RECORDS), w.copy(L.REGION_BLOB)]);
}

const PRINTABLE = (c) => c === 9 || c === 10 || (c >= 0x20 && c < 0x7f);
const CTX_PREFIX = Buffer.from('\tsecurity context: ');

/** The security contexts of records [0, n) as pfkey_dump prints them ("%s": up to the first NUL). */
function recordContexts(n) {
  const w = wasm();
  const dv = w.dv;
  const base = w.regionPtr(L.REGION_RECORDS);
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = base + i * L.REC_SIZE;
    if ((dv.getUint32(r + L.R_FLAGS, true) & L.RF_HAS_CTX) === 0) continue;
    const c = w.copy(L.REGION_BLOB, dv.getUint32(r + L.R_CTX_OFF, true), dv.getUint32(r + L.R_CTX_LEN, true));
    const z = c.indexOf(0);
    out.push(z < 0 ? c : c.subarray(0, z));
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * setkey -D / -DP text: lines ending in '\n', only printable ASCII and tabs — except the raw bytes of a
 * `security context:` line, which must be one of the records' contexts exactly.
 */
function checkDumpText(step, buf, ctxs) {
  if (buf.length === 0) return;
  if (buf[buf.length - 1] !== 10) fail('text', `${step}: output does not end with a newline`);
  let lineStart = true;
  for (let i = 0; i < buf.length; i++) {
    if (lineStart && buf[i] === 9 && buf.subarray(i, i + CTX_PREFIX.length).equals(CTX_PREFIX)) {
      const q = i + CTX_PREFIX.length;
      const c = ctxs.find((x) => buf.subarray(q, q + x.length).equals(x) && buf[q + x.length] === 10);
      if (!c) fail('text', `${step}: security context at ${q} is none of the records' contexts: ${JSON.stringify(buf.subarray(q, q + 60).toString('latin1'))}`);
      i = q + c.length; // the '\n'
      lineStart = true;
      continue;
    }
    lineStart = buf[i] === 10;
    if (!PRINTABLE(buf[i])) {
      const ls = buf.lastIndexOf(10, i) + 1;
      const line = buf.subarray(ls, Math.max(ls, buf.indexOf(10, i))).toString('latin1');
      fail('text', `${step}: byte 0x${buf[i].toString(16)} at ${i} in line ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
}

let formatIndex = 0;
/** setkey -D and -DP of records [0, n), with varying flags; the output must not disturb records or blob. */
function formatAll(step, n) {
  const before = snapshot();
  const k = formatIndex++;
  const opts = { now: 1700000000 + k, pid: 4242, all: (k & 1) !== 0, ports: (k & 2) !== 0, short: (k & 4) !== 0 };
  const nsa = guard(`${step} count SAs`, () => countSetkeySAs(0, n));
  const nsp = guard(`${step} count SPs`, () => countSetkeySPs(0, n));
  if (nsa > n || nsp > n) fail('format', `${step}: counted ${nsa} SAs / ${nsp} SPs of ${n} records`);
  const ctxs = recordContexts(n);
  const sa = guard(`${step} format SAs`, () => formatSetkeySAs(0, n, opts));
  checkDumpText(`${step} setkey -D`, sa, ctxs);
  const sp = guard(`${step} format SPs`, () => formatSetkeySPs(0, n, opts));
  checkDumpText(`${step} setkey -DP`, sp, ctxs);
  if (!before.equals(snapshot())) fail('format', `${step}: formatting changed the records or the blob (output overran its reservation)`);
  // Chunked formatting equals formatting in one go (the dump path formats in slices).
  if (n >= 2 && (k & 8) !== 0) {
    const mid = n >> 1;
    const total = nsp;
    const a = formatSetkeySPs(0, mid, { ...opts, total });
    const b = formatSetkeySPs(mid, n, { ...opts, total, firstSeq: 1 + countSetkeySPs(0, mid) });
    if (!Buffer.concat([a, b]).equals(sp)) fail('format', `${step}: -DP in two slices differs from one go`);
  }
}

/**
 * encode [0, n) → check → decode → check → encode: the same bytes again (decode∘encode is the identity on them).
 * normalize: encode and decode once first (parsed setkey records carry af_key-only state such as the ctx NUL,
 * which the first trip legitimately drops), then require the identity from there on.
 */
function roundTrip(step, n, normalize = false) {
  if (n === 0) return;
  if (normalize) {
    const e0 = guard(`${step} encode (normalize)`, () => encodeXfrm(0, n, { ack: true, seqBase: 1 }));
    checkNetlink(`${step} encode (normalize)`, e0, 0, n);
    if (e0.bytes.length === 0) return;
    guard(`${step} decode (normalize)`, () => decodeXfrm(e0.bytes));
    n = checkRecords(`${step} decode (normalize)`);
    if (n === 0) return;
  }
  const before = snapshot();
  const e1 = guard(`${step} encode`, () => encodeXfrm(0, n, { ack: true, seqBase: 1 }));
  checkNetlink(`${step} encode`, e1, 0, n);
  if (!before.equals(snapshot())) fail('encode', `${step}: encoding changed the records or the blob`);
  if (e1.bytes.length === 0) return;
  const d = guard(`${step} decode encoded`, () => decodeXfrm(e1.bytes));
  if (d.malformed !== 0) fail('roundtrip', `${step}: decoding our own encoding found ${d.malformed} malformed messages`);
  if (d.records !== e1.recordOfMessage.length) fail('roundtrip', `${step}: ${e1.recordOfMessage.length} messages decoded to ${d.records} records`);
  const m = checkRecords(`${step} decode encoded`);
  const e2 = guard(`${step} re-encode`, () => encodeXfrm(0, m, { ack: true, seqBase: 1 }));
  checkNetlink(`${step} re-encode`, e2, 0, m);
  if (!e1.bytes.equals(e2.bytes)) {
    const at = e1.bytes.findIndex((x, i) => x !== e2.bytes[i]);
    fail('roundtrip', `${step}: encode(decode(encode(r))) differs from encode(r) at byte ${at} (${e1.bytes.length} vs ${e2.bytes.length} bytes)\n` +
      `  first:  ${e1.bytes.toString('hex')}\n  second: ${e2.bytes.toString('hex')}`);
  }
}

/** Diagnostics inside the input: byte range, line and column agree with the text. */
function checkDiagnostics(step, text, res) {
  const nLines = text.reduce((n, c) => n + (c === 10 ? 1 : 0), 1);
  for (const d of res.diagnostics) {
    const where = `${step}: diagnostic ${JSON.stringify(d.message)} (code ${d.code}) at ${d.line}:${d.column} [${d.start}, ${d.end})`;
    if (!(Number.isInteger(d.start) && d.start >= 0 && d.start <= d.end && d.end <= text.length)) fail('diagnostic', `${where}: range outside the input (${text.length} bytes)`);
    if (!(d.line >= 1 && d.line <= nLines)) fail('diagnostic', `${where}: line outside 1..${nLines}`);
    // (lastIndexOf with a negative start counts from the end: a diagnostic at offset 0 starts line 1)
    const ls = d.start === 0 ? 0 : text.lastIndexOf(10, d.start - 1) + 1;
    let le = text.indexOf(10, ls);
    if (le < 0) le = text.length;
    if (!(d.column >= 1 && d.column <= le - ls + 1)) fail('diagnostic', `${where}: column outside 1..${le - ls + 1}`);
    if (d.column !== d.start - ls + 1) fail('diagnostic', `${where}: column disagrees with the byte offset (expected ${d.start - ls + 1})`);
    if (typeof d.message !== 'string' || d.message.length === 0) fail('diagnostic', `${where}: empty message`);
  }
  if (res.statements < 0 || res.firstErrorStatement >= Math.max(res.statements, 1) + 1) fail('diagnostic', `${step}: first error statement ${res.firstErrorStatement} of ${res.statements}`);
}

// ---------------------------------------------------------------- targets
function runSetkey(text, opts, mustBeValid) {
  clearSetkeyHostCache(); // the wrapper caches every name it resolved, for the life of the process
  const res = guard('parseSetkey', () => parseSetkey(text, { file: 'fuzz.conf', rfc: opts.rfc, stdin: opts.stdin, hosts }));
  checkDiagnostics('parse', text, res);
  const n = checkRecords('parse', text.length);
  if (n !== res.records) fail('records', `parse: wrapper says ${res.records} records, region holds ${n}`);
  if (mustBeValid && !opts.stdin) {
    const errs = res.diagnostics.filter((d) => d.severity === 'error');
    if (res.fatal || errs.length) fail('valid', `a valid input was refused: ${errs.map((d) => `${d.line}:${d.column} ${d.message} ${d.expected ?? ''} [${d.excerpt.slice(0, 200)}]`).join('; ')}`);
  }
  formatAll('parsed records', n);
  roundTrip('parsed records', n, true);
}

const textBytes = (s) => Uint8Array.from(Buffer.from(s, 'latin1'));

function runXfrm(bytes, split, keepAll) {
  wasm().exports.resetAll();
  let n;
  if (split > 0 && split < bytes.length) {
    // A dump arrives datagram by datagram: the second decode appends.
    guard('decode (first part)', () => decodeXfrm(bytes.subarray(0, split), { keepAll }));
    checkRecords('decode (first part)');
    guard('decode (append)', () => decodeXfrm(bytes.subarray(split), { keepAll, append: true }));
  } else {
    guard('decode', () => decodeXfrm(bytes, { keepAll }));
  }
  n = checkRecords('decode');
  formatAll('decoded records', n);
  ipFormatAll('decoded records', 0, n);
  roundTrip('decoded records', n);
}

// PF_KEY bytes (a dump, a promiscuous socket, a binary file for `setkey FILE`): decoded into records, the records
// printed as setkey -D/-DP and re-encoded, every message traced as setkey -v prints it.
function runPfkey(bytes, split, keepAll) {
  wasm().exports.resetAll();
  if (split > 0 && split < bytes.length) {
    guard('pfkey decode (first part)', () => decodePfkey(bytes.subarray(0, split), { keepAll }));
    checkRecords('pfkey decode (first part)');
    guard('pfkey decode (append)', () => decodePfkey(bytes.subarray(split), { keepAll, append: true }));
  } else {
    guard('pfkey decode', () => decodePfkey(bytes, { keepAll }));
  }
  const n = checkRecords('pfkey decode');
  formatAll('pfkey-decoded records', n);
  guard('pfkey re-encode', () => encodePfkey(0, n));
  guard('kdebug_sadb', () => { for (const m of pfkeyMessages(Buffer.from(bytes))) kdebugSadb(m.bytes); });
}

const nlArb = fc.constantFrom(...[0, 1]);
void nlArb;

// Generated records: writeRecord with hostile field values, then format and round-trip.
const u32 = fc.oneof(fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0xffffffff), fc.nat({ max: 0xffffffff }));
const u8 = fc.integer({ min: 0, max: 255 });
const addr = fc.oneof(fc.ipV4(), fc.constantFrom('::', '::1', '2001:db8::1', 'fe80::1:2', '::ffff:1.2.3.4', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
const alg = (names) => fc.option(fc.record({
  name: fc.oneof(fc.constantFrom(...names), fc.string({ unit: 'binary-ascii', maxLength: 70 })),
  key: fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
  param: fc.oneof(fc.constant(0), fc.constantFrom(64, 96, 128, 256), u32),
}).map((a) => ({ ...a, bits: a.key.length * 8 })), { nil: undefined, freq: 2 });
const template = fc.record({ daddr: addr, saddr: addr, spi: u32, proto: fc.oneof(fc.constantFrom(50, 51, 108), u8), reqid: u32,
  mode: fc.oneof(fc.constantFrom(0, 1, 4), u8), share: u8, optional: u8, level: u8, xflags: u8, aalgos: u32, ealgos: u32, calgos: u32 }, { requiredKeys: [] });
const genRecord = fc.record({
  kind: fc.constantFrom(...KINDS), family: fc.constantFrom(2, 10, 0, 1, 255), dir: fc.oneof(fc.constantFrom(0, 1, 2), u8),
  action: fc.oneof(fc.constantFrom(0, 1), u8),
  flags: fc.oneof(fc.constant(0), fc.nat({ max: 0x7ffff })).map((f) => f & ~L.RF_NO_ACK), // RF_NO_ACK: engine-only, never decoded daddr: addr, saddr: addr, spi: u32,
  proto: fc.oneof(fc.constantFrom(50, 51, 108, 255, 0, 43), u8), mode: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4), u8), replay: u8,
  saFlags: u8, reqid: u32, priority: u32, index: u32, polFlags: u8, share: u8, ptype: fc.oneof(fc.constantFrom(0, 1), u8),
  state: fc.integer({ min: 0, max: 4 }), seq: u32, replayWin: u32, spiMin: u32, spiMax: u32, extraFlags: u32, attrOrder: u32, aux: u32, aux2: u32,
  sel: fc.record({ daddr: addr, saddr: addr, dport: fc.integer({ min: 0, max: 0xffff }), sport: fc.integer({ min: 0, max: 0xffff }),
    dportMask: fc.integer({ min: 0, max: 0xffff }), sportMask: fc.integer({ min: 0, max: 0xffff }), prefixlenD: u8, prefixlenS: u8, proto: u8,
    ifindex: fc.integer(), user: u32 }, { requiredKeys: [] }),
  lft: fc.record({ softByte: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), hardByte: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), softAdd: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), hardAdd: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }) }, { requiredKeys: [] }),
  auth: alg(['hmac(sha256)', 'hmac(sha1)', 'hmac(md5)', 'digest_null', 'xcbc(aes)']),
  enc: alg(['cbc(aes)', 'cbc(des3_ede)', 'ecb(cipher_null)', 'rfc3686(ctr(aes))', 'cbc(blowfish)']),
  aead: alg(['rfc4106(gcm(aes))', 'rfc4309(ccm(aes))', 'rfc7539esp(chacha20,poly1305)']),
  comp: alg(['deflate', 'lzs', 'lzjh']),
  encap: fc.option(fc.record({ type: fc.oneof(fc.constantFrom(1, 2, 3), u8), sport: fc.integer({ min: 0, max: 0xffff }),
    dport: fc.integer({ min: 0, max: 0xffff }), oa: addr }), { nil: undefined, freq: 3 }),
  ctx: fc.option(fc.record({ doi: u8, alg: u8, str: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) }), { nil: undefined, freq: 4 }),
  mark: fc.option(fc.record({ value: u32, mask: u32 }), { nil: undefined, freq: 3 }),
  ifId: fc.option(u32, { nil: undefined, freq: 3 }),
  templates: fc.array(template, { maxLength: 6 }),
}, { requiredKeys: ['kind'] });

function runRecords(recs) {
  wasm().exports.resetAll();
  for (const r of recs) guard('writeRecord', () => writeRecord(r));
  const n = checkRecords('written records');
  if (n !== recs.length) fail('records', `wrote ${recs.length} records, region holds ${n}`);
  formatAll('written records', n);
  roundTrip('written records', n, true); // e.g. deleteall's bare GETSA dump decodes as a dump
}

function runIpBatch(text, family, stopAtList) {
  wasm().exports.resetAll();
  const res = guard('parseIpBatch', () => ip.parseIpBatch(Buffer.from(text), family, stopAtList));
  const n = checkRecords('ip parse', text.length);
  if (res.first !== 0 || res.end !== n) fail('records', `ip parse: wrapper says [${res.first}, ${res.end}), region holds ${n}`);
  if (res.consumed > text.length) fail('diagnostic', `ip parse consumed ${res.consumed} of ${text.length} bytes`);
  const lines = text.reduce((k, c) => k + (c === 10 ? 1 : 0), 1);
  for (const d of res.diags) if (d.line > lines + 1) fail('diagnostic', `ip parse: diagnostic code ${d.code} on line ${d.line} of ${lines}`);
  ipFormatAll('ip parsed records', 0, n);
  formatAll('ip parsed records', n);
  roundTrip('ip parsed records', n, true);
}

const netlinkMutation = mutationProgram('netlink');
const textMutation = mutationProgram('text', KEYWORDS.filter((k) => k !== '\n'));

/**
 * name → { arbitrary, check(value) }. `weight`: share of the default budget. `describe(value)`: the input as bytes
 * (written next to a failure report).
 */
export const targets = {
  'setkey-valid': {
    weight: 0.08,
    arbitrary: fc.tuple(validSetkey, setkeyOptions),
    check: ([t, o]) => runSetkey(textBytes(t), o, true),
    describe: ([t]) => textBytes(t),
  },
  'setkey-near-valid': {
    weight: 0.08,
    arbitrary: fc.tuple(nearValidSetkey, setkeyOptions),
    check: ([t, o]) => runSetkey(textBytes(t), o, false),
    describe: ([t]) => textBytes(t),
  },
  'setkey-hostile': {
    weight: 0.05,
    arbitrary: fc.tuple(hostileSetkey, setkeyOptions),
    check: ([t, o]) => runSetkey(textBytes(t), o, false),
    describe: ([t]) => textBytes(t),
  },
  'setkey-mutate': {
    weight: 0.14,
    arbitrary: fc.tuple(textMutation, setkeyOptions),
    check: ([p, o]) => runSetkey(applyProgram(p, setkeyCorpus, xfrmFixedSize), o, false),
    describe: ([p]) => applyProgram(p, setkeyCorpus, xfrmFixedSize),
  },
  'xfrm-mutate': {
    weight: 0.55,
    arbitrary: fc.tuple(netlinkMutation, fc.nat(), fc.boolean()),
    check: ([p, split, keepAll]) => {
      const b = applyProgram(p, xfrmCaptures, xfrmFixedSize);
      runXfrm(b, split % 4 === 0 ? 0 : split % (b.length + 1), keepAll);
    },
    describe: ([p]) => applyProgram(p, xfrmCaptures, xfrmFixedSize),
  },
  'pfkey-mutate': {
    weight: 0.1,
    arbitrary: fc.tuple(mutationProgram('netlink'), fc.nat(), fc.boolean()),
    check: ([p, split, keepAll]) => {
      const b = applyProgram(p, pfkeyCaptures, xfrmFixedSize);
      runPfkey(b, split % 4 === 0 ? 0 : split % (b.length + 1), keepAll);
    },
    describe: ([p]) => applyProgram(p, pfkeyCaptures, xfrmFixedSize),
  },
  'xfrm-records': {
    weight: 0.1,
    arbitrary: fc.array(genRecord, { minLength: 1, maxLength: 4 }),
    check: (recs) => runRecords(recs),
    describe: (recs) => Buffer.from(JSON.stringify(recs, (_, v) => typeof v === 'bigint' ? v.toString() : v)),
  },
};
if (ip) {
  targets['ip-batch-mutate'] = {
    weight: 0.1,
    arbitrary: fc.tuple(mutationProgram('text', ['state', 'policy', 'add', 'update', 'delete', 'get', 'deleteall', 'list', 'flush', 'count',
      'src', 'dst', 'proto', 'spi', 'reqid', 'mode', 'tunnel', 'transport', 'beet', 'auth', 'enc', 'aead', 'comp', 'auth-trunc', 'encap',
      'sel', 'dir', 'in', 'out', 'fwd', 'tmpl', 'level', 'required', 'use', 'ctx', 'mark', 'if_id', 'priority', 'index', 'ptype', 'sub',
      'main', 'action', 'allow', 'block', 'limit', 'time-soft', 'byte-hard', 'replay-window', 'flag', 'esn', 'noecn', 'xfrm', '0x', '0xffffffffffffffffff',
      '4294967296', '"', '\\', '#', '\0', 'hmac(sha256)', 'cbc(aes)', 'rfc4106(gcm(aes))', '::', '10.0.0.0/33', '/', 'any']), fc.constantFrom(0, 2, 10), fc.boolean()),
    check: ([p, fam, stop]) => runIpBatch(applyProgram(p, ipBatchCorpus, xfrmFixedSize), fam, stop),
    describe: ([p]) => applyProgram(p, ipBatchCorpus, xfrmFixedSize),
  };
}

/** Replays a raw input file through a target's checks (for hangs, where no fast-check path exists). */
export function checkRaw(target, bytes) {
  if (target === 'ip-batch-mutate') runIpBatch(bytes, 0, true);
  else if (target.startsWith('setkey')) {
    for (const stdin of [false, true]) runSetkey(bytes, { rfc: true, stdin }, false);
  } else if (target === 'pfkey-mutate') runPfkey(bytes, 0, false);
  else runXfrm(bytes, 0, false);
}
