// asm/shared/setkey-diag.ts — setkey parser diagnostic codes and setkey-record conventions, shared by asc and tsc.
// Owns: DIAG_* codes (D_CODE of REGION_DIAG entries made by asm/src/setkey-parse.ts), EXP_* "what was expected"
// codes, SEV_* severities, SKX_* bits of R_AUX2 in setkey records, the name-block format, and the libipsec error
// strings (ipsec-tools 0.8.2 src/libipsec/ipsec_strerror.c). Plain consts and literal arrays only.

// ---- Severities (D_SEVERITY) ----
export const SEV_ERROR = 0;    // setkey reports it and the statement is not applied
export const SEV_WARNING = 1;  // setkey prints it through yyerror and goes on (`WARNING: ...`)
export const SEV_NOTE = 2;     // keyfleet only: setkey prints nothing (undefined behaviour made explicit)
export const SEV_INTERNAL = 3; // keyfleet only: a request to the TypeScript wrapper (DIAG_NEED_HOST)

// ---- Diagnostic codes (D_CODE). D_START/D_END = the text setkey prints in `at [...]` (its yytext). ----
export const DIAG_SYNTAX = 1;          // bison "syntax error"; D_ARG = EXP_* code
export const DIAG_LEX_FATAL = 2;       // lexer yyfatal("Syntax error"): setkey exits 1 at once, even with -c
export const DIAG_MULTI_ADDR = 3;      // "multiple address specified"
export const DIAG_ALG_MISMATCH = 4;    // "algorithm mismatched" (des-deriv with *-old, des-32iv without)
export const DIAG_REPLAY_OLD = 5;      // "replay prevention cannot be used with ah/esp-old"
export const DIAG_BAD_UPPER = 6;       // "invalid upper layer protocol"
export const DIAG_BAD_UPPER_SPEC = 7;  // "invalid an upper layer protocol spec"
export const DIAG_W_MODE = 8;          // warning "WARNING: mode is obsolete" (-m on get/delete)
export const DIAG_W_OLD_ALG = 9;       // warning "WARNING: obsolete algorithm" (-E simple)
export const DIAG_GAI = 10;            // getaddrinfo failure; D_ARG = EAI_* (positive, see GAI_*)
export const DIAG_IPSEC = 11;          // libipsec error; D_ARG = __ipsec_errcode (message IPSEC_ERRSTR[code])
export const DIAG_KEYLEN = 12;         // "Invalid key length"; D_ARG = blob offset of u32 [bits, min, max]
export const DIAG_POLICY_SYNTAX = 13;  // libipsec grammar error; D_ARG = blob offset of u32 [errcode, tokStart, tokEnd, EXP_*]
export const DIAG_POLICY_ADDR = 14;    // libipsec "invalid IP address"; D_ARG = blob offset of u32 [EAI, tokStart, tokEnd]
export const DIAG_NO_PAIR = 15;        // no (src, dst) pair of one family: setkey fails silently ("parse failed" only)
export const DIAG_NOTE_UNINIT = 16;    // note: setkey uses an uninitialised port here (ICMP without code, other protocols)
export const DIAG_NUL = 17;            // NUL byte inside a quoted string (setkey: undefined behaviour) — refused
export const DIAG_STDIN_LONG = 18;     // -c: statement overflows setkey's 1024-byte line buffer — refused
export const DIAG_NOTE_UNTERMINATED = 19; // -c: text after the last ';' is never parsed by setkey
export const DIAG_TOO_MANY_ADDRS = 20; // a name resolved to more addresses than the parser keeps (64)
export const DIAG_NEED_HOST = 21;      // internal: resolve this name (D_ARG = requested family 0/2/10) and parse again
export const DIAG_COUNT = 22;

// ---- What would have been accepted (D_ARG of DIAG_SYNTAX, slot 3 of DIAG_POLICY_SYNTAX) ----
export const EXP_NONE = 0;
export const EXP_COMMAND = 1;      // a statement keyword
export const EXP_ADDRESS = 2;      // an address or host name
export const EXP_SPI = 3;          // an SPI
export const EXP_PROTO_OR_SPI = 4; // protocol keyword or SPI
export const EXP_EXT_OR_ALG = 5;   // an extension (-m -u -r -f -lh -ls -bh -bs -ctx) or an algorithm (-E -A -C)
export const EXP_AUTH_ALG = 6;     // an authentication algorithm name after -A
export const EXP_ENC_ALG = 7;      // an encryption algorithm name after -E
export const EXP_COMP_ALG = 8;     // a compression algorithm after -C
export const EXP_KEY = 9;          // a key ("text" or 0x hex)
export const EXP_SEMI = 10;        // ';'
export const EXP_AUTH_OR_SEMI = 11;// -A or ';'
export const EXP_DECIMAL = 12;     // a decimal number
export const EXP_MODE = 13;        // transport, tunnel or any
export const EXP_PADFLAG = 14;     // random-pad, seq-pad, zero-pad or nocyclic-seq
export const EXP_PORT = 15;        // a port: number, service name or any
export const EXP_RBRACKET = 16;    // ']'
export const EXP_UPPER = 17;       // an upper-layer protocol
export const EXP_POLICY = 18;      // -P policy
export const EXP_QUOTED = 19;      // a "quoted string"
export const EXP_PROTO_ONLY = 20;  // a protocol keyword or ';'
export const EXP_SPD_ADDR = 21;    // an address or `tagged` / address options
export const EXP_P_DIR = 22;       // policy: in, out or fwd
export const EXP_P_ACTION = 23;    // policy: discard, none, ipsec, entrust, bypass or priority
export const EXP_P_PRIO = 24;      // policy: a priority (number, -number, low/def/high [+-] number)
export const EXP_P_RULE = 25;      // policy: protocol/mode/src-dst/level or end of policy
export const EXP_P_ADDR = 26;      // policy: src-dst addresses, me-any or any-me
export const EXP_P_HYPHEN = 27;    // policy: '-' between the two endpoints
export const EXP_P_LEVEL = 28;     // policy: default, use, require, unique or unique:N
export const EXP_P_END = 29;       // policy: end of policy
export const EXP_P_PORT_PAIR = 30; // policy: both endpoints need [port]
export const EXP_COUNT = 31;

// ---- getaddrinfo errors (D_ARG of DIAG_GAI), positive EAI_* of glibc ----
export const GAI_NONAME = 2;     // "Name or service not known"
export const GAI_AGAIN = 3;      // "Temporary failure in name resolution"
export const GAI_FAIL = 4;       // "Non-recoverable failure in name resolution"
export const GAI_NODATA = 5;     // "No address associated with hostname"
export const GAI_SERVICE = 8;    // "Servname not supported for ai_socktype"
export const GAI_ADDRFAMILY = 9; // "Address family for hostname not supported"

// ---- R_AUX2 bits of setkey records (R_AUX = raw -r value for SAs, PF_KEY policy type for policies) ----
export const SKX_LFT_HARD = 1;   // setkey sends SADB_EXT_LIFETIME_HARD
export const SKX_LFT_SOFT = 2;   // setkey sends SADB_EXT_LIFETIME_SOFT
export const SKX_KEY_AUTH = 4;   // setkey sends SADB_EXT_KEY_AUTH
export const SKX_KEY_ENC = 8;    // setkey sends SADB_EXT_KEY_ENCRYPT
export const SKX_ENOSYS = 16;    // af_key answers ENOSYS (algorithm id the kernel does not know)
export const SKX_TAGGED = 32;    // `spdadd tagged`: no addresses are sent
export const SKX_EINVAL = 64;    // af_key answers EINVAL for setkey's message (XFRM backends must report EINVAL too)
export const SKX_NATT_OA = 128;  // esp-udp with an original address (R_ENCAP_OA)

// ---- Name block (TypeScript → setkeyParse, flags bit SKF_NAMES): after the text in REGION_INPUT ----
// At align4(len): u32 magic SK_NAMES_MAGIC, u32 entry count, then entries, each: u8 kind, u8 requested family
// (hosts: 0 unspec/2/10), u16 name length, u32 value, [16-byte address for NK_HOST_ADDR], name bytes, pad to 4.
export const SK_NAMES_MAGIC = 0x544e4b53; // "SKNT"
export const NK_HOST_ADDR = 1;   // value = address family (2/10), then 16 address bytes; repeated per address, in order
export const NK_HOST_ERR = 2;    // value = GAI_* error for this (name, family)
export const NK_PROTO = 3;       // value = protocol number (getprotobyname, /etc/protocols names and aliases)
export const NK_SERVICE = 4;     // value = port (getservbyname(name, "udp"), /etc/services udp names and aliases)

// ---- setkeyParse flags ----
export const SKF_RFC = 1;        // -r (default): fwd copies of `in` policies
export const SKF_STDIN = 2;      // -c semantics
export const SKF_NAMES = 4;      // a name block follows the text

// libipsec's ipsec_errlist (index = __ipsec_errcode); 26 (EIPSEC_SYSTEM_ERROR) is the getaddrinfo text.
export const IPSEC_ERRSTR = [
  "Success", "Not supported", "Invalid argument", "Invalid sadb message", "Invalid version",
  "Invalid security policy", "Invalid address specification", "Invalid ipsec protocol", "Invalid ipsec mode",
  "Invalid ipsec level", "Invalid SA type", "Invalid message type", "Invalid extension type",
  "Invalid algorithm type", "Invalid key length", "Invalid address family", "Invalid prefix length",
  "Invalid direction", "SPI range violation", "No protocol specified", "No algorithm specified",
  "No buffers available", "Must get supported algorithms list first", "Protocol mismatch", "Family mismatch",
  "Too few arguments", "", "Priority offset not in valid range [-2147483647, 2147483648]",
  "Priority offset from base not in valid range [0, 1073741823] for negative offsets and [0, 1073741824] for positive offsets",
  "Policy priority not compiled in", "Unknown error",
];
