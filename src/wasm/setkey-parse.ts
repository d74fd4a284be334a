// src/wasm/setkey-parse.ts — TypeScript face of asm/src/setkey-parse.ts (layer: asm bindings).
// Owns: handing setkey text (plus a name block: /etc/protocols, udp /etc/services, resolved host names) to wasm,
// resolving the host names the parser asks for (getaddrinfo semantics: `getent ahosts*` synchronously, or
// node:dns lookup asynchronously), and turning REGION_DIAG entries into SetkeyDiagnostic objects with the exact
// text ipsec-tools 0.8.2 setkey prints (src/setkey/token.l yyerror: `line %d: %s at [%s]`).
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { TMPL_SIZE, REGION_DIAG, REGION_RECORDS, REGION_BLOB, REGION_INPUT, DIAG_SIZE, REC_SIZE, D_CODE, D_START, D_END, D_LINE, D_COL,
  D_ARG, D_STMT, D_SEVERITY } from '../../asm/shared/layout.js';
import * as K from '../../asm/shared/setkey-diag.js';
import { wasm } from './index.js';

interface SetkeyParseExports {
  setkeyParse(len: number, flags: number): number;
  setkeyParseFatal(): number;
  setkeyParseFirstError(): number;
}

export type SetkeySeverity = 'error' | 'warning' | 'note';

export interface SetkeyDiagnostic {
  severity: SetkeySeverity;
  /** K.DIAG_* code (asm/shared/setkey-diag.ts). */
  code: number;
  file: string;
  /** 1-based physical line / byte column of the offending text in the input. */
  line: number;
  column: number;
  /** Byte range of the offending text (what setkey prints inside `at [...]`). */
  start: number;
  end: number;
  /** The line setkey itself prints (its lexer's counter: 0 in -c mode). */
  setkeyLine: number;
  /** Statement index (0-based) the diagnostic belongs to. */
  statement: number;
  /** setkey's message text, e.g. `syntax error`, `Invalid key length`. */
  message: string;
  /** What would have been accepted there. */
  expected?: string;
  /** The source line holding the offending text. */
  excerpt: string;
  /** What setkey 0.8.2 prints on stdout for it ('' when it prints nothing). */
  setkeyText: string;
  /** What setkey (libipsec) prints on stderr for it, if anything. */
  stderrExtra?: string;
  /** -f mode: setkey stops at the first error, so it never prints this one (we report it as a courtesy). */
  followOn: boolean;
}

export interface SetkeyParse {
  statements: number;
  records: number;
  /** Statement index of the first error (the engine applies only statements before it), -1 if none. */
  firstErrorStatement: number;
  /** The lexer's fatal `Syntax error`: setkey exits 1 at once, even with -c. */
  fatal: boolean;
  diagnostics: SetkeyDiagnostic[];
  /** -f: the line setkey prints after a parse error (`parse failed, line N.`), if any. */
  parseFailedText?: string;
}

export interface SetkeyParseOptions {
  file: string;
  /** -r (default true): fwd copies of `in` policies. false = -k. */
  rfc?: boolean;
  /** -c semantics (setkey.c stdin_loop). */
  stdin?: boolean;
  /** Pre-resolved host names: name → addresses (strings), or an error code (GAI_*). Checked before the resolver. */
  hosts?: Map<string, string[] | number>;
}

// ---------------------------------------------------------------- messages
const GAI_TEXT: Record<number, string> = {
  [K.GAI_NONAME]: 'Name or service not known',
  [K.GAI_AGAIN]: 'Temporary failure in name resolution',
  [K.GAI_FAIL]: 'Non-recoverable failure in name resolution',
  [K.GAI_NODATA]: 'No address associated with hostname',
  [K.GAI_SERVICE]: 'Servname not supported for ai_socktype',
  [K.GAI_ADDRFAMILY]: 'Address family for hostname not supported',
};

const EXPECTED: Record<number, string> = {
  [K.EXP_COMMAND]: 'a statement (add, get, delete, deleteall, flush, dump, spdadd, spdupdate, spddelete, spddump, spdflush, exit)',
  [K.EXP_ADDRESS]: 'an address or host name',
  [K.EXP_SPI]: 'an SPI (decimal or 0x hex)',
  [K.EXP_PROTO_OR_SPI]: 'a protocol (esp, esp-old, ah, ah-old, ipcomp, esp-udp) or an SPI',
  [K.EXP_EXT_OR_ALG]: 'an option (-m -u -r -f -lh -ls -bh -bs -ctx) or an algorithm (-E, -A, -C); options must come before the algorithms',
  [K.EXP_AUTH_ALG]: 'an authentication algorithm after -A (hmac-md5, hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512, hmac-ripemd160, aes-xcbc-mac, keyed-md5, keyed-sha1, null)',
  [K.EXP_ENC_ALG]: 'an encryption algorithm after -E (des-cbc, 3des-cbc, blowfish-cbc, cast128-cbc, aes-cbc, rijndael-cbc, aes-ctr, camellia-cbc, twofish-cbc, des-deriv, des-32iv, null, simple)',
  [K.EXP_COMP_ALG]: 'a compression algorithm after -C (deflate, lzs, oui)',
  [K.EXP_KEY]: 'a key: "text" or 0x followed by hex digits',
  [K.EXP_SEMI]: "';' (nothing may follow the algorithms)",
  [K.EXP_AUTH_OR_SEMI]: "-A or ';'",
  [K.EXP_DECIMAL]: 'a decimal number',
  [K.EXP_MODE]: 'transport, tunnel or any',
  [K.EXP_PADFLAG]: 'random-pad, seq-pad, zero-pad or nocyclic-seq',
  [K.EXP_PORT]: 'a port: a number, a udp service name or any',
  [K.EXP_RBRACKET]: "']'",
  [K.EXP_UPPER]: 'an upper-layer protocol (any, tcp, a number or an /etc/protocols name)',
  [K.EXP_POLICY]: '-P followed by a policy',
  [K.EXP_QUOTED]: 'a "quoted string"',
  [K.EXP_PROTO_ONLY]: "a protocol (esp, ah, ipcomp, ...) or ';'",
  [K.EXP_SPD_ADDR]: 'a source address[/prefix][[port]] or tagged "name"',
  [K.EXP_P_DIR]: 'a policy direction: in, out or fwd',
  [K.EXP_P_ACTION]: 'a policy action (discard, none, ipsec, entrust, bypass) or priority/prio',
  [K.EXP_P_PRIO]: 'a priority: N, -N, or low/def/high [+|- N]',
  [K.EXP_P_RULE]: 'a request protocol/mode/src-dst/level (esp, ah or ipcomp) or the end of the policy',
  [K.EXP_P_ADDR]: 'tunnel endpoints src-dst (numeric addresses), me-any or any-me',
  [K.EXP_P_HYPHEN]: "'-' between the two endpoints",
  [K.EXP_P_LEVEL]: 'a level: default, use, require, unique or unique:N',
  [K.EXP_P_END]: 'the end of the policy',
  [K.EXP_P_PORT_PAIR]: 'a [port] on the second endpoint too (ports need both endpoints)',
};

const FIXED: Record<number, string> = {
  [K.DIAG_SYNTAX]: 'syntax error',
  [K.DIAG_LEX_FATAL]: 'Syntax error',
  [K.DIAG_MULTI_ADDR]: 'multiple address specified',
  [K.DIAG_ALG_MISMATCH]: 'algorithm mismatched',
  [K.DIAG_REPLAY_OLD]: 'replay prevention cannot be used with ah/esp-old',
  [K.DIAG_BAD_UPPER]: 'invalid upper layer protocol',
  [K.DIAG_BAD_UPPER_SPEC]: 'invalid an upper layer protocol spec',
  [K.DIAG_W_MODE]: 'WARNING: mode is obsolete',
  [K.DIAG_W_OLD_ALG]: 'WARNING: obsolete algorithm',
  [K.DIAG_KEYLEN]: 'Invalid key length',
  [K.DIAG_NO_PAIR]: 'no source/destination address pair of the same family (setkey fails silently)',
  [K.DIAG_NOTE_UNINIT]: 'setkey leaves a port uninitialised here (keyfleet uses 0)',
  [K.DIAG_NUL]: 'NUL byte inside a quoted string (setkey reads past its buffer here)',
  [K.DIAG_STDIN_LONG]: "statement longer than setkey -c's 1024-byte line buffer",
  [K.DIAG_NOTE_UNTERMINATED]: "text after the last ';' is never parsed in -c mode",
  [K.DIAG_TOO_MANY_ADDRS]: 'host name resolves to more than 64 addresses',
};

// ---------------------------------------------------------------- names
interface NameEntry { kind: number; family: number; name: string; value: number; addr?: Uint8Array }

let systemNames: NameEntry[] | null = null;

function readOr(path: string): string {
  try { return readFileSync(path, 'latin1'); } catch { return ''; }
}

/** /etc/protocols (getprotobyname: names and aliases) and the udp lines of /etc/services (getservbyname(, "udp")). */
function loadSystemNames(): NameEntry[] {
  if (systemNames) return systemNames;
  const out: NameEntry[] = [];
  for (const line of readOr('/etc/protocols').split('\n')) {
    const f = line.replace(/#.*/, '').trim().split(/\s+/);
    if (f.length < 2 || !/^\d+$/.test(f[1]!)) continue;
    const n = Number(f[1]);
    for (const name of [f[0]!, ...f.slice(2)]) out.push({ kind: K.NK_PROTO, family: 0, name, value: n });
  }
  for (const line of readOr('/etc/services').split('\n')) {
    const f = line.replace(/#.*/, '').trim().split(/\s+/);
    const m = f.length >= 2 ? /^(\d+)\/udp$/.exec(f[1]!) : null;
    if (!m) continue;
    const port = Number(m[1]);
    for (const name of [f[0]!, ...f.slice(2)]) out.push({ kind: K.NK_SERVICE, family: 0, name, value: port });
  }
  systemNames = out;
  return out;
}

/** Resolved hosts, keyed `family:name` (family 0 = unspecified, 2, 10), shared by every parse of this process. */
const hostCache = new Map<string, { addrs: { family: number; bytes: Uint8Array }[] } | { error: number }>();

function addrBytes(a: string): { family: number; bytes: Uint8Array } | null {
  const v = isIP(a.replace(/%.*$/, ''));
  if (v === 4) return { family: 2, bytes: Uint8Array.from(a.split('.').map(Number)) };
  if (v === 6) {
    const s = a.replace(/%.*$/, '');
    const [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, ''];
    const parse = (p: string): number[] => {
      if (!p) return [];
      const out: number[] = [];
      for (const g of p.split(':')) {
        if (g.includes('.')) { const q = g.split('.').map(Number); out.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!); }
        else out.push(parseInt(g, 16));
      }
      return out;
    };
    const h = parse(head);
    const t = parse(tail);
    const words = s.includes('::') ? [...h, ...new Array(8 - h.length - t.length).fill(0), ...t] : h;
    const b = new Uint8Array(16);
    words.forEach((w, i) => { b[2 * i] = w >> 8; b[2 * i + 1] = w & 0xff; });
    return { family: 10, bytes: b };
  }
  return null;
}

/** getaddrinfo(name, family, SOCK_DGRAM) through glibc itself: `getent ahosts[v4|v6]` keeps its order and sources. */
function resolveSync(name: string, family: number): { addrs: { family: number; bytes: Uint8Array }[] } | { error: number } {
  const db = family === 2 ? 'ahostsv4' : family === 10 ? 'ahostsv6' : 'ahosts';
  let out: string;
  try {
    out = execFileSync('getent', [db, name], { encoding: 'latin1', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return { error: K.GAI_NONAME };
  }
  const addrs: { family: number; bytes: Uint8Array }[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'DGRAM') continue;
    let a = addrBytes(f[0]!);
    // ahostsv6 maps IPv4 answers (AI_V4MAPPED); getaddrinfo with AF_INET6 and no flags would not
    if (a && family === 10 && a.family === 2) continue;
    if (a) addrs.push(a);
  }
  return addrs.length ? { addrs } : { error: K.GAI_NONAME };
}

async function resolveAsync(name: string, family: number): Promise<{ addrs: { family: number; bytes: Uint8Array }[] } | { error: number }> {
  try {
    const res = await lookup(name, { all: true, family: family === 2 ? 4 : family === 10 ? 6 : 0, verbatim: true });
    const addrs = res.map((r) => addrBytes(r.address)).filter((a): a is { family: number; bytes: Uint8Array } => a !== null);
    return addrs.length ? { addrs } : { error: K.GAI_NODATA };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'EAI_AGAIN' ? K.GAI_AGAIN : code === 'ENODATA' ? K.GAI_NODATA : code === 'EAI_FAIL' ? K.GAI_FAIL : K.GAI_NONAME };
  }
}

function hostEntries(): NameEntry[] {
  const out: NameEntry[] = [];
  for (const [key, v] of hostCache) {
    const i = key.indexOf(':');
    const family = Number(key.slice(0, i));
    const name = key.slice(i + 1);
    if ('error' in v) out.push({ kind: K.NK_HOST_ERR, family, name, value: v.error });
    else for (const a of v.addrs) out.push({ kind: K.NK_HOST_ADDR, family, name, value: a.family, addr: a.bytes });
  }
  return out;
}

function encodeNames(entries: NameEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let total = 8;
  for (const e of entries) {
    const nb = enc.encode(e.name);
    if (nb.length > 0xffff) continue;
    const head = e.kind === K.NK_HOST_ADDR ? 24 : 8;
    const size = (head + nb.length + 3) & ~3;
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    b[0] = e.kind; b[1] = e.family; dv.setUint16(2, nb.length, true); dv.setUint32(4, e.value >>> 0, true);
    if (e.addr) b.set(e.addr, 8);
    b.set(nb, head);
    parts.push(b);
    total += size;
  }
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, K.SK_NAMES_MAGIC, true);
  dv.setUint32(4, parts.length, true);
  let o = 8;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// ---------------------------------------------------------------- parse
interface RawDiag { code: number; start: number; end: number; line: number; col: number; arg: number; stmt: number; sev: number }

function runOnce(text: Uint8Array, opts: SetkeyParseOptions): { raw: RawDiag[]; statements: number } {
  const names = encodeNames([...loadSystemNames(), ...hostEntries()]);
  const pad = (4 - (text.length & 3)) & 3;
  const input = new Uint8Array(text.length + pad + names.length);
  input.set(text, 0);
  input.set(names, text.length + pad);
  const w = wasm();
  w.setInput(input);
  presize(w, text);
  const flags = (opts.rfc === false ? 0 : K.SKF_RFC) | (opts.stdin ? K.SKF_STDIN : 0) | K.SKF_NAMES;
  const statements = w.fns<SetkeyParseExports>().setkeyParse(text.length, flags) >>> 0;
  const n = w.regionLen(REGION_DIAG) / DIAG_SIZE;
  const base = w.regionPtr(REGION_DIAG);
  const dv = w.dv;
  const raw: RawDiag[] = [];
  for (let i = 0; i < n; i++) {
    const p = base + i * DIAG_SIZE;
    raw.push({
      code: dv.getUint32(p + D_CODE, true), start: dv.getUint32(p + D_START, true), end: dv.getUint32(p + D_END, true),
      line: dv.getUint32(p + D_LINE, true), col: dv.getUint32(p + D_COL, true), arg: dv.getUint32(p + D_ARG, true),
      stmt: dv.getUint32(p + D_STMT, true), sev: dv.getUint32(p + D_SEVERITY, true),
    });
  }
  return { raw, statements };
}

function neededHosts(text: Uint8Array, raw: RawDiag[], opts: SetkeyParseOptions): { key: string; name: string; family: number }[] {
  const dec = new TextDecoder('latin1');
  const out = new Map<string, { key: string; name: string; family: number }>();
  for (const d of raw) {
    if (d.code !== K.DIAG_NEED_HOST) continue;
    const name = dec.decode(text.subarray(d.start, d.end));
    const key = `${d.arg}:${name}`;
    if (hostCache.has(key)) continue;
    const given = opts.hosts?.get(name);
    if (given !== undefined) {
      if (typeof given === 'number') hostCache.set(key, { error: given });
      else {
        const addrs = given.map(addrBytes).filter((a): a is { family: number; bytes: Uint8Array } => a !== null)
          .filter((a) => d.arg === 0 || a.family === d.arg);
        hostCache.set(key, addrs.length ? { addrs } : { error: K.GAI_NONAME });
      }
      continue;
    }
    out.set(key, { key, name, family: d.arg });
  }
  return [...out.values()];
}

/**
 * Parses setkey input (`-f FILE`, or `-c` with stdin: true) into REGION_RECORDS. Host names are resolved with
 * glibc's getaddrinfo through `getent` (synchronously); numeric input is parsed in one pass.
 */
export function parseSetkey(text: Uint8Array, opts: SetkeyParseOptions): SetkeyParse {
  let run = runOnce(text, opts);
  for (let pass = 0; pass < 4 && run.raw.some((d) => d.code === K.DIAG_NEED_HOST); pass++) {
    for (const h of neededHosts(text, run.raw, opts)) hostCache.set(h.key, resolveSync(h.name, h.family));
    run = runOnce(text, opts);
  }
  return finish(text, opts, run.raw, run.statements);
}

/** parseSetkey with node:dns lookups (asynchronous) for the host names the input uses. */
export async function parseSetkeyAsync(text: Uint8Array, opts: SetkeyParseOptions): Promise<SetkeyParse> {
  let run = runOnce(text, opts);
  for (let pass = 0; pass < 4 && run.raw.some((d) => d.code === K.DIAG_NEED_HOST); pass++) {
    const need = neededHosts(text, run.raw, opts);
    const res = await Promise.all(need.map((h) => resolveAsync(h.name, h.family)));
    need.forEach((h, i) => hostCache.set(h.key, res[i]!));
    run = runOnce(text, opts);
  }
  return finish(text, opts, run.raw, run.statements);
}

/** Forget resolved host names (tests, or a long-lived agent after a DNS change). */
export function clearSetkeyHostCache(): void { hostCache.clear(); }

function finish(text: Uint8Array, opts: SetkeyParseOptions, raw: RawDiag[], statements: number): SetkeyParse {
  const w = wasm();
  const f = w.fns<SetkeyParseExports>();
  const fatal = f.setkeyParseFatal() === 1;
  const firstErrorStatement = f.setkeyParseFirstError() | 0;
  const records = w.regionLen(REGION_RECORDS) / REC_SIZE;
  const blob = w.regionPtr(REGION_BLOB);
  const dv = w.dv;
  const u32 = (off: number, i: number): number => dv.getUint32(blob + off + 4 * i, true);
  const dec = new TextDecoder('utf-8');
  const str = (s: number, e: number): string => dec.decode(text.subarray(s, e));
  const visible = raw.filter((d) => d.sev !== K.SEV_INTERNAL);
  // physical line numbers in one forward pass
  const order = visible.map((_, i) => i).sort((a, b) => visible[a]!.start - visible[b]!.start);
  const lines = new Array<number>(visible.length);
  let line = 1; let at = 0;
  for (const i of order) {
    const target = visible[i]!.start;
    while (at < target) { const nl = text.indexOf(10, at); if (nl < 0 || nl >= target) { at = target; break; } line++; at = nl + 1; }
    lines[i] = line;
  }
  let seenError = false;
  const diagnostics: SetkeyDiagnostic[] = visible.map((d, i) => {
    const severity: SetkeySeverity = d.sev === K.SEV_ERROR ? 'error' : d.sev === K.SEV_WARNING ? 'warning' : 'note';
    let message = FIXED[d.code] ?? 'error';
    let expected: string | undefined;
    let stderrExtra: string | undefined;
    if (d.code === K.DIAG_SYNTAX) expected = EXPECTED[d.arg];
    else if (d.code === K.DIAG_GAI) message = GAI_TEXT[d.arg] ?? `getaddrinfo error ${d.arg}`;
    else if (d.code === K.DIAG_IPSEC) message = K.IPSEC_ERRSTR[d.arg] ?? 'Unknown error';
    else if (d.code === K.DIAG_KEYLEN) {
      const bits = u32(d.arg, 0); const mn = u32(d.arg, 1); const mx = u32(d.arg, 2);
      stderrExtra = `${bits} ${mn} ${mx}`;
      expected = mn === mx ? `a ${mn}-bit key (${mn / 8} bytes); got ${bits} bits` : `a key of ${mn} to ${mx} bits; got ${bits} bits`;
    } else if (d.code === K.DIAG_POLICY_SYNTAX) {
      const code = u32(d.arg, 0);
      message = K.IPSEC_ERRSTR[code] || 'Invalid argument';
      stderrExtra = `libipsec: syntax error while parsing "${str(u32(d.arg, 1), u32(d.arg, 2))}"`;
      expected = EXPECTED[u32(d.arg, 3)];
    } else if (d.code === K.DIAG_POLICY_ADDR) {
      message = GAI_TEXT[u32(d.arg, 0)] ?? 'Name or service not known';
      stderrExtra = `libipsec: invalid IP address while parsing "${str(u32(d.arg, 1), u32(d.arg, 2))}"`;
      expected = 'numeric addresses (the policy parser does not resolve names)';
    }
    const ls = d.start === 0 ? 0 : text.lastIndexOf(10, d.start - 1) + 1; // lastIndexOf(x, -1) searches from the end
    let le = text.indexOf(10, d.start);
    if (le < 0) le = text.length;
    const excerpt = str(ls, Math.min(le, ls + 4096));
    const silent = d.code === K.DIAG_NO_PAIR || d.sev === K.SEV_NOTE || d.code === K.DIAG_NUL || d.code === K.DIAG_STDIN_LONG;
    const setkeyText = silent ? '' : `line ${d.line}: ${message} at [${str(d.start, d.end)}]`;
    const followOn = !opts.stdin && seenError;
    if (d.sev === K.SEV_ERROR) seenError = true;
    const diag: SetkeyDiagnostic = {
      severity, code: d.code, file: opts.file, line: lines[i]!, column: d.col, start: d.start, end: d.end,
      setkeyLine: d.line, statement: d.stmt, message, excerpt, setkeyText, followOn,
    };
    if (expected !== undefined) diag.expected = expected;
    if (stderrExtra !== undefined) diag.stderrExtra = stderrExtra;
    return diag;
  });
  const result: SetkeyParse = { statements, records, firstErrorStatement, fatal, diagnostics };
  if (!opts.stdin && !fatal && firstErrorStatement >= 0) {
    const first = diagnostics.find((d) => d.severity === 'error');
    if (first) result.parseFailedText = `parse failed, line ${first.setkeyLine}.`;
  }
  void REGION_INPUT;
  return result;
}

/** `FILE:LINE:COL: error: MESSAGE (expected …)`, the source line and a caret line under the offending text. */
export function formatDiagnostic(d: SetkeyDiagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${d.expected ? ` (expected ${d.expected})` : ''}`;
  // Show at most ~100 characters around the column, with control and non-printable bytes escaped, so a
  // 10 MB line or binary garbage gives a readable two-line excerpt.
  const col = Math.max(0, d.column - 1);
  const from = Math.max(0, col - 60);
  const to = Math.min(d.excerpt.length, col + 60);
  const clean = (t: string) => t.replace(/\t/g, ' ').replace(/[\x00-\x1f\x7f-\x9f\ufffd]/g, '?');
  const src = (from > 0 ? '…' : '') + clean(d.excerpt.slice(from, to)) + (to < d.excerpt.length ? '…' : '');
  const width = Math.max(1, Math.min(d.end - d.start, to - col));
  const caret = ' '.repeat(col - from + (from > 0 ? 1 : 0)) + '^' + (width > 1 ? '~'.repeat(width - 1) : '');
  return `${head}\n${src}\n${caret}`;
}

/**
 * Sizes the record and blob regions for the statements the text holds before parsing, so that a large
 * file does not grow them by doubling (which leaves the outgrown blocks behind: peak memory, not speed).
 */
function presize(w: ReturnType<typeof wasm>, text: Uint8Array): void {
  if (text.length < 1 << 16) return;
  let statements = 0;
  for (let i = text.indexOf(59); i >= 0; i = text.indexOf(59, i + 1)) statements++;
  const f = w.fns<{ reserveRegion(r: number, n: number): void; resetRegion(r: number): void }>();
  // setkeyParse empties both regions anyway; reserving on top of a previous parse's records would ask for both
  f.resetRegion(REGION_RECORDS);
  f.resetRegion(REGION_BLOB);
  f.reserveRegion(REGION_RECORDS, (statements + 1) * REC_SIZE);
  f.reserveRegion(REGION_BLOB, (statements + 1) * TMPL_SIZE);
}
