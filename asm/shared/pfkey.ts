// asm/shared/pfkey.ts — PF_KEY v2 wire constants and struct layouts (RFC 2367 + the Linux/KAME extensions),
// shared by asc (asm/src/pfkey-*.ts) and tsc (src/kernel/pfkey.ts, src/wasm/pfkey-*.ts). Each struct is quoted
// from linux/pfkeyv2.h (6.1) and laid out field after field, each offset where the previous field ends. Also the
// linux/ipsec.h enums setkey's policies carry. Plain numeric consts only, so both compilers accept the file.

export const PF_KEY_V2 = 2;
/** Extension and message lengths count 64-bit words (PFKEY_UNIT64). */
export const PFKEY_UNIT = 8;

// ---- message types (sadb_msg_type) ----
export const SADB_RESERVED = 0;
export const SADB_GETSPI = 1;
export const SADB_UPDATE = 2;
export const SADB_ADD = 3;
export const SADB_DELETE = 4;
export const SADB_GET = 5;
export const SADB_ACQUIRE = 6;
export const SADB_REGISTER = 7;
export const SADB_EXPIRE = 8;
export const SADB_FLUSH = 9;
export const SADB_DUMP = 10;
export const SADB_X_PROMISC = 11;
export const SADB_X_PCHANGE = 12;
export const SADB_X_SPDUPDATE = 13;
export const SADB_X_SPDADD = 14;
export const SADB_X_SPDDELETE = 15;
export const SADB_X_SPDGET = 16;
export const SADB_X_SPDACQUIRE = 17;
export const SADB_X_SPDDUMP = 18;
export const SADB_X_SPDFLUSH = 19;
export const SADB_X_SPDSETIDX = 20;
export const SADB_X_SPDEXPIRE = 21;
export const SADB_X_SPDDELETE2 = 22;
export const SADB_X_NAT_T_NEW_MAPPING = 23;
export const SADB_X_MIGRATE = 24;
export const SADB_MAX = 24;

// ---- extension types (sadb_ext_type) ----
export const SADB_EXT_SA = 1;
export const SADB_EXT_LIFETIME_CURRENT = 2;
export const SADB_EXT_LIFETIME_HARD = 3;
export const SADB_EXT_LIFETIME_SOFT = 4;
export const SADB_EXT_ADDRESS_SRC = 5;
export const SADB_EXT_ADDRESS_DST = 6;
export const SADB_EXT_ADDRESS_PROXY = 7;
export const SADB_EXT_KEY_AUTH = 8;
export const SADB_EXT_KEY_ENCRYPT = 9;
export const SADB_EXT_IDENTITY_SRC = 10;
export const SADB_EXT_IDENTITY_DST = 11;
export const SADB_EXT_SENSITIVITY = 12;
export const SADB_EXT_PROPOSAL = 13;
export const SADB_EXT_SUPPORTED_AUTH = 14;
export const SADB_EXT_SUPPORTED_ENCRYPT = 15;
export const SADB_EXT_SPIRANGE = 16;
export const SADB_X_EXT_KMPRIVATE = 17;
export const SADB_X_EXT_POLICY = 18;
export const SADB_X_EXT_SA2 = 19;
export const SADB_X_EXT_NAT_T_TYPE = 20;
export const SADB_X_EXT_NAT_T_SPORT = 21;
export const SADB_X_EXT_NAT_T_DPORT = 22;
export const SADB_X_EXT_NAT_T_OA = 23;
export const SADB_X_EXT_SEC_CTX = 24;
export const SADB_X_EXT_KMADDRESS = 25;
export const SADB_X_EXT_FILTER = 26;
export const SADB_EXT_MAX = 26;

// ---- sadb_msg_satype ----
export const SADB_SATYPE_UNSPEC = 0;
export const SADB_SATYPE_AH = 2;
export const SADB_SATYPE_ESP = 3;
export const SADB_X_SATYPE_IPCOMP = 9;

// ---- sadb_sa_state / sadb_sa_flags ----
export const SADB_SASTATE_LARVAL = 0;
export const SADB_SASTATE_MATURE = 1;
export const SADB_SASTATE_DYING = 2;
export const SADB_SASTATE_DEAD = 3;
export const SADB_SAFLAGS_PFS = 1;
export const SADB_SAFLAGS_NOPMTUDISC = 0x20000000;
export const SADB_SAFLAGS_DECAP_DSCP = 0x40000000;
export const SADB_SAFLAGS_NOECN = 0x80000000;

// ---- linux/ipsec.h ----
export const IPSEC_MODE_ANY = 0;
export const IPSEC_MODE_TRANSPORT = 1;
export const IPSEC_MODE_TUNNEL = 2;
export const IPSEC_MODE_BEET = 3;
export const IPSEC_DIR_ANY = 0;
export const IPSEC_DIR_INBOUND = 1;
export const IPSEC_DIR_OUTBOUND = 2;
export const IPSEC_DIR_FWD = 3;
export const IPSEC_POLICY_DISCARD = 0;
export const IPSEC_POLICY_NONE = 1;
export const IPSEC_POLICY_IPSEC = 2;
export const IPSEC_LEVEL_DEFAULT = 0;
export const IPSEC_LEVEL_USE = 1;
export const IPSEC_LEVEL_REQUIRE = 2;
export const IPSEC_LEVEL_UNIQUE = 3;
export const IPSEC_ULPROTO_ANY = 255;

// struct sadb_msg { __u8 sadb_msg_version; __u8 sadb_msg_type; __u8 sadb_msg_errno; __u8 sadb_msg_satype;
//   __u16 sadb_msg_len; __u16 sadb_msg_reserved; __u32 sadb_msg_seq; __u32 sadb_msg_pid; }
export const MSG_VERSION = 0;
export const MSG_TYPE = 1;
export const MSG_ERRNO = 2;
export const MSG_SATYPE = 3;
export const MSG_LEN = 4;
export const MSG_RESERVED = 6;
export const MSG_SEQ = 8;
export const MSG_PID = 12;
export const MSG_SIZE = 16;

// struct sadb_ext { __u16 sadb_ext_len; __u16 sadb_ext_type; } — the head of every extension
export const EXT_LEN = 0;
export const EXT_TYPE = 2;
export const EXT_SIZE = 4;

// struct sadb_sa { __u16 sadb_sa_len; __u16 sadb_sa_exttype; __be32 sadb_sa_spi; __u8 sadb_sa_replay;
//   __u8 sadb_sa_state; __u8 sadb_sa_auth; __u8 sadb_sa_encrypt; __u32 sadb_sa_flags; }
export const SA_SPI = 4;
export const SA_REPLAY = 8;
export const SA_STATE = 9;
export const SA_AUTH = 10;
export const SA_ENCRYPT = 11;
export const SA_FLAGS = 12;
export const SA_SIZE = 16;

// struct sadb_lifetime { __u16 len; __u16 exttype; __u32 sadb_lifetime_allocations; __u64 sadb_lifetime_bytes;
//   __u64 sadb_lifetime_addtime; __u64 sadb_lifetime_usetime; }
export const LT_ALLOCATIONS = 4;
export const LT_BYTES = 8;
export const LT_ADDTIME = 16;
export const LT_USETIME = 24;
export const LT_SIZE = 32;

// struct sadb_address { __u16 len; __u16 exttype; __u8 sadb_address_proto; __u8 sadb_address_prefixlen;
//   __u16 sadb_address_reserved; } followed by a struct sockaddr
export const ADDR_PROTO = 4;
export const ADDR_PREFIXLEN = 5;
export const ADDR_RESERVED = 6;
export const ADDR_SIZE = 8;

// struct sockaddr_in { sa_family_t sin_family; __be16 sin_port; struct in_addr sin_addr; unsigned char
//   sin_zero[8]; } (16) / struct sockaddr_in6 { sin6_family; __be16 sin6_port; __be32 sin6_flowinfo;
//   struct in6_addr sin6_addr; __u32 sin6_scope_id; } (28)
export const SIN_FAMILY = 0;
export const SIN_PORT = 2;
export const SIN_ADDR = 4;
export const SIN_SIZE = 16;
export const SIN6_FLOWINFO = 4;
export const SIN6_ADDR = 8;
export const SIN6_SCOPE_ID = 24;
export const SIN6_SIZE = 28;

// struct sadb_key { __u16 len; __u16 exttype; __u16 sadb_key_bits; __u16 sadb_key_reserved; } + key bytes
export const KEY_BITS = 4;
export const KEY_RESERVED = 6;
export const KEY_SIZE = 8;

// struct sadb_ident { __u16 len; __u16 exttype; __u16 sadb_ident_type; __u16 sadb_ident_reserved;
//   __u64 sadb_ident_id; } + string
export const IDENT_TYPE = 4;
export const IDENT_RESERVED = 6;
export const IDENT_ID = 8;
export const IDENT_SIZE = 16;

// struct sadb_supported { __u16 len; __u16 exttype; __u32 sadb_supported_reserved; } + struct sadb_alg[]
export const SUPPORTED_SIZE = 8;
// struct sadb_alg { __u8 sadb_alg_id; __u8 sadb_alg_ivlen; __u16 sadb_alg_minbits; __u16 sadb_alg_maxbits;
//   __u16 sadb_alg_reserved; }
export const ALGD_ID = 0;
export const ALGD_IVLEN = 1;
export const ALGD_MINBITS = 2;
export const ALGD_MAXBITS = 4;
export const ALGD_SIZE = 8;

// struct sadb_prop { __u16 len; __u16 exttype; __u8 sadb_prop_replay; __u8 sadb_prop_reserved[3]; } + struct sadb_comb[]
export const PROP_REPLAY = 4;
export const PROP_SIZE = 8;
// struct sadb_comb { __u8 sadb_comb_auth; __u8 sadb_comb_encrypt; __u16 sadb_comb_flags; __u16 sadb_comb_auth_minbits;
//   __u16 sadb_comb_auth_maxbits; __u16 sadb_comb_encrypt_minbits; __u16 sadb_comb_encrypt_maxbits;
//   __u32 sadb_comb_reserved; __u32 sadb_comb_soft_allocations; __u32 sadb_comb_hard_allocations;
//   __u64 sadb_comb_soft_bytes; __u64 sadb_comb_hard_bytes; __u64 sadb_comb_soft_addtime;
//   __u64 sadb_comb_hard_addtime; __u64 sadb_comb_soft_usetime; __u64 sadb_comb_hard_usetime; }
export const COMB_AUTH = 0;
export const COMB_ENCRYPT = 1;
export const COMB_FLAGS = 2;
export const COMB_AUTH_MINBITS = 4;
export const COMB_AUTH_MAXBITS = 6;
export const COMB_ENCRYPT_MINBITS = 8;
export const COMB_ENCRYPT_MAXBITS = 10;
export const COMB_RESERVED = 12;
export const COMB_SOFT_ALLOCATIONS = 16;
export const COMB_HARD_ALLOCATIONS = 20;
export const COMB_SOFT_BYTES = 24;
export const COMB_HARD_BYTES = 32;
export const COMB_SOFT_ADDTIME = 40;
export const COMB_HARD_ADDTIME = 48;
export const COMB_SOFT_USETIME = 56;
export const COMB_HARD_USETIME = 64;
export const COMB_SIZE = 72;

// struct sadb_spirange { __u16 len; __u16 exttype; __u32 sadb_spirange_min; __u32 sadb_spirange_max;
//   __u32 sadb_spirange_reserved; }
export const SPIRANGE_MIN = 4;
export const SPIRANGE_MAX = 8;
export const SPIRANGE_SIZE = 16;

// struct sadb_x_sa2 { __u16 len; __u16 exttype; __u8 sadb_x_sa2_mode; __u8 sadb_x_sa2_reserved1;
//   __u16 sadb_x_sa2_reserved2; __u32 sadb_x_sa2_sequence; __u32 sadb_x_sa2_reqid; }
export const SA2_MODE = 4;
export const SA2_RESERVED1 = 5;
export const SA2_RESERVED2 = 6;
export const SA2_SEQUENCE = 8;
export const SA2_REQID = 12;
export const SA2_SIZE = 16;

// struct sadb_x_policy { __u16 len; __u16 exttype; __u16 sadb_x_policy_type; __u8 sadb_x_policy_dir;
//   __u8 sadb_x_policy_reserved; __u32 sadb_x_policy_id; __u32 sadb_x_policy_priority; }
export const POL_TYPE = 4;
export const POL_DIR = 6;
export const POL_RESERVED = 7;
export const POL_ID = 8;
export const POL_PRIORITY = 12;
export const POL_SIZE = 16;

// struct sadb_x_ipsecrequest { __u16 sadb_x_ipsecrequest_len; __u16 sadb_x_ipsecrequest_proto;
//   __u8 sadb_x_ipsecrequest_mode; __u8 sadb_x_ipsecrequest_level; __u16 sadb_x_ipsecrequest_reserved1;
//   __u32 sadb_x_ipsecrequest_reqid; __u32 sadb_x_ipsecrequest_reserved2; } + src/dst sockaddrs (tunnel)
// Its length counts BYTES, not 64-bit words.
export const IRQ_LEN = 0;
export const IRQ_PROTO = 2;
export const IRQ_MODE = 4;
export const IRQ_LEVEL = 5;
export const IRQ_RESERVED1 = 6;
export const IRQ_REQID = 8;
export const IRQ_RESERVED2 = 12;
export const IRQ_SIZE = 16;

// struct sadb_x_nat_t_type { __u16 len; __u16 exttype; __u8 sadb_x_nat_t_type_type; __u8 reserved[3]; }
export const NATT_TYPE = 4;
export const NATT_TYPE_SIZE = 8;
// struct sadb_x_nat_t_port { __u16 len; __u16 exttype; __be16 sadb_x_nat_t_port_port; __u16 reserved; }
export const NATT_PORT = 4;
export const NATT_PORT_SIZE = 8;

// struct sadb_x_sec_ctx { __u16 sadb_x_sec_len; __u16 sadb_x_sec_exttype; __u8 sadb_x_ctx_alg;
//   __u8 sadb_x_ctx_doi; __u16 sadb_x_ctx_len; } + context bytes (setkey counts the NUL in ctx_len)
export const SECCTX_ALG = 4;
export const SECCTX_DOI = 5;
export const SECCTX_LEN = 6;
export const SECCTX_SIZE = 8;

// ---- flags of pfkeyEncode (asm/src/pfkey-encode.ts) ----
export const PENC_NO_OA = 1; // leave SADB_X_EXT_NAT_T_OA out (setkey sends it; af_key ignores it)
// ---- flags of pfkeyDecode (asm/src/pfkey-decode.ts) ----
export const PDEC_RESET = 1;     // replace the records and the blob instead of appending
export const PDEC_KEEP_ALL = 2;  // also make OP_NONE records for messages that carry no SA or policy
