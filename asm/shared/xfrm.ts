// asm/shared/xfrm.ts — XFRM netlink constants shared by asc (asm/src/xfrm-*.ts) and tsc (src/).
// Owns: netlink framing numbers (linux/netlink.h), XFRM_MSG_* / XFRMA_* / XFRMNLGRP_* (linux/xfrm.h),
// the flag bits of the xfrmEncode/xfrmDecode exports. Plain numeric consts only (see layout.ts).
// Struct offset tables live in asm/src/xfrm-wire.ts (wasm side only).

// ---- linux/netlink.h ----
export const NETLINK_XFRM = 6;
export const NLMSG_HDRLEN = 16;   // struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
export const NLA_HDRLEN = 4;      // struct nlattr { u16 nla_len; u16 nla_type; }
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;     // payload struct nlmsgerr { int error; struct nlmsghdr msg; } [+ ext acks]
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100; // for NEW requests
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_CAPPED = 0x100;  // for NLMSG_ERROR (ack) messages
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1; // extended ack: NUL-terminated message
export const NLMSGERR_ATTR_OFFS = 2;

// ---- linux/xfrm.h: message types ----
export const XFRM_MSG_NEWSA = 0x10;
export const XFRM_MSG_DELSA = 0x11;
export const XFRM_MSG_GETSA = 0x12;
export const XFRM_MSG_NEWPOLICY = 0x13;
export const XFRM_MSG_DELPOLICY = 0x14;
export const XFRM_MSG_GETPOLICY = 0x15;
export const XFRM_MSG_ALLOCSPI = 0x16;
export const XFRM_MSG_ACQUIRE = 0x17;
export const XFRM_MSG_EXPIRE = 0x18;
export const XFRM_MSG_UPDPOLICY = 0x19;
export const XFRM_MSG_UPDSA = 0x1a;
export const XFRM_MSG_POLEXPIRE = 0x1b;
export const XFRM_MSG_FLUSHSA = 0x1c;
export const XFRM_MSG_FLUSHPOLICY = 0x1d;
export const XFRM_MSG_NEWAE = 0x1e;
export const XFRM_MSG_GETAE = 0x1f;
export const XFRM_MSG_REPORT = 0x20;
export const XFRM_MSG_MIGRATE = 0x21;
export const XFRM_MSG_NEWSADINFO = 0x22;
export const XFRM_MSG_GETSADINFO = 0x23;
export const XFRM_MSG_NEWSPDINFO = 0x24;
export const XFRM_MSG_GETSPDINFO = 0x25;
export const XFRM_MSG_MAPPING = 0x26;
export const XFRM_MSG_SETDEFAULT = 0x27;
export const XFRM_MSG_GETDEFAULT = 0x28;

// ---- linux/xfrm.h: enum xfrm_attr_type_t ----
export const XFRMA_UNSPEC = 0;
export const XFRMA_ALG_AUTH = 1;        // struct xfrm_algo
export const XFRMA_ALG_CRYPT = 2;       // struct xfrm_algo
export const XFRMA_ALG_COMP = 3;        // struct xfrm_algo
export const XFRMA_ENCAP = 4;           // struct xfrm_encap_tmpl
export const XFRMA_TMPL = 5;            // 1 or more struct xfrm_user_tmpl
export const XFRMA_SA = 6;              // struct xfrm_usersa_info
export const XFRMA_POLICY = 7;          // struct xfrm_userpolicy_info
export const XFRMA_SEC_CTX = 8;         // struct xfrm_user_sec_ctx + string
export const XFRMA_LTIME_VAL = 9;       // struct xfrm_lifetime_cur
export const XFRMA_REPLAY_VAL = 10;     // struct xfrm_replay_state
export const XFRMA_REPLAY_THRESH = 11;  // __u32
export const XFRMA_ETIMER_THRESH = 12;  // __u32
export const XFRMA_SRCADDR = 13;        // xfrm_address_t
export const XFRMA_COADDR = 14;         // xfrm_address_t
export const XFRMA_LASTUSED = 15;       // __u64
export const XFRMA_POLICY_TYPE = 16;    // struct xfrm_userpolicy_type
export const XFRMA_MIGRATE = 17;
export const XFRMA_ALG_AEAD = 18;       // struct xfrm_algo_aead
export const XFRMA_KMADDRESS = 19;
export const XFRMA_ALG_AUTH_TRUNC = 20; // struct xfrm_algo_auth
export const XFRMA_MARK = 21;           // struct xfrm_mark
export const XFRMA_TFCPAD = 22;         // __u32
export const XFRMA_REPLAY_ESN_VAL = 23; // struct xfrm_replay_state_esn
export const XFRMA_SA_EXTRA_FLAGS = 24; // __u32
export const XFRMA_PROTO = 25;          // __u8
export const XFRMA_ADDRESS_FILTER = 26;
export const XFRMA_PAD = 27;
export const XFRMA_OFFLOAD_DEV = 28;
export const XFRMA_SET_MARK = 29;
export const XFRMA_SET_MARK_MASK = 30;
export const XFRMA_IF_ID = 31;          // __u32
export const XFRMA_MTIMER_THRESH = 32;

// ---- linux/xfrm.h: groups, misc ----
export const XFRMNLGRP_ACQUIRE = 1;
export const XFRMNLGRP_EXPIRE = 2;
export const XFRMNLGRP_SA = 3;
export const XFRMNLGRP_POLICY = 4;
export const XFRMNLGRP_AEVENTS = 5;
export const XFRMNLGRP_REPORT = 6;
export const XFRMNLGRP_MIGRATE = 7;
export const XFRMNLGRP_MAPPING = 8;
export const XFRM_POLICY_TYPE_MAIN = 0;
export const XFRM_POLICY_TYPE_SUB = 1;
export const XFRM_SC_DOI_LSM = 1;
export const XFRM_SC_ALG_SELINUX = 1;
export const XFRM_STATE_ESN = 128;

// ---- xfrmEncode(first, end, seqBase, flags, maxBytes) flag bits ----
export const XENC_ACK = 1;        // set NLM_F_ACK on every message
export const XENC_IP_ACK = 2;     // set NLM_F_ACK where `ip` does (every request except get, allocspi and dumps)
// ---- xfrmDecode(len, flags) flag bits ----
export const XDEC_RESET = 1;      // empty REGION_RECORDS and REGION_BLOB first (else append)
export const XDEC_KEEP_ALL = 2;   // also make records for messages of unknown type (R_KIND OP_NONE, raw attrs)
