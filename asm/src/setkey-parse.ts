// asm/src/setkey-parse.ts — setkey(8) configuration text → records + diagnostics (layer: asm).
// Owns setkeyParse: a byte-level re-implementation of ipsec-tools 0.8.2 src/setkey/token.l (flex, longest match,
// inclusive start conditions, yymore after -P), src/setkey/parse.y (bison; actions run where bison reduces, so
// the `at [...]` text is the same yytext) and libipsec policy_token.l/policy_parse.y, producing one record per
// kernel operation as af_key (net/key/af_key.c) would make it of setkey's PF_KEY message. No managed allocations.
import {
  REGION_INPUT, REGION_RECORDS, REGION_BLOB, REGION_DIAG, REC_SIZE, DIAG_SIZE,
  R_KIND, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_LINE, R_COL, R_SRC_START, R_SRC_END, R_STMT, R_SATYPE, R_SADB_MODE,
  R_SADB_FLAGS, R_SADB_SPORT, R_SADB_DPORT, R_SADB_AALG, R_SADB_EALG, R_SEL, SEL_DADDR, SEL_SADDR, SEL_DPORT, SEL_DPORT_MASK, SEL_SPORT, SEL_SPORT_MASK, SEL_FAMILY,
  SEL_PREFIXLEN_D, SEL_PREFIXLEN_S, SEL_PROTO, R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REPLAY, R_REQID,
  R_PRIORITY, R_LFT, LFT_SOFT_BYTE, LFT_HARD_BYTE, LFT_SOFT_PACKET, LFT_HARD_PACKET, LFT_SOFT_ADD, LFT_HARD_ADD,
  R_ALG_AUTH, R_ALG_ENC, R_ALG_COMP, ALG_NAME_OFF, ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS,
  R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT, R_ENCAP_OA, R_CTX_DOI, R_CTX_ALG, R_CTX_OFF, R_CTX_LEN,
  R_TMPL_OFF, R_TMPL_COUNT, R_AUX, R_AUX2,
  RF_HAS_ENCAP, RF_HAS_CTX, RF_RFC_FWD, RF_HAS_SPI, RF_HAS_SEL, RF_HAS_PROTO, RF_HAS_LFT, RF_HAS_PRIORITY,
  RF_SETKEY, RF_HAS_DIR,
  T_DADDR, T_PROTO, T_FAMILY, T_SADDR, T_REQID, T_MODE, T_OPTIONAL, T_AALGOS, T_EALGOS, T_CALGOS, T_LEVEL, T_XFLAGS,
  T_SPORT, T_DPORT, TMPL_SIZE, TF_AUTO_REQID,
  D_CODE, D_START, D_END, D_LINE, D_COL, D_ARG, D_STMT, D_SEVERITY,
  OP_SA_ADD, OP_SA_DELETE, OP_SA_GET, OP_SA_DELETEALL, OP_SA_FLUSH, OP_SA_DUMP, OP_SP_ADD, OP_SP_UPDATE,
  OP_SP_DELETE, OP_SP_FLUSH, OP_SP_DUMP, OP_EXIT, AF_INET, AF_INET6, IPSEC_PROTO_ANY,
  XFRM_POLICY_ALLOW, XFRM_POLICY_BLOCK,
} from "../shared/layout";
import {
  SEV_ERROR, SEV_WARNING, SEV_NOTE, SEV_INTERNAL,
  DIAG_SYNTAX, DIAG_LEX_FATAL, DIAG_MULTI_ADDR, DIAG_ALG_MISMATCH, DIAG_REPLAY_OLD, DIAG_BAD_UPPER,
  DIAG_BAD_UPPER_SPEC, DIAG_W_MODE, DIAG_W_OLD_ALG, DIAG_GAI, DIAG_IPSEC, DIAG_KEYLEN, DIAG_POLICY_SYNTAX,
  DIAG_POLICY_ADDR, DIAG_NO_PAIR, DIAG_NOTE_UNINIT, DIAG_NUL, DIAG_STDIN_LONG, DIAG_NOTE_UNTERMINATED,
  DIAG_TOO_MANY_ADDRS, DIAG_NEED_HOST,
  EXP_COMMAND, EXP_ADDRESS, EXP_SPI, EXP_EXT_OR_ALG, EXP_AUTH_ALG, EXP_ENC_ALG, EXP_COMP_ALG, EXP_KEY, EXP_SEMI,
  EXP_AUTH_OR_SEMI, EXP_DECIMAL, EXP_MODE, EXP_PADFLAG, EXP_PORT, EXP_RBRACKET, EXP_UPPER, EXP_POLICY, EXP_QUOTED,
  EXP_PROTO_ONLY, EXP_SPD_ADDR, EXP_P_DIR, EXP_P_ACTION, EXP_P_PRIO, EXP_P_RULE, EXP_P_ADDR, EXP_P_HYPHEN,
  EXP_P_LEVEL, EXP_P_END, EXP_P_PORT_PAIR, EXP_PROTO_OR_SPI,
  GAI_NONAME, GAI_SERVICE, GAI_ADDRFAMILY,
  SKX_LFT_HARD, SKX_LFT_SOFT, SKX_KEY_AUTH, SKX_KEY_ENC, SKX_ENOSYS, SKX_TAGGED, SKX_EINVAL, SKX_NATT_OA,
  SK_NAMES_MAGIC, NK_HOST_ADDR, NK_HOST_ERR, NK_PROTO, NK_SERVICE, SKF_RFC, SKF_STDIN, SKF_NAMES,
} from "../shared/setkey-diag";
import { KALG_KIND, KALG_ID, KALG_NAME, KALG_MINBITS, KALG_MAXBITS } from "../shared/algorithms";
import { append, reserve, commit, at, regionPtr, regionLen, resetRegion } from "./arena";

// ---------------------------------------------------------------- tokens (parse.y %token)
const T_EOF = 0;
const T_EOT = 1;
const T_SLASH = 2;
const T_BLCL = 3;
const T_ELCL = 4;
const T_ADD = 5;
const T_GET = 6;
const T_DELETE = 7;
const T_DELETEALL = 8;
const T_FLUSH = 9;
const T_DUMP = 10;
const T_EXIT = 11;
const T_PR_ESP = 12;
const T_PR_AH = 13;
const T_PR_IPCOMP = 14;
const T_PR_ESPUDP = 15;
const T_PR_TCP = 16;
const T_F_AUTH = 17;
const T_F_ENC = 18;
const T_F_REPLAY = 19;
const T_F_COMP = 20;
const T_F_RAWCPI = 21;
const T_F_MODE = 22;
const T_MODEKW = 23;
const T_F_REQID = 24;
const T_F_EXT = 25;
const T_EXTENSION = 26;
const T_NOCYCLICSEQ = 27;
const T_ALG_AUTH = 28;
const T_ALG_AUTH_NOKEY = 29;
const T_ALG_ENC = 30;
const T_ALG_ENC_NOKEY = 31;
const T_ALG_ENC_DESDERIV = 32;
const T_ALG_ENC_DES32IV = 33;
const T_ALG_ENC_OLD = 34;
const T_ALG_COMP = 35;
const T_F_LT_HARD = 36;
const T_F_LT_SOFT = 37;
const T_F_LB_HARD = 38;
const T_F_LB_SOFT = 39;
const T_DECSTRING = 40;
const T_QUOTED = 41;
const T_HEXSTRING = 42;
const T_STRING = 43;
const T_ANY = 44;
const T_SPDADD = 45;
const T_SPDUPDATE = 46;
const T_SPDDELETE = 47;
const T_SPDDUMP = 48;
const T_SPDFLUSH = 49;
const T_F_POLICY = 50;
const T_PL = 51;
const T_F_AIFLAGS = 52;
const T_TAGGED = 53;
const T_SECCTX = 54;
const T_FATAL = 55;

// start conditions (token.l %s S_PL S_AUTHALG S_ENCALG)
const SC_INITIAL = 0;
const SC_PL = 1;
const SC_AUTHALG = 2;
const SC_ENCALG = 3;

// PF_KEY constants (linux/pfkeyv2.h, ipsec.h)
const SATYPE_AH = 2;
const SATYPE_ESP = 3;
const SATYPE_IPCOMP = 9;
const EXT_OLD = 0x1;
const EXT_IV4B = 0x10;
const EXT_DERIV = 0x20;
const EXT_CYCSEQ = 0x40;
const EXT_RAWCPI = 0x80;
const XFRM_INF: u64 = 0xffffffffffffffff;

// ---------------------------------------------------------------- parse-wide state
let IN0: usize = 0;      // REGION_INPUT base (original text)
let INLEN: u32 = 0;      // original text length
let B: usize = 0;        // base of the text being lexed (original, or the -c transform)
let N: u32 = 0;          // end of the current lexing window
let MAP: usize = 0;      // -c: u32 per transformed byte → original offset (0 = identity)
let NAMES: usize = 0;    // name block entries start (0 = none)
let NAMES_END: usize = 0;
let HASH: usize = 0;     // u32 entry offsets (from NAMES), open addressing, 0 = empty, else off+1
let HASH_MASK: u32 = 0;
let rfcMode = true;
let stdinMode = false;
let fatal = false;
let stopped = false;
let stmtNo: u32 = 0;
let stmtStart: u32 = 0;  // transformed offset of the statement's first token
let firstErrStmt: i32 = -1;
let lineCurOff: u32 = 0; // monotonic cursor for physical line numbers of original offsets
let lineCurLine: u32 = 1;
let ipsecErr: u32 = 0;   // libipsec __ipsec_errcode: it outlives a statement (seen after -c failures)
let algNameOff = new StaticArray<u32>(32);

// lexer
let pos: u32 = 0;
let sc: i32 = SC_INITIAL;
let moreFlag = false;
let moreStart: u32 = 0;
let lineno: u32 = 1;
let hasLook = false;
let tk: i32 = T_EOF;
let tS: u32 = 0;         // raw match
let tE: u32 = 0;
let yS: u32 = 0;         // yytext
let yE: u32 = 0;
let tNum: u64 = 0;       // DECSTRING value (strtoul, saturating), or the token's yylval.num
let lastWasEot = false;

// parse.y p_* variables (parse_init() resets them only after a successful statement, as setkey does)
let p_spi: u32 = 0;
let p_ext: u32 = EXT_CYCSEQ;
let p_alg_enc: u32 = 0;
let p_alg_auth: u32 = 0;
let p_replay: u32 = 0;
let p_mode: u32 = 0;
let p_reqid: u32 = 0;
let p_key_enc = false;
let p_key_enc_off: u32 = 0;
let p_key_enc_len: u32 = 0;
let p_key_auth = false;
let p_key_auth_off: u32 = 0;
let p_key_auth_len: u32 = 0;
let p_lt_hard: u64 = 0;
let p_lt_soft: u64 = 0;
let p_lb_hard: u64 = 0;
let p_lb_soft: u64 = 0;
let ctx_doi: u32 = 0;
let ctx_alg: u32 = 0;
let ctx_len: u32 = 0;    // strlen + 1, as sec_ctx.len (u16)
let ctx_off: u32 = 0;    // blob offset of the label + NUL
let p_natt_type: u32 = 0;
let p_natt_oa = false;
let p_aiflags_numeric = false;
let p_aifamily: u32 = 0;

// address lists (struct addrinfo chains): [family u8, pad, port u16, addr 16] = 20 bytes, up to MAXADDR each
const MAXADDR: u32 = 64;
const AL_SIZE: u32 = 20;
const LIST_SRC: usize = memory.data(<i32>(MAXADDR * AL_SIZE * 4));
const LIST_DST: usize = LIST_SRC + <usize>(MAXADDR * AL_SIZE);
const LIST_OA: usize = LIST_DST + <usize>(MAXADDR * AL_SIZE);
const LIST_TMP: usize = LIST_OA + <usize>(MAXADDR * AL_SIZE);
let nSrc: u32 = 0;
let nDst: u32 = 0;
let nOa: u32 = 0;
const SCR: usize = memory.data(64);  // scratch for one parsed numeric address

// ---------------------------------------------------------------- small helpers
// @ts-ignore: decorator
@inline function ch(o: u32): u32 { return <u32>load<u8>(B + <usize>o); }
function isAlpha(c: u32): bool { return (c | 0x20) - 0x61 < 26; }
function isDigit(c: u32): bool { return c - 0x30 < 10; }
function isAlnum(c: u32): bool { return isAlpha(c) || isDigit(c); }
function isHex(c: u32): bool { return isDigit(c) || (c | 0x20) - 0x61 < 6; }
function hexVal(c: u32): u32 { return isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10; }

function kw(p: u32, n: u32, s: string): bool {
  if (<u32>s.length != n) return false;
  for (let i: u32 = 0; i < n; i++) if (ch(p + i) != <u32>s.charCodeAt(i)) return false;
  return true;
}
function memEq(a: usize, b: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}
function orig(o: u32): u32 { return MAP == 0 ? o : load<u32>(MAP + (<usize>o << 2)); }
function origEnd(s: u32, e: u32): u32 { return e > s ? orig(e - 1) + 1 : orig(s); }

/** strtoul(base 10) of [s, e): saturates at ULONG_MAX like glibc. */
function decValue(s: u32, e: u32): u64 {
  let v: u64 = 0;
  for (let i = s; i < e; i++) {
    const d = <u64>(ch(i) - 0x30);
    if (v > (0xffffffffffffffff - d) / 10) return 0xffffffffffffffff;
    v = v * 10 + d;
  }
  return v;
}
function hexValue(s: u32, e: u32): u64 {
  let v: u64 = 0;
  for (let i = s; i < e; i++) {
    if (v >> 60 != 0) return 0xffffffffffffffff;
    v = (v << 4) | <u64>hexVal(ch(i));
  }
  return v;
}

function physLine(o: u32): u32 {
  if (o < lineCurOff) { lineCurOff = 0; lineCurLine = 1; }
  let l = lineCurLine;
  for (let i = lineCurOff; i < o && i < INLEN; i++) if (load<u8>(IN0 + i) == 10) l++;
  lineCurOff = o; lineCurLine = l;
  return l;
}
function physCol(o: u32): u32 {
  let i = o;
  while (i > 0 && load<u8>(IN0 + i - 1) != 10) i--;
  return o - i + 1;
}

// ---------------------------------------------------------------- diagnostics
function diagAt(code: u32, s: u32, e: u32, arg: u32, sev: u32): void {
  if (fatal) return; // setkey has exited: nothing after the lexer's fatal error is reported
  const off = append(REGION_DIAG, DIAG_SIZE);
  const p = at(REGION_DIAG, off);
  const os = orig(s);
  store<u32>(p + D_CODE, code);
  store<u32>(p + D_START, os);
  store<u32>(p + D_END, origEnd(s, e));
  store<u32>(p + D_LINE, stdinMode ? 0 : lineno);
  store<u32>(p + D_COL, physCol(os));
  store<u32>(p + D_ARG, arg);
  store<u32>(p + D_STMT, stmtNo);
  store<u32>(p + D_SEVERITY, sev);
  if (sev == SEV_ERROR && firstErrStmt < 0) firstErrStmt = <i32>stmtNo;
}
/** yyerror(): `at [yytext]`. */
function yyerror(code: u32, arg: u32): void { diagAt(code, yS, yE, arg, SEV_ERROR); }
function syntaxError(exp: u32): i32 { yyerror(DIAG_SYNTAX, exp); return 1; }
function blobU32s(a: u32, b: u32, c: u32, d: u32): u32 {
  const off = append(REGION_BLOB, 16);
  const p = at(REGION_BLOB, off);
  store<u32>(p, a); store<u32>(p + 4, b); store<u32>(p + 8, c); store<u32>(p + 12, d);
  return off;
}

// ---------------------------------------------------------------- lexer (token.l)
function isStrStart(c: u32): bool { return isAlnum(c) || c == 0x3a; }
function isStrCont(c: u32): bool { return isAlnum(c) || c == 0x3a || c == 0x25 || c == 0x2e || c == 0x2d; }
function isPlStart(c: u32): bool {
  return isAlnum(c) || c == 0x3a || c == 0x2e || c == 0x2d || c == 0x5f || c == 0x2f || c == 0x20 || c == 10 || c == 9;
}
function isPlCont(c: u32): bool { return isPlStart(c) || c == 0x25 || c == 0x2b || c == 0x5b || c == 0x5d; }

/** Keywords of token.l that come before the policy rule (they win ties with PL_REQUESTS). */
function kwGroup1(p: u32, n: u32): i32 {
  const c = ch(p);
  if (c == 0x61) { if (kw(p, n, "add")) return T_ADD; }
  else if (c == 0x64) {
    if (kw(p, n, "delete")) return T_DELETE;
    if (kw(p, n, "deleteall")) return T_DELETEALL;
    if (kw(p, n, "dump")) return T_DUMP;
  } else if (c == 0x67) { if (kw(p, n, "get")) return T_GET; }
  else if (c == 0x66) { if (kw(p, n, "flush")) return T_FLUSH; }
  else if (c == 0x65) { if (kw(p, n, "exit")) return T_EXIT; }
  else if (c == 0x71) { if (kw(p, n, "quit")) return T_EXIT; }
  else if (c == 0x62) { if (kw(p, n, "bye")) return T_EXIT; }
  else if (c == 0x73) {
    if (n > 3 && ch(p + 1) == 0x70 && ch(p + 2) == 0x64) {
      if (kw(p, n, "spdadd")) return T_SPDADD;
      if (kw(p, n, "spdupdate")) return T_SPDUPDATE;
      if (kw(p, n, "spddelete")) return T_SPDDELETE;
      if (kw(p, n, "spddump")) return T_SPDDUMP;
      if (kw(p, n, "spdflush")) return T_SPDFLUSH;
    }
  } else if (c == 0x74) { if (kw(p, n, "tagged")) return T_TAGGED; }
  return -1;
}

/** Keywords after the policy rule: protocols, algorithm names (state dependent), modes, pads, any. */
function kwGroup2(p: u32, n: u32): i32 {
  const c = ch(p);
  if (sc == SC_AUTHALG) {
    if (c == 0x68) {
      if (kw(p, n, "hmac-md5")) { tNum = 2; return T_ALG_AUTH; }
      if (kw(p, n, "hmac-sha1")) { tNum = 3; return T_ALG_AUTH; }
      if (kw(p, n, "hmac-sha2-256") || kw(p, n, "hmac-sha256")) { tNum = 5; return T_ALG_AUTH; }
      if (kw(p, n, "hmac-sha2-384") || kw(p, n, "hmac-sha384")) { tNum = 6; return T_ALG_AUTH; }
      if (kw(p, n, "hmac-sha2-512") || kw(p, n, "hmac-sha512")) { tNum = 7; return T_ALG_AUTH; }
      if (kw(p, n, "hmac-ripemd160")) { tNum = 8; return T_ALG_AUTH; }
    } else if (c == 0x6b) {
      if (kw(p, n, "keyed-md5")) { tNum = 249; return T_ALG_AUTH; }
      if (kw(p, n, "keyed-sha1")) { tNum = 250; return T_ALG_AUTH; }
    } else if (c == 0x61) {
      if (kw(p, n, "aes-xcbc-mac")) { tNum = 9; return T_ALG_AUTH; }
    } else if (c == 0x74) {
      // Linux has no SADB_X_AALG_TCP_MD5: the rule matches and returns nothing, the state stays S_AUTHALG.
      if (kw(p, n, "tcp-md5")) return -2;
    } else if (c == 0x6e) {
      if (kw(p, n, "null")) { tNum = 251; return T_ALG_AUTH_NOKEY; }
    }
  } else if (sc == SC_ENCALG) {
    if (kw(p, n, "des-cbc")) { tNum = 2; return T_ALG_ENC; }
    if (kw(p, n, "3des-cbc")) { tNum = 3; return T_ALG_ENC; }
    if (kw(p, n, "null")) { tNum = 11; return T_ALG_ENC_NOKEY; }
    if (kw(p, n, "simple")) { tNum = 11; return T_ALG_ENC_OLD; }
    if (kw(p, n, "blowfish-cbc")) { tNum = 7; return T_ALG_ENC; }
    if (kw(p, n, "cast128-cbc")) { tNum = 6; return T_ALG_ENC; }
    if (kw(p, n, "des-deriv")) { tNum = 2; return T_ALG_ENC_DESDERIV; }
    if (kw(p, n, "des-32iv")) { tNum = 2; return T_ALG_ENC_DES32IV; }
    if (kw(p, n, "twofish-cbc")) { tNum = 253; return T_ALG_ENC; }
    if (kw(p, n, "aes-cbc") || kw(p, n, "rijndael-cbc")) { tNum = 12; return T_ALG_ENC; }
    if (kw(p, n, "aes-ctr")) { tNum = 13; return T_ALG_ENC; }
    if (kw(p, n, "camellia-cbc")) { tNum = 22; return T_ALG_ENC; }
  }
  if (c == 0x61) {
    if (kw(p, n, "ah")) { tNum = 0; return T_PR_AH; }
    if (kw(p, n, "ah-old")) { tNum = 1; return T_PR_AH; }
    if (kw(p, n, "any")) return T_ANY;
  } else if (c == 0x65) {
    if (kw(p, n, "esp")) { tNum = 0; return T_PR_ESP; }
    if (kw(p, n, "esp-old")) { tNum = 1; return T_PR_ESP; }
    if (kw(p, n, "esp-udp")) { tNum = 0; return T_PR_ESPUDP; }
  } else if (c == 0x69) {
    if (kw(p, n, "ipcomp")) return T_PR_IPCOMP;
  } else if (c == 0x74) {
    if (kw(p, n, "tcp")) { tNum = 0; return T_PR_TCP; }
    if (kw(p, n, "transport")) { tNum = 1; return T_MODEKW; }
    if (kw(p, n, "tunnel")) { tNum = 2; return T_MODEKW; }
  } else if (c == 0x6f) {
    if (kw(p, n, "oui")) { tNum = 1; return T_ALG_COMP; }
  } else if (c == 0x64) {
    if (kw(p, n, "deflate")) { tNum = 2; return T_ALG_COMP; }
  } else if (c == 0x6c) {
    if (kw(p, n, "lzs")) { tNum = 3; return T_ALG_COMP; }
  } else if (c == 0x72) {
    if (kw(p, n, "random-pad")) { tNum = 0x100; return T_EXTENSION; }
  } else if (c == 0x73) {
    if (kw(p, n, "seq-pad")) { tNum = 0; return T_EXTENSION; }
  } else if (c == 0x7a) {
    if (kw(p, n, "zero-pad")) { tNum = 0x200; return T_EXTENSION; }
  } else if (c == 0x6e) {
    if (kw(p, n, "nocyclic-seq")) return T_NOCYCLICSEQ;
  }
  return -1;
}

/** Scans one token into tk/tS/tE/yS/yE/tNum (flex yylex). */
function lex(): void {
  while (true) {
    if (pos >= N) {
      tk = T_EOF; tS = N; tE = N;
      yS = N; yE = N; // flex: yytext is empty at the end of input (a pending yymore() does not show)
      return;
    }
    const p = pos;
    const c = ch(p);
    let kind: i32 = -1;
    let len: u32 = 0;
    // length of the STRING rule `[A-Za-z0-9:][A-Za-z0-9:%.-]*`
    let l1: u32 = 0;
    if (isStrStart(c)) { l1 = 1; while (p + l1 < N && isStrCont(ch(p + l1))) l1++; }
    if (sc == SC_PL && isPlStart(c)) {
      let lp: u32 = 1;
      while (p + lp < N && isPlCont(ch(p + lp))) lp++;
      kind = T_PL; len = lp;
      if (lp == l1) { const k = kwGroup1(p, l1); if (k >= 0) kind = k; }
      else if (lp == 2 && c == 0x2d && ch(p + 1) == 0x50) kind = T_F_POLICY;
    } else if (l1 > 0) {
      kind = kwGroup1(p, l1);
      if (kind < 0) kind = kwGroup2(p, l1);
      len = l1;
      if (kind == -2) { pos = p + l1; moreFlag = false; continue; } // tcp-md5 swallowed
      if (kind < 0) {
        kind = T_STRING;
        if (isDigit(c)) {
          let ld: u32 = 1; while (p + ld < N && isDigit(ch(p + ld))) ld++;
          let lc: u32 = ld; while (p + lc < N && (isDigit(ch(p + lc)) || ch(p + lc) == 0x2c)) lc++;
          let lh: u32 = 0;
          if (c == 0x30 && p + 2 < N && (ch(p + 1) | 0x20) == 0x78 && isHex(ch(p + 2))) {
            lh = 3; while (p + lh < N && isHex(ch(p + lh))) lh++;
          }
          let m = l1; if (lc > m) m = lc; if (lh > m) m = lh;
          len = m;
          if (ld == m) kind = T_DECSTRING;
          else if (lh == m) kind = T_HEXSTRING;
          else kind = T_STRING;
        }
      }
    } else if (c == 0x20 || c == 9) {
      let l: u32 = 1; while (p + l < N && (ch(p + l) == 0x20 || ch(p + l) == 9)) l++;
      pos = p + l; moreFlag = false; continue;
    } else if (c == 10) {
      lineno++; pos = p + 1; moreFlag = false; continue;
    } else if (c == 0x23) {
      let l: u32 = 1; while (p + l < N && ch(p + l) != 10) l++;
      pos = p + l; moreFlag = false; continue;
    } else if (c == 0x3b) {
      kind = T_EOT; len = 1;
      if (sc == SC_PL) sc = SC_INITIAL;
    } else if (c == 0x2f) { kind = T_SLASH; len = 1; }
    else if (c == 0x5b) { kind = T_BLCL; len = 1; }
    else if (c == 0x5d) { kind = T_ELCL; len = 1; }
    else if (c == 0x22) {
      let l: u32 = 1; while (p + l < N && ch(p + l) != 0x22) l++;
      if (p + l < N) { kind = T_QUOTED; len = l + 1; }
    } else if (c == 0x2c) {
      let l: u32 = 1; while (p + l < N && (isDigit(ch(p + l)) || ch(p + l) == 0x2c)) l++;
      kind = T_STRING; len = l;
    } else if (c == 0x2d && p + 1 < N) {
      const d = ch(p + 1);
      const e = p + 2 < N ? ch(p + 2) : 0;
      if (d == 0x6e || d == 0x34 || d == 0x36) {
        let l: u32 = 2; while (p + l < N && (ch(p + l) == 0x6e || ch(p + l) == 0x34 || ch(p + l) == 0x36)) l++;
        kind = T_F_AIFLAGS; len = l;
      } else if (d == 0x50) { kind = T_F_POLICY; len = 2; sc = SC_PL; }
      else if (d == 0x41) { kind = T_F_AUTH; len = 2; sc = SC_AUTHALG; }
      else if (d == 0x45) { kind = T_F_ENC; len = 2; sc = SC_ENCALG; }
      else if (d == 0x43) { kind = T_F_COMP; len = 2; }
      else if (d == 0x52) { kind = T_F_RAWCPI; len = 2; }
      else if (d == 0x6d) { kind = T_F_MODE; len = 2; }
      else if (d == 0x75) { kind = T_F_REQID; len = 2; }
      else if (d == 0x66) { kind = T_F_EXT; len = 2; }
      else if (d == 0x72) { kind = T_F_REPLAY; len = 2; }
      else if (d == 0x6c && e == 0x68) { kind = T_F_LT_HARD; len = 3; }
      else if (d == 0x6c && e == 0x73) { kind = T_F_LT_SOFT; len = 3; }
      else if (d == 0x62 && e == 0x68) { kind = T_F_LB_HARD; len = 3; }
      else if (d == 0x62 && e == 0x73) { kind = T_F_LB_SOFT; len = 3; }
      else if (d == 0x63 && e == 0x74 && p + 3 < N && ch(p + 3) == 0x78) { kind = T_SECCTX; len = 4; }
    }
    if (kind < 0) { kind = T_FATAL; len = 1; }
    if (kind == T_FATAL) {
      tk = T_FATAL; tS = p; tE = p + 1; pos = p + 1;
      yS = moreFlag ? moreStart : p; yE = p + 1; moreFlag = false;
      diagAt(DIAG_LEX_FATAL, yS, yE, 0, SEV_ERROR);
      fatal = true; stopped = true;
      return;
    }
    // state changes of keyword rules
    if (kind == T_F_POLICY) sc = SC_PL;
    else if (kind >= T_ALG_AUTH && kind <= T_ALG_ENC_OLD) sc = SC_INITIAL;
    tk = kind; tS = p; tE = p + len; pos = p + len;
    if (moreFlag) { yS = moreStart; } else { yS = p; }
    yE = p + len;
    moreFlag = false;
    if (kind == T_PL) {
      // yymore(): the next token's yytext starts with this one; newlines inside count (token.l)
      moreFlag = true; moreStart = yS;
      for (let i = p; i < p + len; i++) if (ch(i) == 10) lineno++;
    } else if (kind == T_QUOTED) {
      yS = p + 1; yE = p + len - 1;  // the action cuts the quotes off yytext
    } else if (kind == T_DECSTRING) {
      tNum = decValue(p, p + len);
    }
    return;
  }
}

function peek(): i32 {
  if (!hasLook) { lex(); hasLook = true; lastWasEot = false; }
  return tk;
}
function next(): void { hasLook = false; lastWasEot = tk == T_EOT; }

// ---------------------------------------------------------------- names (getaddrinfo, getprotobyname, getservbyname)
function nameHash(kind: u32, fam: u32, s: usize, n: u32): u32 {
  let h: u32 = 2166136261 ^ (kind * 31 + fam);
  for (let i: u32 = 0; i < n; i++) h = (h ^ <u32>load<u8>(s + i)) * 16777619;
  return h;
}
function entSize(e: usize): u32 {
  const n = <u32>load<u16>(e + 2);
  const base: u32 = load<u8>(e) == NK_HOST_ADDR ? 24 : 8;
  return (base + n + 3) & ~3;
}
function indexNames(): void {
  for (let e = NAMES; e < NAMES_END; e += entSize(e)) {
    const kind = <u32>load<u8>(e);
    const fam = <u32>load<u8>(e + 1);
    const n = <u32>load<u16>(e + 2);
    const nm = e + (kind == NK_HOST_ADDR ? 24 : 8);
    const k2 = kind == NK_HOST_ERR ? NK_HOST_ADDR : kind;
    let h = nameHash(k2, fam, nm, n) & HASH_MASK;
    while (true) {
      const v = load<u32>(HASH + (<usize>h << 2));
      if (v == 0) { store<u32>(HASH + (<usize>h << 2), <u32>(e - NAMES) + 1); break; }
      const o = NAMES + <usize>(v - 1);
      if (nameEq(o, k2, fam, nm, n)) break; // keep the first entry of a run
      h = (h + 1) & HASH_MASK;
    }
  }
}
function nameEq(e: usize, kind: u32, fam: u32, s: usize, n: u32): bool {
  let k = <u32>load<u8>(e);
  if (k == NK_HOST_ERR) k = NK_HOST_ADDR;
  if (k != kind || <u32>load<u8>(e + 1) != fam || <u32>load<u16>(e + 2) != n) return false;
  return memEq(e + (load<u8>(e) == NK_HOST_ADDR ? 24 : 8), s, n);
}
/** First entry for (kind, family, name) or 0. Host errors are found under NK_HOST_ADDR. */
function findName(kind: u32, fam: u32, s: usize, n: u32): usize {
  if (HASH == 0) return 0;
  let h = nameHash(kind, fam, s, n) & HASH_MASK;
  while (true) {
    const v = load<u32>(HASH + (<usize>h << 2));
    if (v == 0) return 0;
    const e = NAMES + <usize>(v - 1);
    if (nameEq(e, kind, fam, s, n)) return e;
    h = (h + 1) & HASH_MASK;
  }
}

// ---------------------------------------------------------------- numeric addresses (glibc inet_aton_exact / inet_pton)
/** IPv4 as glibc __inet_aton_exact accepts it (1–4 parts, 0x hex, 0 octal). Writes 4 bytes at SCR. */
function parseV4(s: u32, e: u32): bool {
  let i = s;
  let parts = 0;
  const bytes = SCR + 32;
  let val: u32 = 0;
  let digit = false;
  while (true) {
    if (i >= e || !isDigit(ch(i))) return false;
    val = 0; let base: u32 = 10; digit = false;
    if (ch(i) == 0x30) {
      i++;
      if (i < e && (ch(i) | 0x20) == 0x78) { base = 16; i++; } else { base = 8; digit = true; }
    }
    while (i < e) {
      const c = ch(i);
      if (isDigit(c)) {
        if (base == 8 && c >= 0x38) return false;
        val = val * base + (c - 0x30); i++; digit = true;
      } else if (base == 16 && isHex(c)) {
        val = (val << 4) | hexVal(c); i++; digit = true;
      } else break;
    }
    if (i < e && ch(i) == 0x2e) {
      if (parts > 2 || val > 0xff) return false;
      store<u8>(bytes + parts, <u8>val); parts++; i++;
    } else break;
  }
  if (i != e || !digit) return false;
  let a: u32 = val;
  if (parts == 1) { if (val > 0xffffff) return false; a = val | (<u32>load<u8>(bytes) << 24); }
  else if (parts == 2) { if (val > 0xffff) return false; a = val | (<u32>load<u8>(bytes) << 24) | (<u32>load<u8>(bytes + 1) << 16); }
  else if (parts == 3) {
    if (val > 0xff) return false;
    a = val | (<u32>load<u8>(bytes) << 24) | (<u32>load<u8>(bytes + 1) << 16) | (<u32>load<u8>(bytes + 2) << 8);
  }
  store<u32>(SCR, bswap<u32>(a));
  return true;
}
/** inet_pton4 (strict dotted quad) into 4 bytes at dst. */
function pton4(s: u32, e: u32, dst: usize): bool {
  let octets = 0; let sawDigit = false; let cur: u32 = 0; let i = s;
  while (i < e) {
    const c = ch(i);
    if (isDigit(c)) {
      if (sawDigit && cur == 0) return false;
      cur = cur * 10 + (c - 0x30);
      if (cur > 255) return false;
      if (!sawDigit) { if (++octets > 4) return false; sawDigit = true; }
    } else if (c == 0x2e && sawDigit) {
      if (octets == 4) return false;
      store<u8>(dst + octets - 1, <u8>cur); cur = 0; sawDigit = false;
    } else return false;
    i++;
  }
  if (octets < 4 || !sawDigit) return false;
  store<u8>(dst + 3, <u8>cur);
  return true;
}
/** inet_pton6 of [s, e) (a %scope suffix is cut off first) into 16 bytes at SCR. */
function parseV6(s: u32, e0: u32): bool {
  let e = e0;
  for (let i = s; i < e0; i++) if (ch(i) == 0x25) { e = i; break; }
  const tmp = SCR;
  memory.fill(tmp, 0, 16);
  let tp: u32 = 0; let colonp: i32 = -1; let i = s;
  if (i < e && ch(i) == 0x3a) { if (i + 1 >= e || ch(i + 1) != 0x3a) return false; i++; }
  let curtok = i; let sawXdigit = false; let val: u32 = 0; let nd = 0;
  while (i < e) {
    const c = ch(i); i++;
    if (isHex(c)) {
      if (++nd > 4) return false;
      val = (val << 4) | hexVal(c); sawXdigit = true; continue;
    }
    if (c == 0x3a) {
      curtok = i;
      if (!sawXdigit) { if (colonp >= 0) return false; colonp = <i32>tp; continue; }
      if (i >= e) return false;
      if (tp + 2 > 16) return false;
      store<u8>(tmp + tp, <u8>(val >> 8)); store<u8>(tmp + tp + 1, <u8>val); tp += 2;
      sawXdigit = false; val = 0; nd = 0; continue;
    }
    if (c == 0x2e && tp + 4 <= 16) {
      if (!pton4(curtok, e, tmp + tp)) return false;
      tp += 4; sawXdigit = false; break;
    }
    return false;
  }
  if (sawXdigit) {
    if (tp + 2 > 16) return false;
    store<u8>(tmp + tp, <u8>(val >> 8)); store<u8>(tmp + tp + 1, <u8>val); tp += 2;
  }
  if (colonp >= 0) {
    if (tp == 16) return false;
    const n = tp - <u32>colonp;
    for (let k: u32 = 1; k <= n; k++) {
      store<u8>(tmp + 16 - k, load<u8>(tmp + <u32>colonp + n - k));
      store<u8>(tmp + <u32>colonp + n - k, 0);
    }
    tp = 16;
  }
  return tp == 16;
}

// port "kinds" of getaddrinfo's service argument
const PK_NONE = 0;  // NULL or "0"
const PK_NUM = 1;   // decimal text: glibc (int)strtoul, negative → name lookup → EAI_SERVICE
const PK_NAME = 2;  // a name: getservbyname(name, "udp")

let gaiPort: u32 = 0;
/** The service part of getaddrinfo: sets gaiPort, or returns a GAI error. */
function resolveService(kind: i32, num: u64, s: u32, e: u32): u32 {
  gaiPort = 0;
  if (kind == PK_NUM) {
    const v = <i32><u32>num;
    if (v < 0) return GAI_SERVICE;
    gaiPort = <u32>v & 0xffff;
  } else if (kind == PK_NAME) {
    const ent = findName(NK_SERVICE, 0, B + s, e - s);
    if (ent == 0) return GAI_SERVICE;
    gaiPort = load<u32>(ent + 4) & 0xffff;
  }
  return 0;
}
function listPut(list: usize, i: u32, fam: u32, port: u32, addr: usize): void {
  const q = list + <usize>(i * AL_SIZE);
  memory.fill(q, 0, AL_SIZE);
  store<u8>(q, <u8>fam);
  store<u16>(q + 2, <u16>port);
  memory.copy(q + 4, addr, fam == AF_INET ? 4 : 16);
}

/**
 * parse_addr(host, port) of parse.y: getaddrinfo with p_aifamily / p_aiflags. Fills `list`, returns the number of
 * addresses, or 0 after reporting the error with the current yytext (as yyerror(gai_strerror()) does).
 */
function parseAddr(hs: u32, he: u32, pk: i32, pnum: u64, ps: u32, pe: u32, list: usize): u32 {
  const err = resolveService(pk, pnum, ps, pe);
  if (err != 0) { yyerror(DIAG_GAI, err); return 0; }
  const port = gaiPort;
  if (parseV4(hs, he)) {
    if (p_aifamily == AF_INET6) { yyerror(DIAG_GAI, GAI_ADDRFAMILY); return 0; }
    listPut(list, 0, AF_INET, port, SCR);
    return 1;
  }
  if (parseV6(hs, he)) {
    if (p_aifamily == AF_INET) { yyerror(DIAG_GAI, GAI_ADDRFAMILY); return 0; }
    listPut(list, 0, AF_INET6, port, SCR);
    return 1;
  }
  if (p_aiflags_numeric) { yyerror(DIAG_GAI, GAI_NONAME); return 0; }
  let ent = findName(NK_HOST_ADDR, p_aifamily, B + hs, he - hs);
  if (ent == 0) {
    // Not resolved yet: ask the TypeScript wrapper (it resolves and parses again).
    diagAt(DIAG_NEED_HOST, hs, he, p_aifamily, SEV_INTERNAL);
    return 0;
  }
  if (load<u8>(ent) == NK_HOST_ERR) { yyerror(DIAG_GAI, load<u32>(ent + 4)); return 0; }
  let n: u32 = 0;
  while (ent < NAMES_END && load<u8>(ent) == NK_HOST_ADDR && nameEq(ent, NK_HOST_ADDR, p_aifamily, B + hs, he - hs)) {
    if (n == MAXADDR) { diagAt(DIAG_TOO_MANY_ADDRS, hs, he, MAXADDR, SEV_ERROR); return 0; }
    listPut(list, n++, load<u32>(ent + 4), port, ent + 8);
    ent += entSize(ent);
  }
  return n;
}

// ---------------------------------------------------------------- statement state
function parseInit(): void {
  p_spi = 0; p_ext = EXT_CYCSEQ; p_alg_enc = 0; p_alg_auth = 0; p_mode = 0; p_reqid = 0; p_replay = 0;
  p_key_enc = false; p_key_auth = false; p_key_enc_len = 0; p_key_auth_len = 0;
  p_lt_hard = 0; p_lt_soft = 0; p_lb_hard = 0; p_lb_soft = 0;
  ctx_doi = 0; ctx_alg = 0; ctx_len = 0; ctx_off = 0;
  p_aiflags_numeric = false; p_aifamily = 0;
  p_natt_oa = false; nOa = 0; p_natt_type = 0;
}

function kalgIndex(kind: i32, id: u32): i32 {
  for (let i = 0; i < KALG_ID.length; i++) if (KALG_KIND[i] == kind && <u32>KALG_ID[i] == id) return i;
  return -1;
}
/** ipsec_check_keylen(): 0 ok, else the diagnostic was recorded (at the current yytext). */
function checkKeylen(kind: i32, id: u32, bytes: u32): i32 {
  const k = kalgIndex(kind, id);
  if (k < 0) { ipsecErr = 1; yyerror(DIAG_IPSEC, 1); return 1; }
  const bits = bytes * 8;
  const mn = <u32>KALG_MINBITS[k];
  const mx = <u32>KALG_MAXBITS[k];
  if (bits < mn || bits > mx) {
    ipsecErr = 14;
    yyerror(DIAG_KEYLEN, blobU32s(bits, mn, mx, 0));
    return 1;
  }
  ipsecErr = 0;
  return 0;
}
/** key_string: a QUOTEDSTRING's bytes or a HEXSTRING decoded (odd digit count: first digit is its own byte). */
function keyString(isBlobAuth: bool): i32 {
  const t = peek();
  if (t != T_QUOTED && t != T_HEXSTRING) return syntaxError(EXP_KEY);
  next();
  let off: u32; let len: u32;
  if (t == T_QUOTED) {
    len = yE - yS;
    for (let i = yS; i < yE; i++) if (ch(i) == 0) { yyerror(DIAG_NUL, 0); return 1; }
    off = append(REGION_BLOB, len);
    memory.copy(at(REGION_BLOB, off), B + yS, len);
  } else {
    const s = tS + 2; const n = tE - s;
    len = (n & 1) + (n >> 1);
    off = append(REGION_BLOB, len);
    const d = at(REGION_BLOB, off);
    let i = s; let o: u32 = 0;
    if (n & 1) { store<u8>(d, <u8>hexVal(ch(i))); i++; o++; }
    while (i < tE) { store<u8>(d + o, <u8>((hexVal(ch(i)) << 4) | hexVal(ch(i + 1)))); i += 2; o++; }
  }
  if (isBlobAuth) { p_key_auth = true; p_key_auth_off = off; p_key_auth_len = len; }
  else { p_key_enc = true; p_key_enc_off = off; p_key_enc_len = len; }
  return 0;
}

// ---------------------------------------------------------------- records
function newRecord(kind: u32): u32 {
  const off = append(REGION_RECORDS, REC_SIZE);
  const r = at(REGION_RECORDS, off);
  store<u8>(r + R_KIND, <u8>kind);
  const os = orig(stmtStart);
  store<u32>(r + R_LINE, physLine(os));
  store<u32>(r + R_COL, physCol(os));
  store<u32>(r + R_SRC_START, os);
  store<u32>(r + R_SRC_END, origEnd(tS, tE));
  store<u32>(r + R_STMT, stmtNo);
  store<u32>(r + R_FLAGS, RF_SETKEY);
  return off;
}
// @ts-ignore: decorator
@inline function rp(off: u32): usize { return at(REGION_RECORDS, off); }
function orFlags(off: u32, f: u32): void { const r = rp(off); store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) | f); }
function orAux2(off: u32, f: u32): void { const r = rp(off); store<u32>(r + R_AUX2, load<u32>(r + R_AUX2) | f); }

function satypeProto(satype: u32): u32 {
  return satype == SATYPE_ESP ? 50 : satype == SATYPE_AH ? 51 : satype == SATYPE_IPCOMP ? 108 : 0;
}
function algName(k: i32): u32 {
  let off = unchecked(algNameOff[k]);
  if (off == 0xffffffff) {
    const s = KALG_NAME[k];
    const n = <u32>s.length;
    off = append(REGION_BLOB, n);
    const p = at(REGION_BLOB, off);
    for (let i: u32 = 0; i < n; i++) store<u8>(p + i, <u8>s.charCodeAt(i));
    unchecked(algNameOff[k] = off);
  }
  return off;
}
function setAlg(rec: u32, slot: u32, k: i32, keyOff: u32, keyBytes: u32): void {
  const nameOff = algName(k);
  const r = rp(rec) + slot;
  store<u32>(r + ALG_NAME_OFF, nameOff);
  store<u32>(r + ALG_NAME_LEN, <u32>KALG_NAME[k].length);
  store<u32>(r + ALG_KEY_OFF, keyOff);
  store<u32>(r + ALG_KEY_BITS, keyBytes * 8);
}
function copyAddr(dst: usize, list: usize, i: u32): void {
  const q = list + <usize>(i * AL_SIZE);
  memory.copy(dst, q + 4, 16);
}
// @ts-ignore: decorator
@inline function lFam(list: usize, i: u32): u32 { return <u32>load<u8>(list + <usize>(i * AL_SIZE)); }
// @ts-ignore: decorator
@inline function lPort(list: usize, i: u32): u32 { return <u32>load<u16>(list + <usize>(i * AL_SIZE) + 2); }

/** The SA fields shared by add/get/delete (af_key pfkey_msg2xfrm_state view + what setkey sent). */
function fillSa(rec: u32, satype: u32, si: u32, di: u32): void {
  const r = rp(rec);
  const fam = lFam(LIST_SRC, si);
  store<u8>(r + R_FAMILY, <u8>fam);
  copyAddr(r + R_SADDR, LIST_SRC, si);
  copyAddr(r + R_DADDR, LIST_DST, di);
  store<u16>(r + R_SEL + SEL_FAMILY, <u16>fam);
  store<u32>(r + R_SPI, bswap<u32>(p_spi));
  const proto = satypeProto(satype);
  store<u8>(r + R_PROTO, <u8>proto);
  store<u8>(r + R_SATYPE, <u8>satype);
  store<u8>(r + R_SADB_MODE, <u8>p_mode);
  store<u16>(r + R_SADB_FLAGS, <u16>p_ext);
  store<u16>(r + R_SADB_SPORT, <u16>lPort(LIST_SRC, si));
  store<u16>(r + R_SADB_DPORT, <u16>lPort(LIST_DST, di));
  store<u8>(r + R_SADB_AALG, <u8>p_alg_auth);
  store<u8>(r + R_SADB_EALG, <u8>p_alg_enc);
  store<u8>(r + R_MODE, p_mode == 2 ? 1 : 0);
  store<u32>(r + R_REQID, p_reqid);
  const rw = p_replay & 0xff;
  store<u8>(r + R_REPLAY, <u8>(rw < 32 ? rw : 32));
  store<u32>(r + R_AUX, p_replay);
  let f: u32 = RF_HAS_SPI;
  if (proto != 0) f |= RF_HAS_PROTO;
  store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) | f);
  if (proto == 0) orAux2(rec, SKX_EINVAL); // af_key: pfkey_satype2proto(0) == 0 → EINVAL
}

function emitAdd(satype: u32): void {
  for (let si: u32 = 0; si < nSrc; si++) {
    for (let di: u32 = 0; di < nDst; di++) {
      if (lFam(LIST_SRC, si) != lFam(LIST_DST, di)) continue;
      const rec = newRecord(OP_SA_ADD);
      fillSa(rec, satype, si, di);
      let aux2: u32 = 0;
      const hard = p_lt_hard != 0 || p_lb_hard != 0;
      const soft = p_lt_soft != 0 || p_lb_soft != 0;
      let r = rp(rec);
      // struct xfrm_lifetime_cfg as af_key fills it: byte/packet limits 0 → XFRM_INF, times as given
      store<u64>(r + R_LFT + LFT_SOFT_BYTE, soft && p_lb_soft != 0 ? p_lb_soft : XFRM_INF);
      store<u64>(r + R_LFT + LFT_HARD_BYTE, hard && p_lb_hard != 0 ? p_lb_hard : XFRM_INF);
      store<u64>(r + R_LFT + LFT_SOFT_PACKET, XFRM_INF);
      store<u64>(r + R_LFT + LFT_HARD_PACKET, XFRM_INF);
      store<u64>(r + R_LFT + LFT_SOFT_ADD, soft ? p_lt_soft : 0);
      store<u64>(r + R_LFT + LFT_HARD_ADD, hard ? p_lt_hard : 0);
      let flags: u32 = 0;
      if (hard) aux2 |= SKX_LFT_HARD;
      if (soft) aux2 |= SKX_LFT_SOFT;
      if (hard || soft) flags |= RF_HAS_LFT;
      if (hard != soft) aux2 |= SKX_EINVAL; // af_key: HARD and SOFT lifetimes go together
      const sendEncKey = satype != SATYPE_IPCOMP && p_key_enc;
      if (sendEncKey) aux2 |= SKX_KEY_ENC;
      if (p_key_auth) aux2 |= SKX_KEY_AUTH;
      if (satype == SATYPE_ESP && !sendEncKey) aux2 |= SKX_EINVAL;
      if (satype == SATYPE_AH && !p_key_auth) aux2 |= SKX_EINVAL;
      if (p_alg_auth != 0) {
        const k = kalgIndex(1, p_alg_auth);
        if (k < 0) aux2 |= SKX_ENOSYS;
        else {
          if (p_key_auth && p_key_auth_len == 0 && p_alg_auth != 251) aux2 |= SKX_EINVAL;
          setAlg(rec, R_ALG_AUTH, k, p_key_auth ? p_key_auth_off : 0, p_key_auth ? p_key_auth_len : 0);
        }
      }
      if (p_alg_enc != 0) {
        if (satype == SATYPE_IPCOMP) {
          const k = kalgIndex(3, p_alg_enc);
          if (k < 0) aux2 |= SKX_ENOSYS; else setAlg(rec, R_ALG_COMP, k, 0, 0);
        } else {
          const k = kalgIndex(2, p_alg_enc);
          if (k < 0) aux2 |= SKX_ENOSYS;
          else {
            if (sendEncKey && p_key_enc_len == 0 && p_alg_enc != 11) aux2 |= SKX_EINVAL;
            setAlg(rec, R_ALG_ENC, k, sendEncKey ? p_key_enc_off : 0, sendEncKey ? p_key_enc_len : 0);
          }
        }
      }
      r = rp(rec);
      if (p_natt_type != 0) {
        flags |= RF_HAS_ENCAP;
        store<u16>(r + R_ENCAP_TYPE, <u16>p_natt_type);
        const sp = lPort(LIST_SRC, si); const dp = lPort(LIST_DST, di);
        store<u16>(r + R_ENCAP_SPORT, <u16>(sp == 0 ? 4500 : sp));
        store<u16>(r + R_ENCAP_DPORT, <u16>(dp == 0 ? 4500 : dp));
        if (p_natt_oa && nOa > 0) { copyAddr(r + R_ENCAP_OA, LIST_OA, 0); aux2 |= SKX_NATT_OA; }
      }
      if (ctx_doi != 0) {
        flags |= RF_HAS_CTX;
        store<u8>(r + R_CTX_DOI, <u8>ctx_doi);
        store<u8>(r + R_CTX_ALG, <u8>ctx_alg);
        store<u32>(r + R_CTX_OFF, ctx_off);
        store<u32>(r + R_CTX_LEN, ctx_len);
      }
      store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) | flags);
      store<u32>(r + R_AUX2, load<u32>(r + R_AUX2) | aux2);
    }
  }
}

function emitAddrOp(kind: u32, satype: u32): u32 {
  let n: u32 = 0;
  for (let si: u32 = 0; si < nSrc; si++) {
    for (let di: u32 = 0; di < nDst; di++) {
      if (lFam(LIST_SRC, si) != lFam(LIST_DST, di)) continue;
      const rec = newRecord(kind);
      fillSa(rec, satype, si, di);
      n++;
    }
  }
  return n;
}

// ---------------------------------------------------------------- libipsec policy parser (policy_token.l / policy_parse.y)
const P_EOF = 0;
const P_DIR = 1;
const P_PRIORITY = 2;
const P_PRIO_BASE = 3;
const P_PLUS = 4;
const P_OFFSET = 5;
const P_ACTION = 6;
const P_PROTOCOL = 7;
const P_MODE = 8;
const P_ME = 9;
const P_ANY = 10;
const P_LEVEL = 11;
const P_LEVEL_SPECIFY = 12;
const P_SLASH = 13;
const P_IPADDR = 14;
const P_HYPHEN = 15;
const P_PORT = 16;

let pp: u32 = 0;      // policy lexer position
let pEnd: u32 = 0;
let ptk: i32 = 0;
let ptS: u32 = 0;
let ptE: u32 = 0;
let pNum: u32 = 0;
let pHas = false;
// results
let pol_dir: u32 = 0;
let pol_type: u32 = 0;
let pol_prio: u32 = 0;
let pol_nreq: u32 = 0;
let pol_firstLevel: u32 = 0;
let pol_tmplOff: u32 = 0;
let pol_ntmpl: u32 = 0;
// request being parsed
let rq_proto: u32 = 0;
let rq_mode: u32 = 0;
let rq_level: u32 = 0;
let rq_reqid: u32 = 0;
let rq_srcFam: u32 = 0;
let rq_dstFam: u32 = 0;
let rq_sport: u32 = 0;
let rq_dport: u32 = 0;
const RQ_SRC: usize = memory.data(16);
const RQ_DST: usize = memory.data(16);

function pIsIpChar(c: u32): bool { return isAlnum(c) || c == 0x3a || c == 0x2e || c == 0x5f; }
function plex(): void {
  while (pp < pEnd) {
    const c = ch(pp);
    if (c == 0x20 || c == 9 || c == 10) { pp++; continue; }
    const p = pp;
    if (pIsIpChar(c)) {
      let li: u32 = 1; while (p + li < pEnd && pIsIpChar(ch(p + li))) li++;
      let lw = li; // without the %scope
      if (p + li < pEnd && ch(p + li) == 0x25 && p + li + 1 < pEnd && isAlnum(ch(p + li + 1))) {
        li += 2; while (p + li < pEnd && isAlnum(ch(p + li))) li++;
      }
      let k: i32 = P_IPADDR;
      if (li == lw) {
        if (kw(p, li, "in")) { k = P_DIR; pNum = 1; }
        else if (kw(p, li, "out")) { k = P_DIR; pNum = 2; }
        else if (kw(p, li, "fwd")) { k = P_DIR; pNum = 3; }
        else if (kw(p, li, "priority") || kw(p, li, "prio")) k = P_PRIORITY;
        else if (kw(p, li, "low")) { k = P_PRIO_BASE; pNum = 0xc0000000; }
        else if (kw(p, li, "def")) { k = P_PRIO_BASE; pNum = 0x80000000; }
        else if (kw(p, li, "high")) { k = P_PRIO_BASE; pNum = 0x40000000; }
        else if (kw(p, li, "discard")) { k = P_ACTION; pNum = 0; }
        else if (kw(p, li, "none")) { k = P_ACTION; pNum = 1; }
        else if (kw(p, li, "ipsec")) { k = P_ACTION; pNum = 2; }
        else if (kw(p, li, "bypass")) { k = P_ACTION; pNum = 4; }
        else if (kw(p, li, "entrust")) { k = P_ACTION; pNum = 3; }
        else if (kw(p, li, "esp")) { k = P_PROTOCOL; pNum = 50; }
        else if (kw(p, li, "ah")) { k = P_PROTOCOL; pNum = 51; }
        else if (kw(p, li, "ipcomp")) { k = P_PROTOCOL; pNum = 108; }
        else if (kw(p, li, "transport")) { k = P_MODE; pNum = 1; }
        else if (kw(p, li, "tunnel")) { k = P_MODE; pNum = 2; }
        else if (kw(p, li, "me")) k = P_ME;
        else if (kw(p, li, "any")) k = P_ANY;
        else if (kw(p, li, "default")) { k = P_LEVEL; pNum = 0; }
        else if (kw(p, li, "use")) { k = P_LEVEL; pNum = 1; }
        else if (kw(p, li, "require")) { k = P_LEVEL; pNum = 2; }
        else if (kw(p, li, "unique")) { k = P_LEVEL; pNum = 3; }
        else if (li > 7 && kw(p, 7, "unique:")) {
          let ok = true;
          for (let i: u32 = 7; i < li; i++) if (!isDigit(ch(p + i))) { ok = false; break; }
          if (ok) k = P_LEVEL_SPECIFY;
        } else {
          let digits = true;
          for (let i: u32 = 0; i < li; i++) if (!isDigit(ch(p + i))) { digits = false; break; }
          if (digits) k = P_OFFSET;
        }
      }
      ptk = k; ptS = p; ptE = p + li; pp = p + li; return;
    }
    if (c == 0x2b) { ptk = P_PLUS; ptS = p; ptE = p + 1; pp = p + 1; return; }
    if (c == 0x2f) { ptk = P_SLASH; ptS = p; ptE = p + 1; pp = p + 1; return; }
    if (c == 0x2d) { ptk = P_HYPHEN; ptS = p; ptE = p + 1; pp = p + 1; return; }
    if (c == 0x5b) {
      let l: u32 = 1; while (p + l < pEnd && isDigit(ch(p + l))) l++;
      if (l > 1 && p + l < pEnd && ch(p + l) == 0x5d) { ptk = P_PORT; ptS = p; ptE = p + l + 1; pp = p + l + 1; return; }
    }
    pp++; // flex's default rule echoes the character to stdout and goes on
  }
  ptk = P_EOF; ptS = pEnd; ptE = pEnd;
}
function ppeek(): i32 { if (!pHas) { plex(); pHas = true; } return ptk; }
function pnext(): void { pHas = false; }
/** libipsec yyerror("syntax error"): setkey then prints ipsec_strerror() (Invalid argument unless stale). */
function pSyntax(exp: u32): i32 {
  const code = ipsecErr == 0 ? 2 : ipsecErr;
  ipsecErr = code;
  yyerror(DIAG_POLICY_SYNTAX, blobU32s(code, orig(ptS), origEnd(ptS, ptE), exp));
  return 1;
}
function pFail(code: u32): i32 { ipsecErr = code; yyerror(DIAG_IPSEC, code); return 1; }
/** atol() of a decimal token, saturating at LONG_MAX. */
function atolSat(s: u32, e: u32): u64 {
  const v = decValue(s, e);
  return v > 0x7fffffffffffffff ? 0x7fffffffffffffff : v;
}
/** parse_sockaddr(): getaddrinfo(AI_NUMERICHOST). Writes family/port and 16 bytes at dst. */
function pSockaddr(as: u32, ae: u32, hasPort: bool, ps: u32, pe: u32, dst: usize, isSrc: bool): i32 {
  let err: u32 = 0;
  let port: u32 = 0;
  if (hasPort) {
    const v = <i32><u32>decValue(ps + 1, pe - 1);
    if (v < 0) err = GAI_SERVICE; else port = <u32>v & 0xffff;
  }
  let fam: u32 = 0;
  if (err == 0) {
    if (parseV4(as, ae)) { fam = AF_INET; memory.fill(dst, 0, 16); memory.copy(dst, SCR, 4); }
    else if (parseV6(as, ae)) { fam = AF_INET6; memory.copy(dst, SCR, 16); }
    else err = GAI_NONAME;
  }
  if (err != 0) {
    ipsecErr = 26;
    yyerror(DIAG_POLICY_ADDR, blobU32s(err, orig(ptS), origEnd(ptS, ptE), 0));
    return 1;
  }
  if (isSrc) { rq_srcFam = fam; rq_sport = port; } else { rq_dstFam = fam; rq_dport = port; }
  return 0;
}
function reqInit(): void {
  rq_proto = 0; rq_mode = 0; rq_level = 0; rq_reqid = 0; rq_srcFam = 0; rq_dstFam = 0; rq_sport = 0; rq_dport = 0;
}
/** rules: rules rule { rule_check(); set_x_request(); } */
function pRuleDone(): i32 {
  if (pol_type == 2) {
    if (rq_proto == 0) return pFail(19);
    if (rq_mode != 1 && rq_mode != 2) return pFail(8);
    if (rq_srcFam == 0 && rq_dstFam == 0) { if (rq_mode != 1) return pFail(6); }
    else if (rq_srcFam != rq_dstFam) return pFail(24);
  }
  if (pol_nreq == 0) pol_firstLevel = rq_level;
  pol_nreq++;
  if (pol_type == 2) {
    // af_key parse_ipsecrequest(): optional for use, reqid only for unique (0 or > 0x3fff → generated)
    const off = append(REGION_BLOB, TMPL_SIZE);
    if (pol_ntmpl == 0) pol_tmplOff = off;
    pol_ntmpl++;
    const t = at(REGION_BLOB, off);
    store<u8>(t + T_PROTO, <u8>rq_proto);
    store<u8>(t + T_MODE, rq_mode == 2 ? 1 : 0);
    if (rq_mode == 2) {
      memory.copy(t + T_SADDR, RQ_SRC, 16);
      memory.copy(t + T_DADDR, RQ_DST, 16);
      store<u16>(t + T_FAMILY, <u16>rq_srcFam);
    }
    if (rq_level == 1) store<u8>(t + T_OPTIONAL, 1);
    let xf: u32 = 0;
    if (rq_level == 3) {
      const id = rq_reqid;
      // The written id stays in T_REQID either way: PF_KEY sends it as setkey does (af_key then generates one);
      // for XFRM the engine replaces it when TF_AUTO_REQID is set.
      if (id == 0 || id > 0x3fff) xf |= TF_AUTO_REQID;
      store<u32>(t + T_REQID, id);
    }
    store<u32>(t + T_AALGOS, 0xffffffff);
    store<u32>(t + T_EALGOS, 0xffffffff);
    store<u32>(t + T_CALGOS, 0xffffffff);
    store<u8>(t + T_LEVEL, <u8>rq_level);
    store<u8>(t + T_XFLAGS, <u8>xf);
    store<u16>(t + T_SPORT, <u16>rq_sport);
    store<u16>(t + T_DPORT, <u16>rq_dport);
  }
  ipsecErr = 0;
  reqInit();
  return 0;
}
function pLevel(): void {
  if (ptk == P_LEVEL) { rq_level = pNum; rq_reqid = 0; }
  else { rq_level = 3; rq_reqid = <u32>atolSat(ptS + 7, ptE); }
  pnext();
}
function pAddresses(): i32 {
  const t = ppeek();
  if (t == P_IPADDR) {
    const a1s = ptS; const a1e = ptE; pnext();
    if (ppeek() == P_PORT) {
      const q1s = ptS; const q1e = ptE; pnext();
      if (pSockaddr(a1s, a1e, true, q1s, q1e, RQ_SRC, true)) return 1;
      if (ppeek() != P_HYPHEN) return pSyntax(EXP_P_HYPHEN);
      pnext();
      if (ppeek() != P_IPADDR) return pSyntax(EXP_P_ADDR);
      const a2s = ptS; const a2e = ptE; pnext();
      if (ppeek() != P_PORT) return pSyntax(EXP_P_PORT_PAIR);
      const q2s = ptS; const q2e = ptE; pnext();
      return pSockaddr(a2s, a2e, true, q2s, q2e, RQ_DST, false);
    }
    if (pSockaddr(a1s, a1e, false, 0, 0, RQ_SRC, true)) return 1;
    if (ppeek() != P_HYPHEN) return pSyntax(EXP_P_HYPHEN);
    pnext();
    if (ppeek() != P_IPADDR) return pSyntax(EXP_P_ADDR);
    const a2s = ptS; const a2e = ptE; pnext();
    return pSockaddr(a2s, a2e, false, 0, 0, RQ_DST, false);
  }
  if (t == P_ME) {
    pnext();
    if (ppeek() != P_HYPHEN) return pSyntax(EXP_P_HYPHEN);
    pnext();
    if (ppeek() != P_ANY) return pSyntax(EXP_P_ADDR);
    pnext();
    if (pol_dir != 2) return pFail(17);
    return 0;
  }
  // t == P_ANY
  pnext();
  if (ppeek() != P_HYPHEN) return pSyntax(EXP_P_HYPHEN);
  pnext();
  if (ppeek() != P_ME) return pSyntax(EXP_P_ADDR);
  pnext();
  if (pol_dir != 1) return pFail(17);
  return 0;
}
function pRule(): i32 {
  rq_proto = pNum; pnext();
  if (ppeek() != P_SLASH) return pFail(25);
  pnext();
  if (ppeek() != P_MODE) return pFail(25);
  rq_mode = pNum; pnext();
  if (ppeek() != P_SLASH) return pRuleDone();
  pnext();
  const t = ppeek();
  if (t == P_IPADDR || t == P_ME || t == P_ANY) {
    if (pAddresses()) return 1;
    if (ppeek() != P_SLASH) return pRuleDone();
    pnext();
    const t2 = ppeek();
    if (t2 == P_LEVEL || t2 == P_LEVEL_SPECIFY) pLevel();
    return pRuleDone();
  }
  if (t == P_SLASH) {
    pnext();
    const t2 = ppeek();
    if (t2 != P_LEVEL && t2 != P_LEVEL_SPECIFY) return pSyntax(EXP_P_LEVEL);
    pLevel();
    return pRuleDone();
  }
  return pRuleDone();
}
/** ipsec_set_policy() over [s, e): 0 ok (pol_* set, templates in the blob), else a diagnostic was recorded. */
function parsePolicy(s: u32, e: u32): i32 {
  pp = s; pEnd = e; pHas = false;
  pol_nreq = 0; pol_ntmpl = 0; pol_tmplOff = 0; pol_firstLevel = 0; pol_type = 0; pol_prio = 0;
  reqInit();
  if (ppeek() != P_DIR) return pSyntax(EXP_P_DIR);
  pol_dir = pNum; pnext();
  let t = ppeek();
  if (t == P_EOF) { pol_type = 0; pol_prio = 0; ipsecErr = 0; return 0; }
  if (t == P_ACTION) {
    pol_type = pNum; pol_prio = 0x80000000; pnext();
  } else if (t == P_PRIORITY) {
    pnext();
    t = ppeek();
    if (t == P_OFFSET) {
      const v = atolSat(ptS, ptE); pnext();
      if (ppeek() != P_ACTION) return pSyntax(EXP_P_ACTION);
      pol_type = pNum; pnext();
      if (v > 2147483648) return pFail(27);
      pol_prio = 0x80000000 - <u32>v;
    } else if (t == P_HYPHEN) {
      pnext();
      if (ppeek() != P_OFFSET) return pSyntax(EXP_P_PRIO);
      const v = atolSat(ptS, ptE); pnext();
      if (ppeek() != P_ACTION) return pSyntax(EXP_P_ACTION);
      pol_type = pNum; pnext();
      if (v > 2147483647) return pFail(27);
      pol_prio = 0x80000000 + <u32>v;
    } else if (t == P_PRIO_BASE) {
      const base = pNum; pnext();
      t = ppeek();
      if (t == P_ACTION) { pol_type = pNum; pnext(); pol_prio = base; }
      else if (t == P_PLUS || t == P_HYPHEN) {
        pnext();
        if (ppeek() != P_OFFSET) return pSyntax(EXP_P_PRIO);
        const v = atolSat(ptS, ptE); pnext();
        if (ppeek() != P_ACTION) return pSyntax(EXP_P_ACTION);
        pol_type = pNum; pnext();
        if (t == P_PLUS) { if (v > 0x40000000) return pFail(28); pol_prio = base - <u32>v; }
        else { if (v > 0x3fffffff) return pFail(28); pol_prio = base + <u32>v; }
      } else return pSyntax(EXP_P_ACTION);
    } else return pSyntax(EXP_P_PRIO);
  } else {
    // bison reduces `policy_spec: DIR` by default, then finds the token unexpected
    ipsecErr = 0;
    return pSyntax(EXP_P_ACTION);
  }
  ipsecErr = 0;
  while (true) {
    t = ppeek();
    if (t == P_EOF) break;
    if (t != P_PROTOCOL) return pSyntax(EXP_P_RULE);
    if (pRule()) return 1;
  }
  ipsecErr = 0;
  return 0;
}

// ---------------------------------------------------------------- commands (parse.y)
function ipaddropts(): void {
  while (peek() == T_F_AIFLAGS) {
    next();
    for (let i = tS + 1; i < tE; i++) {
      const c = ch(i);
      if (c == 0x34) p_aifamily = AF_INET;
      else if (c == 0x36) p_aifamily = AF_INET6;
      else p_aiflags_numeric = true;
    }
  }
}
/** portstr: [ "[" (any | DECSTRING | STRING) "]" ]; sets pk*; returns 1 on a syntax error. */
let pkKind: i32 = PK_NONE;
let pkNum: u64 = 0;
let pkS: u32 = 0;
let pkE: u32 = 0;
function portstr(): i32 {
  pkKind = PK_NONE; pkNum = 0;
  if (peek() != T_BLCL) return 0;
  next();
  const t = peek();
  if (t == T_ANY) { pkKind = PK_NONE; }
  else if (t == T_DECSTRING) { pkKind = PK_NUM; pkNum = tNum; }
  else if (t == T_STRING) { pkKind = PK_NAME; pkS = tS; pkE = tE; }
  else return syntaxError(EXP_PORT);
  next();
  if (peek() != T_ELCL) return syntaxError(EXP_RBRACKET);
  next();
  return 0;
}
/** ipandport: STRING [portstr] → list; returns count (0 = failed, diagnostic recorded). */
function ipandport(list: usize): u32 {
  if (peek() != T_STRING) { syntaxError(EXP_ADDRESS); return 0; }
  const hs = tS; const he = tE; next();
  if (peek() == T_BLCL) {
    if (portstr()) return 0;
  } else { pkKind = PK_NONE; }
  return parseAddr(hs, he, pkKind, pkNum, pkS, pkE, list);
}
/** protocol_spec; returns satype, or -1 after an error. */
function protocolSpec(allowOa: bool): i32 {
  const t = peek();
  if (t == T_PR_ESP || t == T_PR_AH) {
    next();
    if (tNum == 1) p_ext |= EXT_OLD; else p_ext &= ~EXT_OLD;
    return t == T_PR_ESP ? SATYPE_ESP : SATYPE_AH;
  }
  if (t == T_PR_IPCOMP) { next(); return SATYPE_IPCOMP; }
  if (t == T_PR_ESPUDP) {
    next();
    p_ext &= ~EXT_OLD;
    p_natt_type = 2;
    p_natt_oa = false; nOa = 0;
    if (allowOa && peek() == T_STRING) {
      const hs = tS; const he = tE; next();
      const n = parseAddr(hs, he, PK_NONE, 0, 0, 0, LIST_OA);
      if (n == 0) return -1;
      nOa = n; p_natt_oa = true;
    }
    return SATYPE_ESP;
  }
  if (t == T_PR_TCP) { next(); return 0; } // no SADB_X_SATYPE_TCPSIGNATURE on Linux: $$ = $1 = 0
  return 0;
}
function spi(): i32 {
  const t = peek();
  if (t == T_DECSTRING) { p_spi = <u32>tNum; next(); return 0; }
  if (t == T_HEXSTRING) {
    // strtoul(…, 16): saturates at ULONG_MAX; the "SPI too big." check never fires on LP64 (0xffffffff & ~0xffffffff == 0)
    p_spi = <u32>hexValue(tS + 2, tE); next(); return 0;
  }
  return syntaxError(EXP_SPI);
}
function decArg(): i32 { if (peek() != T_DECSTRING) return syntaxError(EXP_DECIMAL); next(); return 0; }
function ctxSpec(): i32 {
  // SECURITY_CTX DECSTRING DECSTRING QUOTEDSTRING (the SECURITY_CTX token is consumed by the caller)
  if (decArg()) return 1;
  const doi = <u32>tNum & 0xff;
  if (decArg()) return 1;
  const alg = <u32>tNum & 0xff;
  if (peek() != T_QUOTED) return syntaxError(EXP_QUOTED);
  next();
  const n = yE - yS;
  for (let i = yS; i < yE; i++) if (ch(i) == 0) { yyerror(DIAG_NUL, 0); return 1; }
  const off = append(REGION_BLOB, n + 1);
  memory.copy(at(REGION_BLOB, off), B + yS, n);
  // The IR keeps the label without its NUL (layout.ts: R_CTX_LEN); the encoders add it, as setkey and ip send it.
  ctx_doi = doi; ctx_alg = alg; ctx_len = n & 0xffff; ctx_off = off;
  return 0;
}
/** extension_spec of add/get/delete. */
function extensions(): i32 {
  while (true) {
    const t = peek();
    if (t == T_F_EXT) {
      next();
      const u = peek();
      if (u == T_EXTENSION) { p_ext |= <u32>tNum; next(); }
      else if (u == T_NOCYCLICSEQ) { p_ext &= ~EXT_CYCSEQ; next(); }
      else return syntaxError(EXP_PADFLAG);
    } else if (t == T_F_MODE) {
      next();
      const u = peek();
      if (u == T_MODEKW) { p_mode = <u32>tNum; next(); }
      else if (u == T_ANY) { p_mode = 0; next(); }
      else return syntaxError(EXP_MODE);
    } else if (t == T_F_REQID) {
      next(); if (decArg()) return 1; p_reqid = <u32>tNum;
    } else if (t == T_F_REPLAY) {
      next(); if (decArg()) return 1;
      if ((p_ext & EXT_OLD) != 0) { yyerror(DIAG_REPLAY_OLD, 0); return 1; }
      p_replay = <u32>tNum;
    } else if (t == T_F_LT_HARD) { next(); if (decArg()) return 1; p_lt_hard = tNum; }
    else if (t == T_F_LT_SOFT) { next(); if (decArg()) return 1; p_lt_soft = tNum; }
    else if (t == T_F_LB_HARD) { next(); if (decArg()) return 1; p_lb_hard = tNum; }
    else if (t == T_F_LB_SOFT) { next(); if (decArg()) return 1; p_lb_soft = tNum; }
    else if (t == T_SECCTX) { next(); if (ctxSpec()) return 1; }
    else return 0;
  }
}
function authAlg(): i32 {
  const t = peek();
  if (t == T_ALG_AUTH) {
    const id = <u32>tNum; next();
    if (keyString(true)) return 1;
    p_alg_auth = id;
    return checkKeylen(1, id, p_key_auth_len);
  }
  if (t == T_ALG_AUTH_NOKEY) {
    p_alg_auth = <u32>tNum; next();
    p_key_auth = false; p_key_auth_len = 0;
    return 0;
  }
  return syntaxError(EXP_AUTH_ALG);
}
function encAlg(): i32 {
  const t = peek();
  const id = <u32>tNum;
  if (t == T_ALG_ENC_NOKEY || t == T_ALG_ENC_OLD) {
    next();
    if (t == T_ALG_ENC_OLD) diagAt(DIAG_W_OLD_ALG, yS, yE, 0, SEV_WARNING);
    p_alg_enc = id;
    p_key_enc = true; p_key_enc_len = 0; p_key_enc_off = 0;
    return checkKeylen(2, id, 0);
  }
  if (t == T_ALG_ENC || t == T_ALG_ENC_DESDERIV || t == T_ALG_ENC_DES32IV) {
    next();
    if (keyString(false)) return 1;
    p_alg_enc = id;
    if (t == T_ALG_ENC_DESDERIV) {
      if (p_ext & EXT_OLD) { yyerror(DIAG_ALG_MISMATCH, 0); return 1; }
      p_ext |= EXT_DERIV;
    } else if (t == T_ALG_ENC_DES32IV) {
      if (!(p_ext & EXT_OLD)) { yyerror(DIAG_ALG_MISMATCH, 0); return 1; }
      p_ext |= EXT_IV4B;
    }
    return checkKeylen(2, id, p_key_enc_len);
  }
  return syntaxError(EXP_ENC_ALG);
}
function algorithmSpec(): i32 {
  const t = peek();
  if (t == T_F_ENC) {
    next();
    if (encAlg()) return 1;
    if (peek() == T_F_AUTH) { next(); if (authAlg()) return 1; }
    return 0;
  }
  if (t == T_F_AUTH) { next(); return authAlg(); }
  if (t == T_F_COMP) {
    next();
    if (peek() != T_ALG_COMP) return syntaxError(EXP_COMP_ALG);
    p_alg_enc = <u32>tNum; next();
    if (peek() == T_F_RAWCPI) { next(); p_ext |= EXT_RAWCPI; }
    return 0;
  }
  return syntaxError(EXP_EXT_OR_ALG);
}
function expectEot(exp: u32): i32 {
  if (peek() != T_EOT) return syntaxError(exp);
  next();
  return 0;
}

/** add | get | delete */
function cmdSa(kind: i32): i32 {
  ipaddropts();
  nSrc = ipandport(LIST_SRC); if (nSrc == 0) return 1;
  nDst = ipandport(LIST_DST); if (nDst == 0) return 1;
  const t = peek();
  if (t != T_PR_ESP && t != T_PR_AH && t != T_PR_IPCOMP && t != T_PR_ESPUDP && t != T_PR_TCP &&
      t != T_DECSTRING && t != T_HEXSTRING) return syntaxError(EXP_PROTO_OR_SPI);
  const satype = protocolSpec(true);
  if (satype < 0) return 1;
  if (spi()) return 1;
  if (extensions()) return 1;
  if (kind == T_ADD) {
    if (algorithmSpec()) return 1;
    if (expectEot(EXP_SEMI)) return 1;
  } else {
    if (expectEot(EXP_SEMI)) return 1;
  }
  if (kind == T_ADD) {
    const before = regionLen(REGION_RECORDS);
    emitAdd(<u32>satype);
    if (regionLen(REGION_RECORDS) == before) { yyerror(DIAG_NO_PAIR, 0); return 1; }
    return 0;
  }
  if (kind == T_DELETE) {
    if (nSrc > 1 || nDst > 1) { yyerror(DIAG_MULTI_ADDR, 0); return 1; }
  }
  if (p_mode != 0) diagAt(DIAG_W_MODE, yS, yE, 0, SEV_WARNING);
  const n = emitAddrOp(kind == T_GET ? OP_SA_GET : OP_SA_DELETE, <u32>satype);
  if (n == 0) { yyerror(DIAG_NO_PAIR, 0); return 1; }
  return 0;
}
function ipaddrOnly(list: usize): u32 {
  if (peek() != T_STRING) { syntaxError(EXP_ADDRESS); return 0; }
  const hs = tS; const he = tE; next();
  return parseAddr(hs, he, PK_NONE, 0, 0, 0, list);
}
function cmdDeleteall(): i32 {
  ipaddropts();
  nSrc = ipaddrOnly(LIST_SRC); if (nSrc == 0) return 1;
  nDst = ipaddrOnly(LIST_DST); if (nDst == 0) return 1;
  const t = peek();
  if (t != T_PR_ESP && t != T_PR_AH && t != T_PR_IPCOMP && t != T_PR_ESPUDP && t != T_PR_TCP && t != T_EOT)
    return syntaxError(EXP_PROTO_ONLY);
  const satype = protocolSpec(true);
  if (satype < 0) return 1;
  if (expectEot(EXP_SEMI)) return 1;
  // Linux setkey: SADB_DUMP of satype, then SADB_DELETE per SPI whose src and dst match (one record; engine emulates)
  for (let si: u32 = 0; si < nSrc; si++) for (let di: u32 = 0; di < nDst; di++) {
    if (lFam(LIST_SRC, si) != lFam(LIST_DST, di)) continue;
    const rec = newRecord(OP_SA_DELETEALL);
    fillSa(rec, <u32>satype, si, di);
    const r = rp(rec);
    store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) & ~RF_HAS_SPI);
    store<u32>(r + R_SPI, 0);
    return 0;
  }
  return 0;
}
function cmdFlushDump(kind: i32): i32 {
  const t = peek();
  if (t != T_PR_ESP && t != T_PR_AH && t != T_PR_IPCOMP && t != T_PR_ESPUDP && t != T_PR_TCP && t != T_EOT)
    return syntaxError(EXP_PROTO_ONLY);
  const satype = protocolSpec(true);
  if (satype < 0) return 1;
  if (expectEot(EXP_SEMI)) return 1;
  const rec = newRecord(kind == T_FLUSH ? OP_SA_FLUSH : OP_SA_DUMP);
  const r = rp(rec);
  const proto = satypeProto(<u32>satype);
  store<u8>(r + R_SATYPE, <u8>satype);
  store<u8>(r + R_PROTO, <u8>(satype == 0 ? IPSEC_PROTO_ANY : proto));
  if (satype != 0) store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) | RF_HAS_PROTO);
  return 0;
}

/** sscanf("%d") at [s, e): returns the count of chars used (0 = no match) and the value in scanVal. */
let scanVal: i32 = 0;
function scanInt(s: u32, e: u32): u32 {
  let i = s; let neg = false;
  if (i < e && (ch(i) == 0x2b || ch(i) == 0x2d)) { neg = ch(i) == 0x2d; i++; }
  const ds = i;
  let v: u64 = 0;
  while (i < e && isDigit(ch(i))) { if (v < 0x7fffffffffffffff / 10) v = v * 10 + <u64>(ch(i) - 0x30); else v = 0x7fffffffffffffff; i++; }
  if (i == ds) return 0;
  scanVal = <i32><u32>(neg ? 0 - v : v);
  return i - s;
}
/** Ports replaced by fix_portstr() (as "%d" strings, resolved by getaddrinfo): value or -1 (uninitialised). */
let fixS: i64 = 0;
let fixD: i64 = 0;
function fixPortstr(ulproto: i32, ms: u32, me: u32): i32 {
  fixS = -2; fixD = -2; // -2: not replaced
  if (ms == me) return 0;
  if (ulproto == 1 || ulproto == 58 || ulproto == 135) {
    const n1 = scanInt(ms, me);
    if (n1 == 0) { yyerror(DIAG_BAD_UPPER_SPEC, 0); return 1; }
    fixS = scanVal;
    if (ms + n1 < me && ch(ms + n1) == 0x2c) {
      const n2 = scanInt(ms + n1 + 1, me);
      if (n2 > 0) { fixD = scanVal; return 0; }
    }
    fixD = -1;
    diagAt(DIAG_NOTE_UNINIT, ms, me, 1, SEV_NOTE);
    return 0;
  }
  if (ulproto == 47) {
    let i = ms; let cnt = 0; let a: i32 = 0; let b: i32 = 0; let c: i32 = 0; let d: i32 = 0;
    while (cnt < 4) {
      const n = scanInt(i, me);
      if (n == 0) break;
      if (cnt == 0) a = scanVal; else if (cnt == 1) b = scanVal; else if (cnt == 2) c = scanVal; else d = scanVal;
      cnt++; i += n;
      if (cnt < 4) { if (i < me && ch(i) == 0x2e) i++; else break; }
    }
    if (cnt == 4) { fixS = <i64>((a << 8) + b); fixD = <i64>((c << 8) + d); return 0; }
    // sscanf("%lu"): optional sign, digits
    let j = ms; let neg = false;
    if (j < me && (ch(j) == 0x2b || ch(j) == 0x2d)) { neg = ch(j) == 0x2d; j++; }
    const ds = j;
    while (j < me && isDigit(ch(j))) j++;
    if (j == ds) { yyerror(DIAG_BAD_UPPER_SPEC, 0); return 1; }
    let u = decValue(ds, j);
    if (neg) u = 0 - u;
    fixS = <i64><i32><u32>(u >> 16);
    fixD = <i64>(<i32>(u & 0xffff));
    return 0;
  }
  fixS = -1; fixD = -1;
  diagAt(DIAG_NOTE_UNINIT, ms, me, 0, SEV_NOTE);
  return 0;
}
function portFromFix(v: i64, kind: i32, num: u64): void {
  if (v == -2) return;
  if (v == -1) { pkKind = PK_NONE; pkNum = 0; return; }
  pkKind = PK_NUM; pkNum = <u64><u32><i32>v;
  if (<i32>v < 0) pkNum = 0xffffffff; // "%d" of a negative → strtoul wraps → (int) negative → EAI_SERVICE
}

function fillSelector(rec: u32, upper: u32, splen: i32, dplen: i32): void {
  const r = rp(rec);
  const fam = lFam(LIST_SRC, 0);
  const full: i32 = fam == AF_INET ? 32 : 128;
  const sel = r + R_SEL;
  copyAddr(sel + SEL_DADDR, LIST_DST, 0);
  copyAddr(sel + SEL_SADDR, LIST_SRC, 0);
  const dp = lPort(LIST_DST, 0);
  const sp = lPort(LIST_SRC, 0);
  store<u16>(sel + SEL_DPORT, bswap<u16>(<u16>dp));
  store<u16>(sel + SEL_DPORT_MASK, dp != 0 ? 0xffff : 0);
  store<u16>(sel + SEL_SPORT, bswap<u16>(<u16>sp));
  store<u16>(sel + SEL_SPORT_MASK, sp != 0 ? 0xffff : 0);
  store<u16>(sel + SEL_FAMILY, <u16>fam);
  store<u8>(sel + SEL_PREFIXLEN_D, <u8>(dplen >= 0 ? dplen : full));
  store<u8>(sel + SEL_PREFIXLEN_S, <u8>(splen >= 0 ? splen : full));
  const up = upper & 0xff;
  store<u8>(sel + SEL_PROTO, <u8>(up == 255 ? 0 : up));
  store<u8>(r + R_FAMILY, <u8>fam);
}
function emitPolicy(op: u32, upper: u32, splen: i32, dplen: i32, isFwd: bool): void {
  const rec = newRecord(op);
  fillSelector(rec, upper, splen, dplen);
  let r = rp(rec);
  const dir = isFwd ? 3 : pol_dir;
  store<u8>(r + R_DIR, <u8>(dir - 1));
  store<u8>(r + R_ACTION, pol_type == 0 ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW);
  store<u32>(r + R_PRIORITY, pol_prio);
  store<u32>(r + R_AUX, pol_type);
  // af_key pfkey_spdadd: byte and packet limits XFRM_INF, times 0
  store<u64>(r + R_LFT + LFT_SOFT_BYTE, XFRM_INF);
  store<u64>(r + R_LFT + LFT_HARD_BYTE, XFRM_INF);
  store<u64>(r + R_LFT + LFT_SOFT_PACKET, XFRM_INF);
  store<u64>(r + R_LFT + LFT_HARD_PACKET, XFRM_INF);
  let flags: u32 = RF_HAS_SEL | RF_HAS_DIR | RF_HAS_PRIORITY;
  let aux2: u32 = 0;
  if (pol_type > 2 && op != OP_SP_DELETE) aux2 |= SKX_EINVAL; // entrust/bypass: af_key pfkey_spdadd EINVAL
  if (isFwd) flags |= RF_RFC_FWD;
  if (ctx_doi != 0) {
    flags |= RF_HAS_CTX;
    store<u8>(r + R_CTX_DOI, <u8>ctx_doi);
    store<u8>(r + R_CTX_ALG, <u8>ctx_alg);
    store<u32>(r + R_CTX_OFF, ctx_off);
    store<u32>(r + R_CTX_LEN, ctx_len);
  }
  if (pol_type == 2 && pol_ntmpl > 0 && op != OP_SP_DELETE) {
    let toff = pol_tmplOff;
    const fam = lFam(LIST_SRC, 0);
    if (isFwd && pol_firstLevel == 3) {
      // RFC mode: the fwd copy's first request becomes `require` with reqid 0 (parse.y setkeymsg_spdaddr)
      const bytes = pol_ntmpl * TMPL_SIZE;
      toff = append(REGION_BLOB, bytes);
      memory.copy(at(REGION_BLOB, toff), at(REGION_BLOB, pol_tmplOff), bytes);
      const t = at(REGION_BLOB, toff);
      store<u8>(t + T_LEVEL, 2);
      store<u32>(t + T_REQID, 0);
      store<u8>(t + T_XFLAGS, load<u8>(t + T_XFLAGS) & ~(<u8>TF_AUTO_REQID));
    }
    for (let i: u32 = 0; i < pol_ntmpl; i++) {
      const t = at(REGION_BLOB, toff + i * TMPL_SIZE);
      if (load<u8>(t + T_MODE) == 0) store<u16>(t + T_FAMILY, <u16>fam); // encap_family = the selector's
    }
    r = rp(rec);
    store<u32>(r + R_TMPL_OFF, toff);
    store<u32>(r + R_TMPL_COUNT, pol_ntmpl);
  }
  if (isFwd && pol_nreq == 0) {
    // No request: setkey's "first request" pointer reads the SRC address extension. A prefix length of 3 (read as
    // IPSEC_LEVEL_UNIQUE) makes it write level 2 and zero the sockaddr's family: af_key then answers EINVAL.
    const sel = r + R_SEL;
    const splenB = <u32>load<u8>(sel + SEL_PREFIXLEN_S);
    if (splenB == 3) { store<u8>(sel + SEL_PREFIXLEN_S, 2); aux2 |= SKX_EINVAL; }
  }
  store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) | flags);
  store<u32>(r + R_AUX2, load<u32>(r + R_AUX2) | aux2);
}

/** spdadd | spdupdate | spddelete */
function cmdSpd(kind: i32): i32 {
  const op: u32 = kind == T_SPDADD ? OP_SP_ADD : kind == T_SPDUPDATE ? OP_SP_UPDATE : OP_SP_DELETE;
  if (kind != T_SPDDELETE && peek() == T_TAGGED) {
    next();
    if (peek() != T_QUOTED) return syntaxError(EXP_QUOTED);
    next();
    if (peek() != T_F_POLICY) return syntaxError(EXP_POLICY);
    next();
    if (peek() != T_PL) return syntaxError(EXP_P_DIR);
    next();
    if (parsePolicy(tS, tE)) return 1;
    if (expectEot(EXP_SEMI)) return 1;
    const rec = newRecord(op);
    const r = rp(rec);
    store<u8>(r + R_DIR, <u8>(pol_dir - 1));
    store<u8>(r + R_ACTION, pol_type == 0 ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW);
    store<u32>(r + R_PRIORITY, pol_prio);
    store<u32>(r + R_AUX, pol_type);
    store<u32>(r + R_AUX2, SKX_TAGGED | SKX_EINVAL);
    store<u32>(r + R_FLAGS, load<u32>(r + R_FLAGS) | RF_HAS_DIR | RF_HAS_PRIORITY);
    if (pol_ntmpl > 0) { store<u32>(r + R_TMPL_OFF, pol_tmplOff); store<u32>(r + R_TMPL_COUNT, pol_ntmpl); }
    return 0;
  }
  ipaddropts();
  // STRING prefix portstr (src)
  if (peek() != T_STRING) return syntaxError(kind == T_SPDDELETE ? EXP_ADDRESS : EXP_SPD_ADDR);
  const shs = tS; const she = tE; next();
  let splen: i32 = -1;
  if (peek() == T_SLASH) { next(); if (decArg()) return 1; splen = <i32><u32>tNum; }
  if (portstr()) return 1;
  let sKind = pkKind; let sNum = pkNum; const sS = pkS; const sE = pkE;
  if (peek() != T_STRING) return syntaxError(EXP_ADDRESS);
  const dhs = tS; const dhe = tE; next();
  let dplen: i32 = -1;
  if (peek() == T_SLASH) { next(); if (decArg()) return 1; dplen = <i32><u32>tNum; }
  if (portstr()) return 1;
  let dKind = pkKind; let dNum = pkNum; const dS = pkS; const dE = pkE;
  // upper_spec
  let upper: u32 = 0;
  let t = peek();
  if (t == T_DECSTRING) { upper = <u32>tNum; next(); }
  else if (t == T_ANY) { upper = 255; next(); }
  else if (t == T_PR_TCP) { upper = 6; next(); }
  else if (t == T_STRING) {
    next();
    const ent = findName(NK_PROTO, 0, B + tS, tE - tS);
    if (ent != 0) upper = load<u32>(ent + 4);
    else if (kw(tS, tE - tS, "icmp6")) upper = 58;
    else if (kw(tS, tE - tS, "ip4")) upper = 4;
    else { yyerror(DIAG_BAD_UPPER, 0); return 1; }
  } else return syntaxError(EXP_UPPER);
  // upper_misc_spec
  let ms: u32 = 0; let me: u32 = 0;
  if (peek() == T_STRING) { ms = tS; me = tE; next(); }
  // context_spec
  if (peek() == T_SECCTX) { next(); if (ctxSpec()) return 1; }
  if (peek() != T_F_POLICY) return syntaxError(EXP_POLICY);
  next();
  if (peek() != T_PL) return syntaxError(EXP_P_DIR);
  next();
  if (parsePolicy(tS, tE)) return 1;
  if (expectEot(EXP_SEMI)) return 1;
  // the action, with yytext = the policy text and ';' (yymore)
  if (fixPortstr(<i32>upper, ms, me)) return 1;
  pkKind = sKind; pkNum = sNum; portFromFix(fixS, sKind, sNum); sKind = pkKind; sNum = pkNum;
  pkKind = dKind; pkNum = dNum; portFromFix(fixD, dKind, dNum); dKind = pkKind; dNum = pkNum;
  nSrc = parseAddr(shs, she, sKind, sNum, sS, sE, LIST_SRC);
  if (nSrc == 0) return 1;
  nDst = parseAddr(dhs, dhe, dKind, dNum, dS, dE, LIST_DST);
  if (nDst == 0) return 1;
  if (nSrc > 1 || nDst > 1) { yyerror(DIAG_MULTI_ADDR, 0); return 1; }
  if (lFam(LIST_SRC, 0) != lFam(LIST_DST, 0)) { yyerror(DIAG_NO_PAIR, 0); return 1; }
  emitPolicy(op, upper, splen, dplen, false);
  if (rfcMode && pol_dir == 1) emitPolicy(op, upper, splen, dplen, true);
  return 0;
}

/** One statement at the lookahead: 0 ok, 1 error, 3 exit. */
function command(): i32 {
  const t = peek();
  next();
  if (t == T_ADD || t == T_GET || t == T_DELETE) return cmdSa(t);
  if (t == T_DELETEALL) return cmdDeleteall();
  if (t == T_FLUSH || t == T_DUMP) return cmdFlushDump(t);
  if (t == T_SPDADD || t == T_SPDUPDATE || t == T_SPDDELETE) return cmdSpd(t);
  if (t == T_SPDDUMP || t == T_SPDFLUSH) {
    if (expectEot(EXP_SEMI)) return 1;
    newRecord(t == T_SPDDUMP ? OP_SP_DUMP : OP_SP_FLUSH);
    return 0;
  }
  if (t == T_EXIT) {
    if (expectEot(EXP_SEMI)) return 1;
    newRecord(OP_EXIT);
    return 3;
  }
  hasLook = true; // not consumed: bison reports it
  return syntaxError(EXP_COMMAND);
}

/** Runs `commands` over [pos, N) (a whole file, or one -c chunk). */
function commands(): void {
  while (!stopped) {
    const t = peek();
    if (t == T_EOF || t == T_FATAL) return;
    stmtStart = tS;
    const r = command();
    if (stopped && r != 3) return; // lexer fatal inside the statement
    stmtNo++;
    if (r == 3) { stopped = true; return; }
    if (r == 0) { parseInit(); continue; }
    if (stdinMode) return; // yyparse() returned; the p_* state and the start condition stay as they are
    // -f: setkey stops here; we resynchronise after the next ';' to report later errors too
    sc = SC_INITIAL; moreFlag = false;
    if (!(lastWasEot && !hasLook)) skipToEot();
    parseInit();
  }
}
function skipToEot(): void {
  if (hasLook && tk == T_EOT) { next(); return; }
  hasLook = false;
  while (pos < N) {
    const c = ch(pos);
    if (c == 0x3b) { pos++; return; }
    if (c == 10) lineno++;
    if (c == 0x23) { while (pos < N && ch(pos) != 10) pos++; continue; }
    if (c == 0x22) { // a quoted string may hide a ';'
      let l: u32 = 1; while (pos + l < N && ch(pos + l) != 0x22) l++;
      if (pos + l < N) { pos += l + 1; continue; }
    }
    pos++;
  }
}

// ---------------------------------------------------------------- -c: setkey.c stdin_loop() (fgets 1024, no readline)
/** Builds the text setkey's parse_string() sees; returns its length. Chunks end after each ';'. */
function buildStdin(len: u32, dst: usize, map: usize): u32 {
  let o: u32 = 0;
  let pendStart: u32 = 0;   // start of the text not yet handed to parse_string
  let i: u32 = 0;
  while (i < len) {
    // fgets(rbuf, 1024): up to 1023 bytes, through '\n'
    const ls = i;
    let le = i;
    while (le < len && le - ls < 1023) { const c = load<u8>(IN0 + le); le++; if (c == 10) break; }
    i = le;
    let ce = le;
    if (ce > ls && load<u8>(IN0 + ce - 1) == 10) ce--;
    // strlen stops at NUL; strchr('#') cuts
    for (let k = ls; k < ce; k++) { const c = load<u8>(IN0 + k); if (c == 0 || c == 0x23) { ce = k; break; } }
    if (ce == ls) continue;
    if (o > pendStart) { store<u8>(dst + o, 0x20); store<u32>(map + (<usize>o << 2), ls); o++; }
    if (o - pendStart + (ce - ls) > 1023) {
      // setkey's 1024-byte line buffer would overflow (snprintf truncates, then writes past it)
      const save = MAP; MAP = 0; B = IN0;
      diagAt(DIAG_STDIN_LONG, ls, ce, 1023, SEV_ERROR);
      MAP = save;
      return pendStart;
    }
    for (let k = ls; k < ce; k++) {
      const c = load<u8>(IN0 + k);
      store<u8>(dst + o, c); store<u32>(map + (<usize>o << 2), k); o++;
      if (c == 0x3b) pendStart = o;
    }
  }
  store<u32>(map + (<usize>o << 2), len);
  if (o > pendStart) {
    let blank = true;
    for (let k = pendStart; k < o; k++) if (load<u8>(dst + k) != 0x20 && load<u8>(dst + k) != 9) { blank = false; break; }
    if (!blank) {
      const save = MAP; const sb = B; MAP = map; B = dst;
      diagAt(DIAG_NOTE_UNTERMINATED, pendStart, o, 0, SEV_NOTE);
      MAP = save; B = sb;
    }
  }
  return pendStart;
}

// ---------------------------------------------------------------- exports
let lastFatal = false;
let lastFirstError: i32 = -1;

/**
 * Parses REGION_INPUT[0, len) as setkey input. flags: SKF_RFC (1) RFC mode, SKF_STDIN (2) -c semantics,
 * SKF_NAMES (4) a name block follows the text at align4(len) (asm/shared/setkey-diag.ts). Resets REGION_RECORDS,
 * REGION_BLOB and REGION_DIAG. Returns the number of statements seen (applied or failed).
 */
export function setkeyParse(len: u32, flags: u32): u32 {
  resetRegion(REGION_RECORDS);
  resetRegion(REGION_BLOB);
  resetRegion(REGION_DIAG);
  rfcMode = (flags & SKF_RFC) != 0;
  stdinMode = (flags & SKF_STDIN) != 0;
  const total = regionLen(REGION_INPUT);
  if (len > total) len = total;
  INLEN = len;
  // where the name block sits, as offsets (the region may move when we reserve below)
  let namesOff: u32 = 0; let namesEndOff: u32 = 0;
  if ((flags & SKF_NAMES) != 0) {
    const a = (len + 3) & ~3;
    if (a + 8 <= total && load<u32>(regionPtr(REGION_INPUT) + a) == SK_NAMES_MAGIC) {
      namesOff = a + 8; namesEndOff = total;
    }
  }
  // scratch after the input: hash index, then the -c text and its offset map
  let hashBytes: u32 = 0;
  if (namesOff != 0) {
    let count: u32 = 0;
    const base = regionPtr(REGION_INPUT);
    for (let e = base + namesOff; e < base + namesEndOff; e += entSize(e)) count++;
    let cap: u32 = 16; while (cap < count * 2) cap <<= 1;
    HASH_MASK = cap - 1; hashBytes = cap * 4;
  }
  const stdinBytes: u32 = stdinMode ? (len + len / 1023 + 16) * 5 + 8 : 0;
  const scratchOff = regionLen(REGION_INPUT);
  reserve(REGION_INPUT, hashBytes + stdinBytes + 16);
  commit(REGION_INPUT, hashBytes + stdinBytes + 16);
  IN0 = regionPtr(REGION_INPUT);
  NAMES = namesOff != 0 ? IN0 + namesOff : 0;
  NAMES_END = namesOff != 0 ? IN0 + namesEndOff : 0;
  HASH = 0;
  if (hashBytes != 0) {
    HASH = IN0 + scratchOff;
    memory.fill(HASH, 0, hashBytes);
    indexNames();
  }
  for (let i = 0; i < 32; i++) unchecked(algNameOff[i] = 0xffffffff);
  fatal = false; stopped = false; stmtNo = 0; firstErrStmt = -1; ipsecErr = 0;
  lineCurOff = 0; lineCurLine = 1;
  sc = SC_INITIAL; moreFlag = false; hasLook = false; lastWasEot = false; lineno = 1;
  parseInit();
  if (!stdinMode) {
    MAP = 0; B = IN0; N = len; pos = 0;
    commands();
  } else {
    lineno = 0; // setkey never sets lineno in -c mode: messages say `line 0`
    const tb = IN0 + scratchOff + hashBytes;
    const mapb = (tb + <usize>(len + len / 1023 + 16) + 3) & ~(<usize>3);
    B = IN0; MAP = 0;
    const n = buildStdin(len, tb, mapb);
    B = tb; MAP = mapb;
    let cs: u32 = 0;
    for (let k: u32 = 0; k < n && !stopped && !fatal; k++) {
      if (load<u8>(tb + k) != 0x3b) continue;
      pos = cs; N = k + 1; moreFlag = false; hasLook = false;
      commands();
      cs = k + 1;
    }
    MAP = 0; B = IN0;
  }
  lastFatal = fatal;
  lastFirstError = firstErrStmt;
  return stmtNo;
}

/** 1 if the last setkeyParse stopped on the lexer's fatal `Syntax error` (setkey exits 1 at once). */
export function setkeyParseFatal(): u32 { return lastFatal ? 1 : 0; }
/** Statement index of the first error of the last setkeyParse, or -1. */
export function setkeyParseFirstError(): i32 { return lastFirstError; }
