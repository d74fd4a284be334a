// asm/shared/layout.ts — the record IR contract, shared by asc (asm/) and tsc (src/).
// Owns: record kinds, the fixed record layout (byte offsets), template layout, diagnostic layout,
// region ids and the kernel enum values records carry. Plain numeric consts only, so that this
// one file compiles unchanged under AssemblyScript and TypeScript (see DESIGN.md §2 "asm/").

// ---- Regions of wasm memory (asm/src/arena.ts owns them) ----
export const REGION_INPUT = 0;   // text or kernel bytes handed in by TypeScript
export const REGION_RECORDS = 1; // REC_SIZE-byte records
export const REGION_BLOB = 2;    // variable data referenced by records: keys, names, ctx, templates
export const REGION_DIAG = 3;    // DIAG_SIZE-byte diagnostics
export const REGION_OUTPUT = 4;  // bytes produced (netlink/PF_KEY messages, formatted text)
export const REGION_MAP = 5;     // u32 per produced message: the record index it came from
export const REGION_COUNT = 6;

// ---- Record kinds (R_KIND) ----
export const OP_NONE = 0;
export const OP_SA_ADD = 1;
export const OP_SA_UPDATE = 2;
export const OP_SA_DELETE = 3;
export const OP_SA_GET = 4;
export const OP_SA_DELETEALL = 5;
export const OP_SA_FLUSH = 6;
export const OP_SA_DUMP = 7;
export const OP_SA_ALLOCSPI = 8;
export const OP_SP_ADD = 16;
export const OP_SP_UPDATE = 17;
export const OP_SP_DELETE = 18;
export const OP_SP_GET = 19;
export const OP_SP_FLUSH = 20;
export const OP_SP_DUMP = 21;
export const OP_SP_DELETEALL = 22;
export const OP_EXIT = 31;

// ---- Record layout: REC_SIZE bytes, little-endian unless said otherwise ----
export const R_KIND = 0;        // u8  OP_*
export const R_FAMILY = 1;      // u8  AF_INET(2)/AF_INET6(10): family of R_DADDR/R_SADDR (SA) or of the selector (policy)
export const R_DIR = 2;         // u8  policy dir: XFRM_POLICY_IN 0, OUT 1, FWD 2
export const R_ACTION = 3;      // u8  XFRM_POLICY_ALLOW 0, BLOCK 1
export const R_FLAGS = 4;       // u32 RF_* bits
export const R_LINE = 8;        // u32 1-based source line of the statement
export const R_COL = 12;        // u32 1-based column
export const R_SRC_START = 16;  // u32 byte offset of the statement in the input
export const R_SRC_END = 20;    // u32 byte offset just past the statement
export const R_STMT = 24;       // u32 statement index (records made from one statement share it)
export const R_SATYPE = 28;     // u8  PF_KEY satype the statement named (setkey), 0 if none
export const R_SADB_MODE = 29;  // u8  PF_KEY mode as written (0 any, 1 transport, 2 tunnel)
export const R_SADB_FLAGS = 30; // u16 KAME sadb_sa_flags as setkey would send them (0x40 CYCSEQ default ...)
// struct xfrm_selector (linux/xfrm.h), byte for byte, 56 bytes:
export const R_SEL = 32;
export const SEL_DADDR = 0;       // xfrm_address_t daddr (16)
export const SEL_SADDR = 16;      // xfrm_address_t saddr (16)
export const SEL_DPORT = 32;      // __be16 dport
export const SEL_DPORT_MASK = 34; // __be16 dport_mask
export const SEL_SPORT = 36;      // __be16 sport
export const SEL_SPORT_MASK = 38; // __be16 sport_mask
export const SEL_FAMILY = 40;     // __u16 family
export const SEL_PREFIXLEN_D = 42;// __u8
export const SEL_PREFIXLEN_S = 43;// __u8
export const SEL_PROTO = 44;      // __u8 (0 = any)
export const SEL_IFINDEX = 48;    // int
export const SEL_USER = 52;       // __kernel_uid32_t
export const SEL_SIZE = 56;
export const R_DADDR = 88;      // [16] SA destination (xfrm_id.daddr)
export const R_SADDR = 104;     // [16] SA source (xfrm_usersa_info.saddr)
export const R_SPI = 120;       // u32 SPI, stored as the kernel has it (network byte order, as in struct xfrm_id)
export const R_PROTO = 124;     // u8  IPPROTO_ESP 50 / AH 51 / COMP 108 / ROUTING 43 / DSTOPTS 60 / IPSEC_PROTO_ANY 255 / 0
export const R_MODE = 125;      // u8  XFRM_MODE_TRANSPORT 0, TUNNEL 1, ROUTEOPTIMIZATION 2, IN_TRIGGER 3, BEET 4
export const R_REPLAY = 126;    // u8  xfrm_usersa_info.replay_window
export const R_SAFLAGS = 127;   // u8  xfrm_usersa_info.flags (XFRM_STATE_*)
export const R_REQID = 128;     // u32
export const R_PRIORITY = 132;  // u32 policy priority (kernel value)
export const R_INDEX = 136;     // u32 policy index
export const R_POLFLAGS = 140;  // u8  xfrm_userpolicy_info.flags
export const R_SHARE = 141;     // u8  share
export const R_PTYPE = 142;     // u8  XFRM_POLICY_TYPE_MAIN 0 / SUB 1
export const R_STATE = 143;     // u8  decoded: SA state as PF_KEY would report it (0 larval, 1 mature, 2 dying, 3 dead)
// struct xfrm_lifetime_cfg, 64 bytes (u64 each): soft_byte, hard_byte, soft_packet, hard_packet, soft_add, hard_add, soft_use, hard_use
export const R_LFT = 144;
export const LFT_SOFT_BYTE = 0;
export const LFT_HARD_BYTE = 8;
export const LFT_SOFT_PACKET = 16;
export const LFT_HARD_PACKET = 24;
export const LFT_SOFT_ADD = 32;
export const LFT_HARD_ADD = 40;
export const LFT_SOFT_USE = 48;
export const LFT_HARD_USE = 56;
// struct xfrm_lifetime_cur, 32 bytes (u64 each): bytes, packets, add_time, use_time (decoded only)
export const R_CUR = 208;
export const CUR_BYTES = 0;
export const CUR_PACKETS = 8;
export const CUR_ADD_TIME = 16;
export const CUR_USE_TIME = 24;
// struct xfrm_stats (decoded only): replay_window u32, replay u32, integrity_failed u32
export const R_STATS = 240;
export const R_SEQ = 252;       // u32 xfrm_usersa_info.seq
// Algorithm slots, ALG_SIZE bytes each; names and keys live in REGION_BLOB
export const R_ALG_AUTH = 256;
export const R_ALG_ENC = 276;
export const R_ALG_AEAD = 296;
export const R_ALG_COMP = 316;
export const ALG_NAME_OFF = 0;  // u32 blob offset of the kernel algorithm name (no NUL)
export const ALG_NAME_LEN = 4;  // u32 0 = slot unused
export const ALG_KEY_OFF = 8;   // u32 blob offset of the key bytes
export const ALG_KEY_BITS = 12; // u32 key length in bits
export const ALG_PARAM = 16;    // u32 auth: truncation bits (with RF_AUTH_TRUNC); aead: ICV bits
export const ALG_SIZE = 20;
// NAT-T encapsulation (struct xfrm_encap_tmpl)
export const R_ENCAP_TYPE = 336;  // u16 UDP_ENCAP_ESPINUDP 2 ...
export const R_ENCAP_SPORT = 338; // u16 host order
export const R_ENCAP_DPORT = 340; // u16 host order
export const R_ENCAP_OA = 344;    // [16]
// Security context (struct xfrm_user_sec_ctx)
export const R_CTX_DOI = 360;   // u8
export const R_CTX_ALG = 361;   // u8
export const R_CTX_OFF = 364;   // u32 blob offset of the context string (no NUL)
export const R_CTX_LEN = 368;   // u32
export const R_MARK_V = 372;    // u32
export const R_MARK_M = 376;    // u32
export const R_IFID = 380;      // u32
export const R_EXTRA_FLAGS = 384; // u32 XFRMA_SA_EXTRA_FLAGS
export const R_TMPL_OFF = 388;  // u32 blob offset of TMPL_SIZE-byte templates
export const R_TMPL_COUNT = 392;// u32
export const R_REPLAY_WIN = 396;// u32 full replay window (> 255 or ESN)
export const R_SPI_MIN = 400;   // u32 allocspi range (host order)
export const R_SPI_MAX = 404;   // u32
export const R_AUX = 408;       // u32 parser-specific (setkey: policy priority as written, etc.)
export const R_AUX2 = 412;      // u32
// Filled by decoders (asm/src/xfrm-decode.ts), zero in parsed records:
export const R_ATTRS_OFF = 416; // u32 blob offset of a copy of every attribute of the message, raw (unknown ones survive)
export const R_ATTRS_LEN = 420; // u32
export const R_MSGTYPE = 424;   // u16 netlink message type (XFRM_MSG_*) or PF_KEY type the record came from
export const R_NLFLAGS = 426;   // u16 nlmsg_flags
export const R_NLSEQ = 428;     // u32 nlmsg_seq
export const R_NLPID = 432;     // u32 nlmsg_pid
export const R_HARD = 436;      // u8  expire events: hard (1) or soft (0)
export const R_LASTUSED = 440;  // u64 XFRMA_LASTUSED
export const R_REPLAY_SEQ = 448;    // u32 struct xfrm_replay_state / ESN: seq
export const R_REPLAY_OSEQ = 452;   // u32 oseq
export const R_REPLAY_BITMAP = 456; // u32 bitmap (first word)
// Appended by the XFRM codec owner: `ip xfrm state add` emits algorithm/encap/ctx attributes in command-line
// order (iproute2 ip/xfrm_state.c, xfrm_state_modify). 4 bits per attribute from the low end, AO_* codes;
// 0 = the encoder's default order (auth, enc, aead, comp, encap, ctx).
export const R_ATTR_ORDER = 464; // u32
// Appended for `ip xfrm state add` options (ip/xfrm_state.c xfrm_state_modify), zero when not given:
export const R_TFCPAD = 468;          // u32 XFRMA_TFCPAD (sent when non-zero)
export const R_SET_MARK_V = 472;      // u32 output-mark: XFRMA_SET_MARK (sent when non-zero)
export const R_SET_MARK_M = 476;      // u32 output-mark mask: XFRMA_SET_MARK_MASK (sent when non-zero)
export const R_OFFLOAD_IFINDEX = 480; // i32 struct xfrm_user_offload.ifindex (with RF_HAS_OFFLOAD)
export const R_OFFLOAD_FLAGS = 484;   // u32 struct xfrm_user_offload.flags (XFRM_OFFLOAD_INBOUND 2)
export const R_COA_OFF = 488;         // u32 blob offset of the 16-byte care-of address (with RF_HAS_COA)
export const R_REPLAY_SEQ_HI = 492;   // u32 ESN seq_hi
export const R_REPLAY_OSEQ_HI = 496;  // u32 ESN oseq_hi
// Appended by the PF_KEY codec owner: the ports written in setkey's SA addresses (addr[port]), host order, as
// setkey puts them in the sockaddrs of SADB_EXT_ADDRESS_SRC/DST (parse.y setkeymsg_add). 0 = none written.
export const R_SADB_SPORT = 500; // u16
export const R_SADB_DPORT = 502; // u16
export const R_SADB_AALG = 504;  // u8  sadb_sa_auth setkey sends (p_alg_auth), also for ids the kernel lacks
export const R_SADB_EALG = 505;  // u8  sadb_sa_encrypt (p_alg_enc: encryption or, for IPComp, compression id)
// Appended for a repeated `ip xfrm state add … encap …` (ip sends one XFRMA_ENCAP per `encap`; the record's own
// R_ENCAP_* hold the last): 1 + blob offset of the encap given just before it, 0 = none. Each such blob entry is
// the 24 bytes R_ENCAP_TYPE..R_ENCAP_OA+16 of the record at the time, then a u32 link to the one before it.
export const R_ENCAP_PREV = 508; // u32
export const ENCAP_ENTRY_LINK = 24; // u32 in a blob entry: 1 + offset of the entry before, 0 = none
export const ENCAP_ENTRY_SIZE = 28;
export const REC_SIZE = 512;     // 506..507 spare (records stay 8-byte aligned for the u64 fields)

// ---- R_FLAGS bits ----
export const RF_HAS_MARK = 1;
export const RF_HAS_IFID = 2;
export const RF_AUTH_TRUNC = 4;     // send XFRMA_ALG_AUTH_TRUNC with ALG_PARAM bits (else XFRMA_ALG_AUTH: kernel default)
export const RF_HAS_ENCAP = 8;
export const RF_HAS_CTX = 16;
export const RF_RFC_FWD = 32;       // setkey RFC mode: the automatic fwd copy of an `in` policy
export const RF_HAS_SRCADDR = 64;   // get/delete: send XFRMA_SRCADDR
export const RF_HAS_SPI = 128;
export const RF_HAS_EXTRA_FLAGS = 256;
export const RF_REPLAY_ESN = 512;   // send XFRMA_REPLAY_ESN_VAL with R_REPLAY_WIN
export const RF_HAS_SEL = 1024;     // selector given explicitly
export const RF_HAS_PROTO = 2048;
export const RF_HAS_LFT = 4096;     // lifetimes given (otherwise XFRM_INF everywhere)
export const RF_HAS_PRIORITY = 8192;
export const RF_HAS_INDEX = 16384;
export const RF_SETKEY = 32768;     // made by the setkey parser: af_key semantics apply
export const RF_HAS_DIR = 65536;
export const RF_NO_ACK = 131072;    // engine: do not expect a reply (never set by parsers)
export const RF_HAS_PTYPE = 262144;  // policy type given: send XFRMA_POLICY_TYPE (ip sends it only for `ptype`)
export const RF_HAS_OFFLOAD = 524288;  // send XFRMA_OFFLOAD_DEV (R_OFFLOAD_IFINDEX, R_OFFLOAD_FLAGS)
export const RF_HAS_COA = 1048576;     // send XFRMA_COADDR (R_COA_OFF)
export const RF_NO_SRCADDR = 2097152;  // get/delete: no XFRMA_SRCADDR (`ip xfrm state get` without an ID sends none)
export const RF_SPI_RANGE = 4194304;   // allocspi: R_SPI_MIN/MAX as given even when both are 0 (ip's `min 0 max 0`)

// ---- R_ATTR_ORDER codes ----
export const AO_AUTH = 1;
export const AO_ENC = 2;
export const AO_AEAD = 3;
export const AO_COMP = 4;
export const AO_ENCAP = 5;
export const AO_CTX = 6;
export const AO_COA = 7;

// ---- Template layout: struct xfrm_user_tmpl (64 bytes, byte for byte) + 8 bytes of ours ----
export const T_DADDR = 0;       // [16] id.daddr
export const T_SPI = 16;        // __be32 id.spi
export const T_PROTO = 20;      // u8 id.proto
export const T_FAMILY = 24;     // u16
export const T_SADDR = 28;      // [16]
export const T_REQID = 44;      // u32
export const T_MODE = 48;       // u8
export const T_SHARE = 49;      // u8
export const T_OPTIONAL = 50;   // u8
export const T_AALGOS = 52;     // u32
export const T_EALGOS = 56;     // u32
export const T_CALGOS = 60;     // u32
export const XFRM_TMPL_SIZE = 64;
export const T_LEVEL = 64;      // u8 setkey level as written: 0 default, 1 use, 2 require, 3 unique
export const T_XFLAGS = 65;     // u8 TF_* bits
export const T_SPORT = 66;      // u16 host order: tunnel endpoint ports as written (setkey addr[port])
export const T_DPORT = 68;      // u16
export const TMPL_SIZE = 72;
export const TF_AUTO_REQID = 1; // unique without a usable reqid: the engine allocates one as af_key would

// ---- Diagnostics: DIAG_SIZE bytes each ----
export const D_CODE = 0;   // u32 DIAG_* code
export const D_START = 4;  // u32 byte offset of the offending text
export const D_END = 8;    // u32
export const D_LINE = 12;  // u32 1-based
export const D_COL = 16;   // u32 1-based
export const D_ARG = 20;   // u32 code-specific argument
export const D_STMT = 24;  // u32 statement index
export const D_SEVERITY = 28; // u32 0 error, 1 warning
export const DIAG_SIZE = 32;

// ---- Kernel constants records carry (linux/xfrm.h, linux/in.h) ----
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_COMP = 108;
export const IPSEC_PROTO_ANY = 255;
export const XFRM_MODE_TRANSPORT = 0;
export const XFRM_MODE_TUNNEL = 1;
export const XFRM_MODE_ROUTEOPTIMIZATION = 2;
export const XFRM_MODE_IN_TRIGGER = 3;
export const XFRM_MODE_BEET = 4;
export const XFRM_POLICY_IN = 0;
export const XFRM_POLICY_OUT = 1;
export const XFRM_POLICY_FWD = 2;
export const XFRM_POLICY_ALLOW = 0;
export const XFRM_POLICY_BLOCK = 1;
export const UDP_ENCAP_ESPINUDP = 2;
