// scripts/fuzz/mutate.mjs — byte-level mutation of real inputs as fast-check arbitraries (layer: tooling/fuzz).
// Owns: mutation programs (bit flips, interesting values, truncation, splicing between corpus entries, range
// deletion/duplication, random insertion) and format-aware ones: netlink length-field corruption (nlmsg_len,
// nla_len of the k-th attribute; linux/netlink.h framing) and token/line edits for setkey text. A program is plain
// data, so fast-check can shrink it and replay it from a seed and a path.
import fc from 'fast-check';

const INTERESTING8 = [0, 1, 2, 3, 4, 7, 8, 0x10, 0x20, 0x3b, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING32 = [0, 1, 2, 3, 4, 8, 15, 16, 17, 20, 64, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const pos = fc.nat();
const commonOp = fc.oneof(
  fc.record({ op: fc.constant('flip'), at: pos, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set8'), at: pos, v: fc.constantFrom(...INTERESTING8) }),
  fc.record({ op: fc.constant('set16'), at: pos, v: fc.constantFrom(...INTERESTING32), be: fc.boolean() }),
  fc.record({ op: fc.constant('set32'), at: pos, v: fc.constantFrom(...INTERESTING32), be: fc.boolean() }),
  fc.record({ op: fc.constant('truncate'), at: pos }),
  fc.record({ op: fc.constant('delete'), at: pos, n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('dup'), at: pos, n: fc.integer({ min: 1, max: 256 }), to: pos }),
  fc.record({ op: fc.constant('insert'), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('splice'), other: fc.nat(), from: pos, n: fc.integer({ min: 1, max: 512 }), at: pos, overwrite: fc.boolean() }),
);
const netlinkOp = fc.oneof(
  fc.record({ op: fc.constant('nlmsglen'), k: fc.nat(5), v: fc.oneof(fc.constantFrom(...INTERESTING32), fc.integer({ min: -16, max: 16 })), rel: fc.boolean() }),
  fc.record({ op: fc.constant('nlalen'), k: fc.nat(12), v: fc.oneof(fc.constantFrom(...INTERESTING32), fc.integer({ min: -8, max: 8 })), rel: fc.boolean() }),
  fc.record({ op: fc.constant('nlatype'), k: fc.nat(12), v: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ op: fc.constant('nladup'), k: fc.nat(12) }),
  fc.record({ op: fc.constant('nlmsgtype'), k: fc.nat(5), v: fc.integer({ min: 0, max: 0x2a }) }),
);
const textOp = (tokens) => fc.oneof(
  fc.record({ op: fc.constant('token'), at: pos, tok: fc.constantFrom(...tokens) }),
  fc.record({ op: fc.constant('dupline'), k: fc.nat() }),
  fc.record({ op: fc.constant('dropline'), k: fc.nat() }),
  fc.record({ op: fc.constant('swaplines'), a: fc.nat(), b: fc.nat() }),
);

/**
 * An arbitrary of { base, ops } over a corpus of Uint8Arrays. kind 'netlink' adds length-field corruption,
 * kind 'text' adds token and line edits (tokens: a vocabulary).
 */
export function mutationProgram(kind, tokens = []) {
  const op = kind === 'netlink' ? fc.oneof({ weight: 3, arbitrary: commonOp }, { weight: 2, arbitrary: netlinkOp })
    : fc.oneof({ weight: 3, arbitrary: commonOp }, { weight: 2, arbitrary: textOp(tokens) });
  return fc.record({ base: fc.nat(), ops: fc.array(op, { minLength: 1, maxLength: 8 }) });
}

/** Offsets of the netlink messages of b (as far as their lengths make sense). */
function messages(b) {
  const out = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  while (off + 16 <= b.length && out.length < 64) {
    const len = dv.getUint32(off, true);
    out.push(off);
    if (len < 16 || off + len > b.length) break;
    off += (len + 3) & ~3;
  }
  return out;
}

/** Offsets of attribute headers in b after the fixed part of the message at m (fixedSize(type, flags) bytes). */
function attributes(b, m, fixedSize) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = dv.getUint16(m + 4, true);
  const flags = dv.getUint16(m + 6, true);
  const fixed = fixedSize(type, flags);
  const out = [];
  if (fixed < 0) return out;
  const end = Math.min(b.length, m + dv.getUint32(m, true));
  let a = m + 16 + ((fixed + 3) & ~3);
  while (a + 4 <= end && out.length < 64) {
    out.push(a);
    const len = dv.getUint16(a, true);
    if (len < 4) break;
    a += (len + 3) & ~3;
  }
  return out;
}

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

/** Apply a mutation program to corpus[base]; returns new bytes (the corpus is never modified). */
export function applyProgram(prog, corpus, fixedSize) {
  let b = Uint8Array.from(corpus[prog.base % corpus.length]);
  for (const o of prog.ops) {
    const n = b.length;
    const at = n === 0 ? 0 : o.at % n;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (o.op) {
      case 'flip': if (n) b[at] ^= 1 << o.bit; break;
      case 'set8': if (n) b[at] = o.v; break;
      case 'set16': if (at + 2 <= n) dv.setUint16(at, o.v & 0xffff, !o.be); break;
      case 'set32': if (at + 4 <= n) dv.setUint32(at, o.v >>> 0, !o.be); break;
      case 'truncate': b = b.slice(0, at); break;
      case 'delete': b = concat(b.subarray(0, at), b.subarray(Math.min(n, at + o.n))); break;
      case 'dup': { const piece = b.slice(at, at + o.n); const to = n === 0 ? 0 : o.to % (n + 1); b = concat(b.subarray(0, to), piece, b.subarray(to)); break; }
      case 'insert': { const ins = n === 0 ? 0 : o.at % (n + 1); b = concat(b.subarray(0, ins), o.bytes, b.subarray(ins)); break; }
      case 'splice': {
        const src = corpus[o.other % corpus.length];
        const from = src.length === 0 ? 0 : o.from % src.length;
        const piece = src.subarray(from, from + o.n);
        const ins = n === 0 ? 0 : o.at % (n + 1);
        b = concat(b.subarray(0, ins), piece, b.subarray(o.overwrite ? Math.min(n, ins + piece.length) : ins));
        break;
      }
      case 'nlmsglen': case 'nlmsgtype': {
        const ms = messages(b);
        if (!ms.length) break;
        const m = ms[o.k % ms.length];
        if (o.op === 'nlmsgtype') dv.setUint16(m + 4, o.v, true);
        else dv.setUint32(m, (o.rel ? dv.getUint32(m, true) + o.v : o.v) >>> 0, true);
        break;
      }
      case 'nlalen': case 'nlatype': case 'nladup': {
        const ms = messages(b);
        const as = ms.flatMap((m) => attributes(b, m, fixedSize).map((a) => [m, a]));
        if (!as.length) break;
        const [m, a] = as[o.k % as.length];
        if (o.op === 'nlalen') dv.setUint16(a, (o.rel ? dv.getUint16(a, true) + o.v : o.v) & 0xffff, true);
        else if (o.op === 'nlatype') dv.setUint16(a + 2, o.v, true);
        else {
          // duplicate the attribute and fix nlmsg_len so the copy is inside the message
          const len = (dv.getUint16(a, true) + 3) & ~3;
          if (len < 4 || a + len > n) break;
          b = concat(b.subarray(0, a + len), b.slice(a, a + len), b.subarray(a + len));
          const ndv = new DataView(b.buffer, b.byteOffset, b.byteLength);
          ndv.setUint32(m, ndv.getUint32(m, true) + len, true);
        }
        break;
      }
      case 'token': { const ins = n === 0 ? 0 : o.at % (n + 1); b = concat(b.subarray(0, ins), Buffer.from(` ${o.tok} `, 'latin1'), b.subarray(ins)); break; }
      case 'dupline': case 'dropline': case 'swaplines': {
        const lines = Buffer.from(b).toString('latin1').split('\n');
        if (o.op === 'dupline') { const k = o.k % lines.length; lines.splice(k, 0, lines[k]); }
        else if (o.op === 'dropline') lines.splice(o.k % lines.length, 1);
        else { const x = o.a % lines.length, y = o.b % lines.length; [lines[x], lines[y]] = [lines[y], lines[x]]; }
        b = Uint8Array.from(Buffer.from(lines.join('\n'), 'latin1'));
        break;
      }
    }
  }
  return b;
}
