// asm/src/xfrm-wire.ts — XFRM netlink wire structs as offset tables (layer: asm). Owns: byte offsets and sizes of
// the linux/xfrm.h and linux/netlink.h structs the encoder and decoder read and write, each quoted above its table
// (x86-64/LP64 layout: every struct here is 4-aligned except where noted), plus tiny load/store helpers.
// Constants shared with TypeScript (message types, attribute numbers) are in asm/shared/xfrm.ts.
import {
  NLM_F_DUMP, XFRM_MSG_NEWSA, XFRM_MSG_UPDSA, XFRM_MSG_DELSA, XFRM_MSG_GETSA, XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY,
  XFRM_MSG_DELPOLICY, XFRM_MSG_GETPOLICY, XFRM_MSG_ALLOCSPI, XFRM_MSG_ACQUIRE, XFRM_MSG_EXPIRE, XFRM_MSG_POLEXPIRE,
  XFRM_MSG_FLUSHSA, XFRM_MSG_FLUSHPOLICY, XFRM_MSG_NEWAE, XFRM_MSG_GETAE, XFRM_MSG_REPORT, XFRM_MSG_MIGRATE,
  XFRM_MSG_NEWSADINFO, XFRM_MSG_GETSADINFO, XFRM_MSG_NEWSPDINFO, XFRM_MSG_GETSPDINFO, XFRM_MSG_MAPPING,
  XFRM_MSG_SETDEFAULT, XFRM_MSG_GETDEFAULT,
} from "../shared/xfrm";

/* struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }; */
export const NLH_LEN: u32 = 0;
export const NLH_TYPE: u32 = 4;
export const NLH_FLAGS: u32 = 6;
export const NLH_SEQ: u32 = 8;
export const NLH_PID: u32 = 12;
export const NLH_SIZE: u32 = 16;

/* struct nlattr { __u16 nla_len; __u16 nla_type; };  (payload padded to NLA_ALIGNTO = 4) */
export const NLA_LEN: u32 = 0;
export const NLA_TYPE: u32 = 2;
export const NLA_SIZE: u32 = 4;
export const NLA_TYPE_MASK: u32 = 0x3fff; // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

/* struct xfrm_id { xfrm_address_t daddr; __be32 spi; __u8 proto; };  24 bytes */
export const ID_DADDR: u32 = 0;
export const ID_SPI: u32 = 16;
export const ID_PROTO: u32 = 20;
export const ID_SIZE: u32 = 24;

/* struct xfrm_selector: 56 bytes, see asm/shared/layout.ts SEL_* (byte for byte) */
export const SEL_BYTES: u32 = 56;
/* struct xfrm_lifetime_cfg: 8 × __u64 = 64 bytes; struct xfrm_lifetime_cur: 4 × __u64 = 32; struct xfrm_stats: 3 × __u32 = 12 */
export const LFT_BYTES: u32 = 64;
export const CUR_BYTES_SIZE: u32 = 32;
export const STATS_BYTES: u32 = 12;

/* struct xfrm_usersa_info {
 *   struct xfrm_selector sel; struct xfrm_id id; xfrm_address_t saddr; struct xfrm_lifetime_cfg lft;
 *   struct xfrm_lifetime_cur curlft; struct xfrm_stats stats; __u32 seq; __u32 reqid; __u16 family;
 *   __u8 mode; __u8 replay_window; __u8 flags; };  224 bytes (u64 members: 8-aligned) */
export const USI_SEL: u32 = 0;
export const USI_ID: u32 = 56;
export const USI_SADDR: u32 = 80;
export const USI_LFT: u32 = 96;
export const USI_CURLFT: u32 = 160;
export const USI_STATS: u32 = 192;
export const USI_SEQ: u32 = 204;
export const USI_REQID: u32 = 208;
export const USI_FAMILY: u32 = 212;
export const USI_MODE: u32 = 214;
export const USI_REPLAY_WINDOW: u32 = 215;
export const USI_FLAGS: u32 = 216;
export const USI_SIZE: u32 = 224;

/* struct xfrm_usersa_id { xfrm_address_t daddr; __be32 spi; __u16 family; __u8 proto; };  24 bytes */
export const UID_DADDR: u32 = 0;
export const UID_SPI: u32 = 16;
export const UID_FAMILY: u32 = 20;
export const UID_PROTO: u32 = 22;
export const UID_SIZE: u32 = 24;

/* struct xfrm_userspi_info { struct xfrm_usersa_info info; __u32 min; __u32 max; };  232 bytes */
export const USPI_MIN: u32 = 224;
export const USPI_MAX: u32 = 228;
export const USPI_SIZE: u32 = 232;

/* struct xfrm_usersa_flush { __u8 proto; };  1 byte */
export const USF_SIZE: u32 = 1;

/* struct xfrm_userpolicy_info { struct xfrm_selector sel; struct xfrm_lifetime_cfg lft; struct xfrm_lifetime_cur curlft;
 *   __u32 priority; __u32 index; __u8 dir; __u8 action; __u8 flags; __u8 share; };  168 bytes */
export const UPI_SEL: u32 = 0;
export const UPI_LFT: u32 = 56;
export const UPI_CURLFT: u32 = 120;
export const UPI_PRIORITY: u32 = 152;
export const UPI_INDEX: u32 = 156;
export const UPI_DIR: u32 = 160;
export const UPI_ACTION: u32 = 161;
export const UPI_FLAGS: u32 = 162;
export const UPI_SHARE: u32 = 163;
export const UPI_SIZE: u32 = 168;

/* struct xfrm_userpolicy_id { struct xfrm_selector sel; __u32 index; __u8 dir; };  64 bytes */
export const UPID_SEL: u32 = 0;
export const UPID_INDEX: u32 = 56;
export const UPID_DIR: u32 = 60;
export const UPID_SIZE: u32 = 64;

/* struct xfrm_user_expire { struct xfrm_usersa_info state; __u8 hard; };  232 bytes */
export const UEXP_HARD: u32 = 224;
export const UEXP_SIZE: u32 = 232;
/* struct xfrm_user_polexpire { struct xfrm_userpolicy_info pol; __u8 hard; };  176 bytes */
export const UPEXP_HARD: u32 = 168;
export const UPEXP_SIZE: u32 = 176;

/* struct xfrm_user_acquire { struct xfrm_id id; xfrm_address_t saddr; struct xfrm_selector sel;
 *   struct xfrm_userpolicy_info policy; __u32 aalgos; __u32 ealgos; __u32 calgos; __u32 seq; };  280 bytes */
export const UACQ_ID: u32 = 0;
export const UACQ_SADDR: u32 = 24;
export const UACQ_SEL: u32 = 40;
export const UACQ_POLICY: u32 = 96;
export const UACQ_AALGOS: u32 = 264;
export const UACQ_EALGOS: u32 = 268;
export const UACQ_CALGOS: u32 = 272;
export const UACQ_SEQ: u32 = 276;
export const UACQ_SIZE: u32 = 280;

/* struct xfrm_aevent_id { struct xfrm_usersa_id sa_id; xfrm_address_t saddr; __u32 flags; __u32 reqid; };  48 bytes */
export const AEV_SA_ID: u32 = 0;
export const AEV_SADDR: u32 = 24;
export const AEV_FLAGS: u32 = 40;
export const AEV_REQID: u32 = 44;
export const AEV_SIZE: u32 = 48;

/* struct xfrm_user_report { __u8 proto; struct xfrm_selector sel; };  60 bytes (sel 4-aligned) */
export const UREP_PROTO: u32 = 0;
export const UREP_SEL: u32 = 4;
export const UREP_SIZE: u32 = 60;

/* struct xfrm_user_mapping { struct xfrm_usersa_id id; __u32 reqid; xfrm_address_t old_saddr; xfrm_address_t new_saddr;
 *   __be16 old_sport; __be16 new_sport; };  64 bytes */
export const UMAP_ID: u32 = 0;
export const UMAP_REQID: u32 = 24;
export const UMAP_OLD_SADDR: u32 = 28;
export const UMAP_NEW_SADDR: u32 = 44;
export const UMAP_OLD_SPORT: u32 = 60;
export const UMAP_NEW_SPORT: u32 = 62;
export const UMAP_SIZE: u32 = 64;

/* struct xfrm_algo { char alg_name[64]; unsigned int alg_key_len; char alg_key[]; };  68 + key
 * struct xfrm_algo_auth { char alg_name[64]; unsigned int alg_key_len; unsigned int alg_trunc_len; char alg_key[]; };  72 + key
 * struct xfrm_algo_aead { char alg_name[64]; unsigned int alg_key_len; unsigned int alg_icv_len; char alg_key[]; };  72 + key */
export const ALGO_NAME: u32 = 0;
export const ALGO_NAME_MAX: u32 = 64;
export const ALGO_KEY_LEN: u32 = 64;
export const ALGO_KEY: u32 = 68;
export const ALGO_PARAM: u32 = 68; // alg_trunc_len / alg_icv_len
export const ALGO_KEY_X: u32 = 72; // key of xfrm_algo_auth / xfrm_algo_aead

/* struct xfrm_encap_tmpl { __u16 encap_type; __be16 encap_sport; __be16 encap_dport; xfrm_address_t encap_oa; };  24 bytes */
export const ENC_TYPE: u32 = 0;
export const ENC_SPORT: u32 = 2;
export const ENC_DPORT: u32 = 4;
export const ENC_OA: u32 = 8;
export const ENC_SIZE: u32 = 24;

/* struct xfrm_user_sec_ctx { __u16 len; __u16 exttype; __u8 ctx_alg; __u8 ctx_doi; __u16 ctx_len; };  8 bytes + string */
export const SCTX_LEN: u32 = 0;
export const SCTX_EXTTYPE: u32 = 2;
export const SCTX_ALG: u32 = 4;
export const SCTX_DOI: u32 = 5;
export const SCTX_CTX_LEN: u32 = 6;
export const SCTX_SIZE: u32 = 8;

/* struct xfrm_mark { __u32 v; __u32 m; };  8 bytes */
export const MARK_SIZE: u32 = 8;
/* struct xfrm_userpolicy_type { __u8 type; __u16 reserved1; __u8 reserved2; };  6 bytes */
export const UPT_SIZE: u32 = 6;
/* struct xfrm_replay_state { __u32 oseq; __u32 seq; __u32 bitmap; };  12 bytes */
export const RS_OSEQ: u32 = 0;
export const RS_SEQ: u32 = 4;
export const RS_BITMAP: u32 = 8;
export const RS_SIZE: u32 = 12;
/* struct xfrm_replay_state_esn { unsigned int bmp_len; __u32 oseq; __u32 seq; __u32 oseq_hi; __u32 seq_hi;
 *   __u32 replay_window; __u32 bmp[]; };  24 + 4·bmp_len */
export const ESN_BMP_LEN: u32 = 0;
export const ESN_OSEQ: u32 = 4;
export const ESN_SEQ: u32 = 8;
export const ESN_OSEQ_HI: u32 = 12;
export const ESN_SEQ_HI: u32 = 16;
export const ESN_REPLAY_WINDOW: u32 = 20;
export const ESN_BMP: u32 = 24;
export const ESN_SIZE: u32 = 24;
/* struct xfrm_address_filter { xfrm_address_t saddr; xfrm_address_t daddr; __u16 family; __u8 splen; __u8 dplen; };  36 */
export const AF_SADDR: u32 = 0;
export const AF_DADDR: u32 = 16;
export const AF_FAMILY: u32 = 32;
export const AF_SPLEN: u32 = 34;
export const AF_DPLEN: u32 = 35;
export const AF_SIZE: u32 = 36;

/** NLMSG_ALIGN / NLA_ALIGN: round up to 4. */
// @ts-ignore: decorator
@inline export function align4(n: u32): u32 {
  return (n + 3) & ~3;
}

/** Byte-swap a 16-bit value (network ↔ host order). */
// @ts-ignore: decorator
@inline export function bswap16(v: u32): u32 {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/** Copy 16 bytes (an xfrm_address_t). */
// @ts-ignore: decorator
@inline export function copy16(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst + 8, load<u64>(src + 8));
}

/** Fixed-part size of an XFRM message type; -1 if unknown. GET* dump requests carry no struct. */
export function xfrmFixedSize(type: u32, nlflags: u32): i32 {
  switch (type) {
    case XFRM_MSG_NEWSA: case XFRM_MSG_UPDSA: return USI_SIZE;
    case XFRM_MSG_DELSA: return UID_SIZE;
    case XFRM_MSG_GETSA: return (nlflags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : UID_SIZE;
    case XFRM_MSG_NEWPOLICY: case XFRM_MSG_UPDPOLICY: return UPI_SIZE;
    case XFRM_MSG_DELPOLICY: return UPID_SIZE;
    case XFRM_MSG_GETPOLICY: return (nlflags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : UPID_SIZE;
    case XFRM_MSG_ALLOCSPI: return USPI_SIZE;
    case XFRM_MSG_ACQUIRE: return UACQ_SIZE;
    case XFRM_MSG_EXPIRE: return UEXP_SIZE;
    case XFRM_MSG_POLEXPIRE: return UPEXP_SIZE;
    case XFRM_MSG_FLUSHSA: return 1;
    case XFRM_MSG_FLUSHPOLICY: return 0;
    case XFRM_MSG_NEWAE: case XFRM_MSG_GETAE: return AEV_SIZE;
    case XFRM_MSG_REPORT: return UREP_SIZE;
    case XFRM_MSG_MIGRATE: return UPID_SIZE;
    case XFRM_MSG_NEWSADINFO: case XFRM_MSG_GETSADINFO: case XFRM_MSG_NEWSPDINFO: case XFRM_MSG_GETSPDINFO: return 4;
    case XFRM_MSG_MAPPING: return UMAP_SIZE;
    case XFRM_MSG_SETDEFAULT: case XFRM_MSG_GETDEFAULT: return 3;
    default: return -1;
  }
}
