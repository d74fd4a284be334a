// asm/shared/ip-diag.ts — `keyfleet ip` parser contract shared by asc (asm/src/ip-parse.ts) and tsc (src/wasm/ip-parse.ts).
// Owns: IPD_* diagnostic classes (each one of iproute2 6.1's error printers: lib/utils.c invarg/missarg/duparg/
// get_prefix…, ip/xfrm_*.c fprintf+exit), the message tables they index, IPC_* command codes (R_AUX of records the ip
// parser makes), IPF_* filter/presence bits (R_AUX2) and the /etc/protocols table getprotobyname() would consult.
// Plain consts and literal arrays only.

// ---- Diagnostic classes (D_CODE). D_START/D_END = the offending word in the input; D_ARG/D_COL as noted. ----
export const IPD_INVARG = 1;     // Error: argument "WORD" is wrong: IP_MSG[D_ARG]                     exit 255
export const IPD_MISSARG = 2;    // Error: argument "IP_KEY[D_ARG]" is required                          exit 255
export const IPD_DUPARG = 3;     // Error: duplicate "IP_KEY[D_ARG]": "WORD" is the second value.         exit 255
export const IPD_DUPARG2 = 4;    // Error: either "SELECTOR" is duplicate, or "INDEX" is a garbage.     exit 255
export const IPD_INCOMPLETE = 5; // Command line is not complete. Try option "help"                       exit 255
export const IPD_PREFIX = 6;     // Error: FAMILY(D_ARG) prefix is expected rather than "WORD".          exit 1
export const IPD_ADDR = 7;       // Error: FAMILY(D_ARG) address is expected rather than "WORD".         exit 1
export const IPD_PLAIN = 8;      // IP_PLAIN[D_ARG] with %s = xfrm proto name of D_COL (or PROTO name)   exit IP_PLAIN_EXIT
export const IPD_USAGE = 9;      // usage text of object D_ARG (IPO_*)                                   exit 255
export const IPD_UNKNOWN_CMD = 10; // Command "WORD" is unknown, try "ip xfrm OBJ help".  (D_ARG = IPO_*) exit 255
export const IPD_UNKNOWN_OBJ = 11; // Object "WORD" is unknown, try "ip help".                           exit 1 (batch goes on with -force)
export const IPD_UNSUPPORTED = 12; // keyfleet: "WORD" is not supported by keyfleet ip                   exit 1
export const IPD_REPLAY_MAX = 13;  // Error: replay-window (D_ARG) > XFRMA_REPLAY_ESN_MAX (4096).        exit 255
export const IPD_UNTERMINATED = 14; // Unterminated quoted string                                         exit 1
export const IPD_TOO_MANY = 15;   // Too many arguments to command                                        exit 1
export const IPD_CONTINUATION = 16; // Missing continuation line (batch ends)                             exit 0 (ends input)
export const IPD_MONITOR_ARG = 17;  // Argument "WORD" is unknown, try "ip xfrm monitor help".           exit 255

// ---- Objects for usage texts (D_ARG of IPD_USAGE / IPD_UNKNOWN_CMD) ----
export const IPO_XFRM = 0;
export const IPO_STATE = 1;
export const IPO_POLICY = 2;
export const IPO_IP = 3;
export const IPO_MONITOR = 4;

// ---- invarg messages (IPD_INVARG D_ARG). Those ending in \n print an extra empty line, as ip does. ----
export const IP_MSG = [
  "unknown",                                                                  // 0
  "XFRM-PROTO value is invalid",                                              // 1
  "SPI value is invalid",                                                     // 2
  "value after \"src\" has an unrecognized address family",                   // 3
  "value after \"dst\" has an unrecognized address family",                   // 4
  "the same address family is required between values after \"src\" and \"dst\"", // 5
  "MODE value is invalid",                                                    // 6
  "ENCAP-TYPE value is invalid",                                              // 7
  "REQID value is invalid",                                                   // 8
  "PROTO value is invalid",                                                   // 9
  "value after \"sport\" is invalid",                                         // 10
  "value after \"dport\" is invalid",                                         // 11
  "value after \"type\" is invalid",                                          // 12
  "value after \"code\" is invalid",                                          // 13
  "DEV value is invalid",                                                     // 14
  "value after \"time-soft\" is invalid",                                     // 15
  "value after \"time-hard\" is invalid",                                     // 16
  "value after \"time-use-soft\" is invalid",                                 // 17
  "value after \"time-use-hard\" is invalid",                                 // 18
  "value after \"byte-soft\" is invalid",                                     // 19
  "value after \"byte-hard\" is invalid",                                     // 20
  "value after \"packet-soft\" is invalid",                                   // 21
  "value after \"packet-hard\" is invalid",                                   // 22
  "LIMIT value is invalid",                                                   // 23
  "MARK value is invalid\n",                                                  // 24
  "MASK value is invalid\n",                                                  // 25
  "ALGO-KEYMAT value makes buffer overflow\n",                                // 26
  "ALGO-KEYMAT value is invalid",                                             // 27
  "SEQ value is invalid",                                                     // 28
  "FLAG value is invalid",                                                    // 29
  "\"EXTRA-FLAG\" is invalid",                                                // 30
  "value after \"replay-window\" is invalid",                                 // 31
  "value after \"replay-seq\" is invalid",                                    // 32
  "value after \"replay-seq-hi\" is invalid",                                 // 33
  "value after \"replay-oseq\" is invalid",                                   // 34
  "value after \"replay-oseq-hi\" is invalid",                                // 35
  "SPORT value after \"encap\" is invalid",                                   // 36
  "DPORT value after \"encap\" is invalid",                                   // 37
  "value after \"coa\" has an unrecognized address family",                   // 38
  "value after \"if_id\" is invalid",                                         // 39
  "value after \"tfcpad\" is invalid",                                        // 40
  "value after \"output-mark\" is invalid",                                   // 41
  "ALGO-ICV-LEN value is invalid",                                            // 42
  "ALGO-TRUNC-LEN value is invalid",                                          // 43
  "value after \"min\" is invalid",                                           // 44
  "value after \"max\" is invalid",                                           // 45
  "DIR value is invalid",                                                     // 46
  "PTYPE value is invalid",                                                   // 47
  "ACTION value is invalid\n",                                                // 48
  "PRIORITY value is invalid",                                                // 49
  "INDEX value is invalid",                                                   // 50
  "IF_ID value is invalid",                                                   // 51
  "LEVEL value is invalid\n",                                                 // 52
  "invalid protocol family",                                                  // 53
  "mask value is invalid\n",                                                  // 54
  "hthresh4 LBITS value is invalid",                                          // 55
  "hthresh4 RBITS value is invalid",                                          // 56
  "hthresh6 LBITS value is invalid",                                          // 57
  "hthresh6 RBITS value is invalid",                                          // 58
  "in policy value is invalid",                                               // 59
  "fwd policy value is invalid",                                              // 60
  "out policy value is invalid",                                              // 61
  "unknown direction",                                                        // 62
  "value after \"offload dev\" is invalid",                                   // 63
  "value after \"offload dir\" is invalid",                                   // 64
];

// ---- missarg / duparg keys ----
export const IP_KEY = [
  "XFRM-PROTO", "ID", "UPSPEC", "SELECTOR", "TMPL", "ALGO-NAME", "ALGO-KEYMAT", "ALGO-ICV-LEN", "ALGO-TRUNC-LEN",
  "ALGO-TYPE", "dir", "ctx", "ptype", "index", "coa", "min", "max", "unknown", "proto", "hthresh4", "hthresh6",
  "in", "fwd", "out",
];
export const K_XFRM_PROTO = 0; export const K_ID = 1; export const K_UPSPEC = 2; export const K_SELECTOR = 3;
export const K_TMPL = 4; export const K_ALGO_NAME = 5; export const K_ALGO_KEYMAT = 6; export const K_ALGO_ICV = 7;
export const K_ALGO_TRUNC = 8; export const K_ALGO_TYPE = 9; export const K_DIR = 10; export const K_CTX = 11;
export const K_PTYPE = 12; export const K_INDEX = 13; export const K_COA = 14; export const K_MIN = 15; export const K_MAX = 16;
export const K_UNKNOWN = 17; export const K_PROTO = 18; export const K_HTHRESH4 = 19; export const K_HTHRESH6 = 20;
export const K_IN = 21; export const K_FWD = 22; export const K_OUT = 23;

// ---- plain messages (IPD_PLAIN D_ARG); %s is replaced by the xfrm proto name of D_COL (PX) or the IP proto name (PP) ----
export const IP_PLAIN = [
  "\"spi\" is invalid with XFRM-PROTO value \"%s\"",                         // 0 PX
  "SPI value is too large with XFRM-PROTO value \"%s\"",                     // 1 PX
  "\"sport\" and \"dport\" are invalid with PROTO value \"%s\"",             // 2 PP
  "\"type\" and \"code\" are invalid with PROTO value \"%s\"",               // 3 PP
  "\"key\" is invalid with PROTO value \"%s\"",                              // 4 PP
  "value after \"key\" is invalid",                                          // 5 (exit 255)
  "Error: esn flag set without replay-window.",                              // 6 (exit 255)
  "Not enough information: ID is required",                                  // 7
  "MODE value is invalid with XFRM-PROTO value \"%s\"",                      // 8 PX
  "ALGO-TYPE value \"comp\" is invalid with XFRM-PROTO value \"%s\"",        // 9 PX
  "ALGO-TYPE value \"enc\" or \"aead\" is required with XFRM-PROTO value \"%s\"", // 10 PX
  "ALGO-TYPE values \"enc\", \"aead\", and \"comp\" are invalid with XFRM-PROTO value \"%s\"", // 11 PX
  "ALGO-TYPE value \"auth\" or \"auth-trunc\" is required with XFRM-PROTO value \"%s\"", // 12 PX
  "ALGO-TYPE values \"enc\", \"auth\", \"auth-trunc\", and \"aead\" are invalid with XFRM-PROTO value \"%s\"", // 13 PX
  "ALGO-TYPE value \"comp\" is required with XFRM-PROTO value \"%s\"",       // 14 PX
  "ALGO is invalid with XFRM-PROTO value \"%s\"",                            // 15 PX
  "\"mode\" is required with XFRM-PROTO value \"%s\"",                       // 16 PX
  "\"coa\" is required with XFRM-PROTO value \"%s\"",                        // 17 PX
  "\"coa\" is invalid with XFRM-PROTO value \"%s\"",                         // 18 PX
  "\"spi\" is invalid",                                                      // 19
  "\"max\" is missing",                                                      // 20
  "\"min\" is missing",                                                      // 21
  "value after \"min\" is larger than value after \"max\"",                  // 22
  "Not enough information: DIR is required.",                                // 23
  "Not enough information: either SELECTOR or INDEX is required.",           // 24
  "Too many tmpls: buffer overflow",                                         // 25
];
/** 0 = no %s, 1 = xfrm proto name (strxf_xfrmproto), 2 = IP protocol name (strxf_proto). */
export const IP_PLAIN_ARG = [1, 1, 2, 2, 2, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
export const IP_PLAIN_EXIT = [1, 1, 1, 1, 1, 255, 255, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];

// ---- IPC_*: what a parsed line asks for (R_AUX). Records of kinds the encoder knows carry OP_*; the others OP_NONE. ----
export const IPC_NONE = 0;
export const IPC_SA_ADD = 1; export const IPC_SA_UPDATE = 2; export const IPC_SA_ALLOCSPI = 3; export const IPC_SA_DELETE = 4;
export const IPC_SA_DELETEALL = 5; export const IPC_SA_LIST = 6; export const IPC_SA_GET = 7; export const IPC_SA_FLUSH = 8;
export const IPC_SA_COUNT = 9;
export const IPC_SP_ADD = 16; export const IPC_SP_UPDATE = 17; export const IPC_SP_DELETE = 18; export const IPC_SP_DELETEALL = 19;
export const IPC_SP_LIST = 20; export const IPC_SP_GET = 21; export const IPC_SP_FLUSH = 22; export const IPC_SP_COUNT = 23;
export const IPC_SP_SET = 24; export const IPC_SP_SETDEFAULT = 25; export const IPC_SP_GETDEFAULT = 26;
export const IPC_MONITOR = 30;

// ---- IPF_*: R_AUX2 bits (list/deleteall filters as ip's `filter` struct keeps them, and presence of options) ----
export const IPF_USE = 1;          // filter.use
export const IPF_NOKEYS = 2;
export const IPF_SPI = 4;          // R_SPI
export const IPF_PROTO = 8;        // R_PROTO
export const IPF_MODE = 16;        // R_MODE
export const IPF_REQID = 32;       // R_REQID
export const IPF_SAFLAGS = 64;     // R_SAFLAGS
export const IPF_SEL_SRC = 128;    // R_SEL saddr / prefixlen_s (policy list) ; SA list: id src (R_SADDR, prefixlen in SEL_PREFIXLEN_S)
export const IPF_SEL_DST = 256;
export const IPF_SEL_DEV = 512;
export const IPF_UPSPEC_PROTO = 1024;
export const IPF_UPSPEC_SPORT = 2048;
export const IPF_UPSPEC_DPORT = 4096;
export const IPF_DIR = 8192;
export const IPF_INDEX = 16384;
export const IPF_PTYPE = 32768;
export const IPF_ACTION = 65536;
export const IPF_PRIORITY = 131072;
export const IPF_POLFLAGS = 262144;
export const IPF_NOSOCK = 524288;
export const IPF_ID_SRC = 1048576; // SA list: src given (mask in SEL_PREFIXLEN_S)
export const IPF_ID_DST = 2097152;

// ---- R_AUX2 bits of `policy set`, `policy setdefault` and `monitor` records (above the filter bits) ----
// policy set: hthresh4 LBITS|RBITS<<8 in R_SPI_MIN, hthresh6 in R_SPI_MAX (xfrmu_spdhthresh), attributes in
// command-line order. policy setdefault: in | fwd<<8 | out<<16 in R_SPI_MIN (struct xfrm_userpolicy_default).
// monitor: groups (bit g-1 for XFRMNLGRP g) in R_SPI_MAX; `file FILE` in R_CTX_OFF/R_CTX_LEN (blob).
export const IPS_HTHRESH4 = 1 << 24;
export const IPS_HTHRESH6 = 1 << 25;
export const IPS_HTHRESH6_FIRST = 1 << 26;
export const IPM_ALL_NSID = 1 << 24;
export const IPM_FILE = 1 << 25;

// ---- ipParse flags ----
export const IPP_BATCH = 1;        // input is a batch file (lines of `xfrm …` without the leading `ip`)
export const IPP_STOP_AT_LIST = 2; // stop after a list/deleteall line (ip exits 0 there) and after the first error

// ---- /etc/protocols (Debian netbase) for getprotobyname()/getprotobynumber(): names and aliases ----
export const PROTO_NAME = [
  "ip", "IP", "hopopt", "HOPOPT", "icmp", "ICMP", "igmp", "IGMP", "ggp", "GGP", "ipencap", "IP-ENCAP", "st", "ST",
  "tcp", "TCP", "egp", "EGP", "igp", "IGP", "pup", "PUP", "udp", "UDP", "hmp", "HMP", "xns-idp", "XNS-IDP", "rdp", "RDP",
  "iso-tp4", "ISO-TP4", "dccp", "DCCP", "xtp", "XTP", "ddp", "DDP", "idpr-cmtp", "IDPR-CMTP", "ipv6", "IPv6",
  "ipv6-route", "IPv6-Route", "ipv6-frag", "IPv6-Frag", "idrp", "IDRP", "rsvp", "RSVP", "gre", "GRE", "esp", "IPSEC-ESP",
  "ah", "IPSEC-AH", "skip", "SKIP", "ipv6-icmp", "IPv6-ICMP", "ipv6-nonxt", "IPv6-NoNxt", "ipv6-opts", "IPv6-Opts",
  "rspf", "RSPF", "CPHB", "vmtp", "VMTP", "eigrp", "EIGRP", "ospf", "OSPFIGP", "ax.25", "AX.25", "ipip", "IPIP",
  "etherip", "ETHERIP", "encap", "ENCAP", "pim", "PIM", "ipcomp", "IPCOMP", "vrrp", "VRRP", "l2tp", "L2TP", "isis", "ISIS",
  "sctp", "SCTP", "fc", "FC", "mobility-header", "Mobility-Header", "udplite", "UDPLite", "mpls-in-ip", "MPLS-in-IP",
  "manet", "hip", "HIP", "shim6", "Shim6", "wesp", "WESP", "rohc", "ROHC", "ethernet", "Ethernet", "mptcp", "MPTCP",
];
export const PROTO_NUM = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 8, 8, 9, 9, 12, 12, 17, 17, 20, 20, 22, 22, 27, 27, 29, 29, 33, 33,
  36, 36, 37, 37, 38, 38, 41, 41, 43, 43, 44, 44, 45, 45, 46, 46, 47, 47, 50, 50, 51, 51, 57, 57, 58, 58, 59, 59, 60, 60,
  73, 73, 73, 81, 81, 88, 88, 89, 89, 93, 93, 94, 94, 97, 97, 98, 98, 103, 103, 108, 108, 112, 112, 115, 115, 124, 124,
  132, 132, 133, 133, 135, 135, 136, 136, 137, 137, 138, 139, 139, 140, 140, 141, 141, 142, 142, 143, 143, 262, 262,
];
