// scripts/fuzz/setkey-gen.mjs — grammar-aware fast-check generators of setkey(8) input (layer: tooling/fuzz).
// Owns: `validSetkey` (statements ipsec-tools 0.8.2 setkey accepts: numeric addresses of one family, keys of the
// lengths xfrm_algo.c allows, policies of 1..n rules), `nearValidSetkey` (the same statements with one or two
// tokens replaced, dropped, duplicated or made hostile) and `hostileSetkey` (random tokens, huge numbers, long
// lines, NULs, unterminated quotes, deep policies). Grammar: /work/shared/seeds/000_*.txt (setkey.8), token.l.
import fc from 'fast-check';

// ---- algorithm names with the key bits the kernel accepts (asm/shared/algorithms.ts KALG_MIN/MAXBITS) ----
const ENC = [
  ['des-cbc', [64]], ['3des-cbc', [192]], ['aes-cbc', [128, 192, 256]], ['rijndael-cbc', [128, 192, 256]],
  ['blowfish-cbc', [40, 128, 448]], ['cast128-cbc', [40, 128]], ['twofish-cbc', [128, 256]],
  ['camellia-cbc', [128, 192, 256]], ['aes-ctr', [160, 224, 288]],
];
const AUTH = [
  ['hmac-md5', [128]], ['hmac-sha1', [160]], ['hmac-sha256', [256]], ['hmac-sha2-256', [256]], ['hmac-sha384', [384]],
  ['hmac-sha2-384', [384]], ['hmac-sha512', [512]], ['hmac-sha2-512', [512]], ['hmac-ripemd160', [160]], ['aes-xcbc-mac', [128]],
];
const COMP = ['deflate', 'lzs'];
const ALL_ALG_NAMES = [...ENC.map((e) => e[0]), ...AUTH.map((a) => a[0]), ...COMP, 'null', 'simple', 'des-deriv', 'des-32iv',
  'keyed-md5', 'keyed-sha1', 'oui', 'rc5-cbc', 'tcp-md5'];

export const KEYWORDS = [
  'add', 'update', 'get', 'delete', 'deleteall', 'flush', 'dump', 'spdadd', 'spdupdate', 'spddelete', 'spdflush', 'spddump',
  'exit', 'esp', 'ah', 'ipcomp', 'esp-old', 'ah-old', 'esp-udp', 'tcp', 'udp', 'icmp', 'icmp6', 'gre', 'any', '-P', 'in', 'out', 'fwd',
  'ipsec', 'none', 'discard', 'entrust', 'bypass', 'prio', 'priority', 'low', 'def', 'high', 'require', 'use', 'unique', 'default',
  'transport', 'tunnel', '-m', '-u', '-r', '-f', '-lh', '-ls', '-bh', '-bs', '-ctx', '-E', '-A', '-C', '-R', '-4', '-6', '-n',
  'random-pad', 'seq-pad', 'zero-pad', 'nocyclic-seq', 'tagged', ';', '/', '[', ']', '-', '+', ',', '"', '#', '@', '\\', '\n',
  ...ALL_ALG_NAMES,
];

const hexOfBits = (bits) => fc.uint8Array({ minLength: bits / 8, maxLength: bits / 8 })
  .map((b) => '0x' + Buffer.from(b).toString('hex'));
const quotedOfBits = (bits) => fc.stringMatching(new RegExp(`^[A-Za-z0-9 !.:_-]{${bits / 8}}$`)).map((s) => `"${s}"`);
const keyOfBits = (bits) => fc.oneof({ weight: 4, arbitrary: hexOfBits(bits) }, { weight: 1, arbitrary: quotedOfBits(bits) });

const octet = fc.integer({ min: 0, max: 255 });
const ip4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const hex16 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ip6 = fc.oneof(
  fc.array(hex16, { minLength: 8, maxLength: 8 }).map((w) => w.join(':')),
  fc.tuple(fc.array(hex16, { maxLength: 3 }), fc.array(hex16, { maxLength: 3 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  fc.constantFrom('::', '::1', 'fe80::1', '2001:db8::1', '::ffff:10.0.0.1', 'fec0::10'),
);
const port = fc.oneof(fc.integer({ min: 0, max: 65535 }).map(String), fc.constantFrom('any', 'isakmp', 'domain', 'ntp'));
const spi = fc.oneof(
  fc.integer({ min: 256, max: 0x7fffffff }).map(String),
  fc.integer({ min: 256, max: 0xffffffff }).map((n) => '0x' + n.toString(16)),
);

/** A (family, src, dst) pair: both IPv4 or both IPv6, optionally with prefixes and ports. */
function addrPair(withPrefix, withPort) {
  const mk = (addr, plen) => fc.tuple(addr, withPrefix ? fc.option(fc.integer({ min: 0, max: plen }), { nil: undefined }) : fc.constant(undefined),
    withPort ? fc.option(port, { nil: undefined }) : fc.constant(undefined))
    .map(([a, p, pt]) => a + (p === undefined ? '' : `/${p}`) + (pt === undefined ? '' : `[${pt}]`));
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(mk(ip4, 32), mk(ip4, 32)).map(([s, d]) => ({ fam: 4, s, d })) },
    { weight: 1, arbitrary: fc.tuple(mk(ip6, 128), mk(ip6, 128)).map(([s, d]) => ({ fam: 6, s, d })) },
  );
}

const saOptions = fc.array(fc.oneof(
  fc.constantFrom('transport', 'tunnel', 'any').map((m) => `-m ${m}`),
  fc.integer({ min: 0, max: 0x3fff }).map((n) => `-u ${n}`),
  fc.integer({ min: 0, max: 255 }).map((n) => `-r ${n}`),
  fc.constantFrom('zero-pad', 'random-pad', 'seq-pad', 'nocyclic-seq').map((f) => `-f ${f}`),
  fc.tuple(fc.constantFrom('-lh', '-ls', '-bh', '-bs'), fc.integer({ min: 0, max: 1e9 })).map(([o, n]) => `${o} ${n}`),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.stringMatching(/^[a-z_:0-9]{1,40}$/))
    .map(([d, a, s]) => `-ctx ${d} ${a} "${s}"`),
), { maxLength: 3 }).map((o) => o.join(' '));

const espAlgs = fc.oneof(
  fc.tuple(fc.constantFrom(...ENC), fc.option(fc.constantFrom(...AUTH), { nil: undefined })).chain(([[e, eb], a]) =>
    fc.tuple(fc.constantFrom(...eb).chain(keyOfBits), a ? fc.constantFrom(...a[1]).chain(keyOfBits) : fc.constant(''))
      .map(([ek, ak]) => `-E ${e} ${ek}` + (a ? ` -A ${a[0]} ${ak}` : ''))),
  fc.constantFrom(...AUTH).chain(([a, bits]) => fc.constantFrom(...bits).chain(keyOfBits).map((k) => `-E null -A ${a} ${k}`)),
  fc.constant('-E null -A null'),
);
const ahAlgs = fc.oneof(fc.constantFrom(...AUTH).chain(([a, bits]) => fc.constantFrom(...bits).chain(keyOfBits).map((k) => `-A ${a} ${k}`)),
  fc.constant('-A null'));

// `update` is not in setkey 0.8.2's grammar (test/fixtures/setkey/err-update-not-in-0.8.2.conf)
const saAdd = fc.tuple(fc.constant('add'), addrPair(false, false), spi, saOptions,
  fc.constantFrom('esp', 'ah', 'ipcomp')).chain(([cmd, p, s, opts, proto]) => {
  const algs = proto === 'esp' ? espAlgs : proto === 'ah' ? ahAlgs : fc.constantFrom(...COMP).map((c) => `-C ${c}`);
  return algs.map((a) => `${cmd} ${p.s} ${p.d} ${proto} ${s} ${opts} ${a};`);
});
const saOther = fc.oneof(
  fc.tuple(fc.constantFrom('get', 'delete'), addrPair(false, false), fc.constantFrom('esp', 'ah', 'ipcomp'), spi)
    .map(([c, p, pr, s]) => `${c} ${p.s} ${p.d} ${pr} ${s};`),
  fc.tuple(addrPair(false, false), fc.constantFrom('esp', 'ah', 'ipcomp')).map(([p, pr]) => `deleteall ${p.s} ${p.d} ${pr};`),
  fc.constantFrom('flush;', 'flush esp;', 'flush ah;', 'flush ipcomp;', 'dump;', 'dump esp;', 'spdflush;', 'spddump;'),
);

const level = fc.oneof(fc.constantFrom('default', 'use', 'require', 'unique'), fc.integer({ min: 1, max: 0x3fff }).map((n) => `unique:${n}`));
/** One libipsec policy request: proto/mode/src-dst/level (ipsec_strerror grammar, policy_token.l). */
function rule(fam) {
  const a = fam === 4 ? ip4 : ip6;
  return fc.tuple(fc.constantFrom('esp', 'ah', 'ipcomp'), fc.constantFrom('transport', 'tunnel'), a, a, level).map(([p, m, s, d, l]) =>
    m === 'tunnel' ? `${p}/tunnel/${s}-${d}/${l}` : `${p}/transport//${l}`);
}
const prio = fc.oneof(fc.constant(''), fc.integer({ min: -0x7fffffff, max: 0x7fffffff }).map((n) => `prio ${n} `),
  fc.tuple(fc.constantFrom('low', 'def', 'high'), fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 1000 }))
    .map(([b, s, n]) => `priority ${b} ${s} ${n} `));
const spd = fc.tuple(fc.constantFrom('spdadd', 'spdupdate'), addrPair(true, true), fc.constantFrom('any', 'tcp', 'udp', '6', '17', 'gre'),
  fc.constantFrom('in', 'out', 'fwd'), prio).chain(([cmd, p, up, dir, pr]) =>
  fc.oneof(fc.constantFrom('none', 'discard', 'entrust', 'bypass'),
    fc.array(rule(p.fam), { minLength: 1, maxLength: 4 }).map((r) => `ipsec ${r.join(' ')}`))
    .map((act) => `${cmd} ${p.s} ${p.d} ${/\[/.test(p.s + p.d) && up !== 'tcp' && up !== 'udp' ? 'any' : up} -P ${dir} ${pr}${act};`));
const spdDel = fc.tuple(addrPair(true, false), fc.constantFrom('in', 'out', 'fwd')).map(([p, d]) => `spddelete ${p.s} ${p.d} any -P ${d};`);

/** A statement setkey accepts. */
export const validStatement = fc.oneof({ weight: 4, arbitrary: saAdd }, { weight: 1, arbitrary: saOther },
  { weight: 4, arbitrary: spd }, { weight: 1, arbitrary: spdDel });

const sep = fc.constantFrom('\n', ' ', '\n\n', '\t', ' # comment\n', '\n');
export const validSetkey = fc.tuple(fc.array(validStatement, { minLength: 1, maxLength: 8 }), fc.array(sep, { minLength: 8, maxLength: 8 }))
  .map(([st, s]) => st.map((x, i) => x + s[i]).join(''));

// ---- hostile pieces ----
const hugeNumber = fc.oneof(
  fc.stringMatching(/^[0-9]{10,300}$/),
  fc.stringMatching(/^0x[0-9a-fA-F]{9,300}$/),
  fc.constantFrom('4294967295', '4294967296', '18446744073709551615', '18446744073709551616', '-1', '-2147483649', '0x', '0x0', '00', '0b1', '1e9'),
);
const oddToken = fc.oneof(
  fc.constantFrom(...KEYWORDS),
  hugeNumber,
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('"', '"unterminated', '\0', '"a\0b"', '\r\n', '\\', '@', '/', '[', ']', '-', '[]', '[65536]', '/129', '/300', '/-1',
    '999.1.1.1', '1.2.3', '1.2.3.4.5', ':::', '1::2::3', 'gw', 'nohost.invalid', '0x' + 'f'.repeat(600), 'esp/tunnel/', 'esp//', 'unique:',
    'unique:0', 'unique:99999999999', '/tunnel/1.1.1.1-', '-P', '#', 'exit;', ';;'),
);

/** Make one statement near-valid: replace, drop, duplicate or insert tokens. */
const nearValidStatement = fc.tuple(validStatement, fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'drop', 'dup', 'insert', 'cut'), oddToken),
  { minLength: 1, maxLength: 3 })).map(([st, edits]) => {
  const t = st.split(' ');
  for (const [at, op, tok] of edits) {
    const i = at % (t.length + 1);
    if (op === 'replace') t[i % t.length] = tok;
    else if (op === 'drop') t.splice(i % t.length, 1);
    else if (op === 'dup') t.splice(i, 0, t[i % t.length]);
    else if (op === 'insert') t.splice(i, 0, tok);
    else return t.join(' ').slice(0, i * 3);
  }
  return t.join(' ');
});
export const nearValidSetkey = fc.tuple(fc.array(fc.oneof(validStatement, nearValidStatement), { minLength: 1, maxLength: 6 }),
  fc.array(sep, { minLength: 6, maxLength: 6 })).map(([st, s]) => st.map((x, i) => x + s[i]).join(''));

const deepPolicy = fc.tuple(fc.integer({ min: 16, max: 400 }), rule(4), fc.boolean()).map(([n, r, term]) =>
  `spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec ${Array(n).fill(r).join(term ? ' ' : '\n\t')}${term ? ';' : ''}\n`);
const longLine = fc.tuple(fc.integer({ min: 1000, max: 200000 }), fc.constantFrom('a', '0', 'f', ' ', '"', '#', '\t', '-', '/', '\0'), fc.boolean())
  .map(([n, c, inKey]) => inKey ? `add 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc 0x${c.repeat(n)};\n` : c.repeat(n));
const tokenSoup = fc.array(oddToken, { maxLength: 60 }).chain((t) =>
  fc.array(fc.constantFrom(' ', '', '\n', '\t', ';'), { minLength: t.length, maxLength: t.length }).map((s) => t.map((x, i) => x + s[i]).join('')));
const manyStatements = fc.tuple(validStatement, fc.integer({ min: 50, max: 3000 })).map(([s, n]) => (s + '\n').repeat(n));

export const hostileSetkey = fc.oneof(
  { weight: 5, arbitrary: tokenSoup },
  { weight: 2, arbitrary: deepPolicy },
  { weight: 1, arbitrary: longLine },
  { weight: 1, arbitrary: manyStatements },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
  { weight: 2, arbitrary: fc.tuple(nearValidSetkey, hugeNumber, fc.nat()).map(([t, h, i]) => t.slice(0, i % (t.length + 1)) + h + t.slice(i % (t.length + 1))) },
  { weight: 1, arbitrary: fc.tuple(validSetkey, fc.nat()).map(([t, i]) => t.slice(0, i % (t.length + 1))) }, // truncated mid-token
);

/** Parse options: -f (rfc or -k) or -c. */
export const setkeyOptions = fc.record({ rfc: fc.boolean(), stdin: fc.boolean() });
