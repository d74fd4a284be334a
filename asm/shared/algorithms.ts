// asm/shared/algorithms.ts — the algorithm table, one row per (kind, name), shared by asc and tsc.
// Owns: setkey names → PF_KEY ids (linux/pfkeyv2.h), PF_KEY ids → kernel crypto names and the key sizes
// and ICV truncation the kernel advertises for them (net/xfrm/xfrm_algo.c, 6.1: the entries with
// pfkey_supported = 1), and the names setkey's dumps print (ipsec-tools src/libipsec/pfkey_dump.c).
// Parallel arrays of plain literals so both compilers accept the file unchanged.

export const ALG_KIND_AUTH = 1;
export const ALG_KIND_ENC = 2;
export const ALG_KIND_COMP = 3;

// ---- Kernel algorithms reachable through PF_KEY (xfrm_algo.c) ----
// index i describes one kernel algorithm: kind, PF_KEY id, kernel name, min/max key bits, default ICV
// truncation bits (auth only; 0 elsewhere).
export const KALG_KIND = [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3];
export const KALG_ID = [251, 2, 3, 5, 6, 7, 8, 9, 11, 2, 3, 6, 7, 12, 252, 22, 253, 13, 24, 2, 3, 4];
export const KALG_NAME = [
  "digest_null", "hmac(md5)", "hmac(sha1)", "hmac(sha256)", "hmac(sha384)", "hmac(sha512)", "hmac(rmd160)", "xcbc(aes)",
  "ecb(cipher_null)", "cbc(des)", "cbc(des3_ede)", "cbc(cast5)", "cbc(blowfish)", "cbc(aes)", "cbc(serpent)",
  "cbc(camellia)", "cbc(twofish)", "rfc3686(ctr(aes))", "cbc(sm4)",
  "deflate", "lzs", "lzjh",
];
export const KALG_MINBITS = [0, 128, 160, 256, 384, 512, 160, 128, 0, 64, 192, 40, 40, 128, 128, 128, 128, 160, 128, 0, 0, 0];
export const KALG_MAXBITS = [0, 128, 160, 256, 384, 512, 160, 128, 0, 64, 192, 128, 448, 256, 256, 256, 256, 288, 128, 0, 0, 0];
export const KALG_TRUNC = [0, 96, 96, 96, 192, 256, 96, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

// ---- setkey's algorithm names (token.l) → PF_KEY id and the KAME flags they imply ----
// SKALG_FLAGS: 0x10 SADB_X_EXT_IV4B (des-32iv), 0x20 SADB_X_EXT_DERIV (des-deriv);
// SKALG_NOKEY: 1 = takes no key (ALG_AUTH_NOKEY / ALG_ENC_NOKEY), 2 = obsolete (ALG_ENC_OLD: "simple").
export const SKALG_KIND = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3];
export const SKALG_NAME = [
  "hmac-md5", "hmac-sha1", "keyed-md5", "keyed-sha1", "hmac-sha256", "hmac-sha2-256", "hmac-sha384", "hmac-sha2-384",
  "hmac-sha512", "hmac-sha2-512", "hmac-ripemd160", "aes-xcbc-mac", "null",
  "des-cbc", "3des-cbc", "null", "simple", "blowfish-cbc", "cast128-cbc", "des-deriv", "des-32iv", "twofish-cbc",
  "aes-cbc", "rijndael-cbc", "aes-ctr", "camellia-cbc",
  "oui", "deflate", "lzs",
];
export const SKALG_ID = [2, 3, 249, 250, 5, 5, 6, 6, 7, 7, 8, 9, 251, 2, 3, 11, 11, 7, 6, 2, 2, 253, 12, 12, 13, 22, 1, 2, 3];
export const SKALG_FLAGS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x10, 0, 0, 0, 0, 0, 0, 0, 0];
export const SKALG_NOKEY = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

// ---- Names setkey's dumps print for a PF_KEY id (pfkey_dump.c str_alg_auth/enc/comp); others print the number ----
export const DUMP_AUTH_ID = [0, 2, 3, 249, 250, 251, 5, 6, 7, 8, 9];
export const DUMP_AUTH_NAME = ["none", "hmac-md5", "hmac-sha1", "md5", "sha", "null", "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-ripemd160", "aes-xcbc-mac"];
export const DUMP_ENC_ID = [0, 2, 3, 11, 6, 7, 12, 253, 13, 22];
export const DUMP_ENC_NAME = ["none", "des-cbc", "3des-cbc", "null", "cast128-cbc", "blowfish-cbc", "aes-cbc", "twofish-cbc", "aes-ctr", "camellia-cbc"];
export const DUMP_COMP_ID = [0, 1, 2, 3];
export const DUMP_COMP_NAME = ["none", "oui", "deflate", "lzs"];
