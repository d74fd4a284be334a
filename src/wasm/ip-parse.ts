// src/wasm/ip-parse.ts — TypeScript face of the `ip xfrm` parser (layer: asm bindings). Owns: handing argv words or a
// whole -batch file to asm ipParse (asm/src/ip-parse.ts), reading back its diagnostics, and turning a diagnostic into
// the exact stderr text and exit status iproute2 6.1 produces (lib/utils.c invarg/missarg/duparg…, ip/xfrm_*.c).
import { REGION_RECORDS, REGION_DIAG, REC_SIZE, DIAG_SIZE, D_CODE, D_START, D_END, D_LINE, D_COL, D_ARG, D_STMT } from '../../asm/shared/layout.js';
import * as D from '../../asm/shared/ip-diag.js';
import { wasm } from './index.js';

interface IpParseExports {
  ipParse(len: number, family: number, flags: number): number;
  ipParseConsumed(): number;
  ipParseIfBuffer(): number;
  ipParseIfMax(): number;
  ipParseSetIfCount(n: number): void;
}

/** The links `dev NAME` / `offload dev NAME` resolve against (ll_name_to_index in the target netns): index → name. */
export function setIpParseLinks(links: Map<number, string>): void {
  const w = wasm();
  const f = w.fns<IpParseExports>();
  const buf = f.ipParseIfBuffer() >>> 0;
  const max = f.ipParseIfMax();
  let n = 0;
  for (const [idx, name] of links) {
    const b = Buffer.from(name, 'latin1');
    if (n >= max || b.length > 19) continue;
    w.dv.setInt32(buf + 24 * n, idx, true);
    w.u8[buf + 24 * n + 4] = b.length;
    w.u8.set(b, buf + 24 * n + 5);
    n++;
  }
  f.ipParseSetIfCount(n);
}

export interface IpDiag {
  code: number;
  /** The offending word (bytes of the input). */
  word: Buffer;
  line: number;
  arg: number;
  arg2: number;
  stmt: number;
}

export interface IpParseResult {
  /** Records [first, end) of REGION_RECORDS. */
  first: number;
  end: number;
  diags: IpDiag[];
  /** Input bytes consumed (batch: through the line parsing stopped after). */
  consumed: number;
}

function readDiags(input: Buffer): IpDiag[] {
  const w = wasm();
  const n = w.regionLen(REGION_DIAG) / DIAG_SIZE;
  const out: IpDiag[] = [];
  const dv = w.dv;
  const base = w.regionPtr(REGION_DIAG);
  for (let i = 0; i < n; i++) {
    const p = base + i * DIAG_SIZE;
    const s = dv.getUint32(p + D_START, true), e = dv.getUint32(p + D_END, true);
    out.push({
      code: dv.getUint32(p + D_CODE, true), word: input.subarray(s, e), line: dv.getUint32(p + D_LINE, true),
      arg: dv.getUint32(p + D_ARG, true), arg2: dv.getUint32(p + D_COL, true), stmt: dv.getUint32(p + D_STMT, true),
    });
  }
  return out;
}

/** Parse one command line: argv after ip's global options, starting with the object (`xfrm`). */
export function parseIpArgv(words: string[], family = 0): IpParseResult {
  const parts: Buffer[] = [];
  for (const wd of words) parts.push(Buffer.from(wd, 'utf8'), Buffer.alloc(1));
  const input = Buffer.concat(parts);
  return parseIpInput(input, family, 0);
}

/**
 * Parse an `ip -batch` file in one call: one record per non-blank line (R_LINE = ip's line number).
 * stopAtList: stop after the first diagnostic and after the first list/deleteall line, as ip's exit() does.
 */
export function parseIpBatch(text: Buffer, family = 0, stopAtList = true): IpParseResult {
  return parseIpInput(text, family, D.IPP_BATCH | (stopAtList ? D.IPP_STOP_AT_LIST : 0));
}

function parseIpInput(input: Buffer, family: number, flags: number): IpParseResult {
  const w = wasm();
  const f = w.fns<IpParseExports>();
  const first = w.regionLen(REGION_RECORDS) / REC_SIZE;
  w.setInput(input);
  f.ipParse(input.length, family, flags);
  const end = w.regionLen(REGION_RECORDS) / REC_SIZE;
  return { first, end, diags: readDiags(input), consumed: f.ipParseConsumed() >>> 0 };
}

export const USAGE_XFRM = `Usage: ip xfrm XFRM-OBJECT { COMMAND | help }
where  XFRM-OBJECT := state | policy | monitor
`;
export const USAGE_STATE = `Usage: ip xfrm state { add | update } ID [ ALGO-LIST ] [ mode MODE ]
        [ mark MARK [ mask MASK ] ] [ reqid REQID ] [ seq SEQ ]
        [ replay-window SIZE ] [ replay-seq SEQ ] [ replay-oseq SEQ ]
        [ replay-seq-hi SEQ ] [ replay-oseq-hi SEQ ]
        [ flag FLAG-LIST ] [ sel SELECTOR ] [ LIMIT-LIST ] [ encap ENCAP ]
        [ coa ADDR[/PLEN] ] [ ctx CTX ] [ extra-flag EXTRA-FLAG-LIST ]
        [ offload [dev DEV] dir DIR ]
        [ output-mark OUTPUT-MARK [ mask MASK ] ]
        [ if_id IF_ID ] [ tfcpad LENGTH ]
Usage: ip xfrm state allocspi ID [ mode MODE ] [ mark MARK [ mask MASK ] ]
        [ reqid REQID ] [ seq SEQ ] [ min SPI max SPI ]
Usage: ip xfrm state { delete | get } ID [ mark MARK [ mask MASK ] ]
Usage: ip xfrm state deleteall [ ID ] [ mode MODE ] [ reqid REQID ]
        [ flag FLAG-LIST ]
Usage: ip xfrm state list [ nokeys ] [ ID ] [ mode MODE ] [ reqid REQID ]
        [ flag FLAG-LIST ]
Usage: ip xfrm state flush [ proto XFRM-PROTO ]
Usage: ip xfrm state count
ID := [ src ADDR ] [ dst ADDR ] [ proto XFRM-PROTO ] [ spi SPI ]
XFRM-PROTO := esp | ah | comp | route2 | hao
ALGO-LIST := [ ALGO-LIST ] ALGO
ALGO := { enc | auth } ALGO-NAME ALGO-KEYMAT |
        auth-trunc ALGO-NAME ALGO-KEYMAT ALGO-TRUNC-LEN |
        aead ALGO-NAME ALGO-KEYMAT ALGO-ICV-LEN |
        comp ALGO-NAME
MODE := transport | tunnel | beet | ro | in_trigger
FLAG-LIST := [ FLAG-LIST ] FLAG
FLAG := noecn | decap-dscp | nopmtudisc | wildrecv | icmp | af-unspec | align4 | esn
EXTRA-FLAG-LIST := [ EXTRA-FLAG-LIST ] EXTRA-FLAG
EXTRA-FLAG := dont-encap-dscp | oseq-may-wrap
SELECTOR := [ src ADDR[/PLEN] ] [ dst ADDR[/PLEN] ] [ dev DEV ] [ UPSPEC ]
UPSPEC := proto { { tcp | udp | sctp | dccp } [ sport PORT ] [ dport PORT ] |
                  { icmp | ipv6-icmp | mobility-header } [ type NUMBER ] [ code NUMBER ] |
                  gre [ key { DOTTED-QUAD | NUMBER } ] | PROTO }
LIMIT-LIST := [ LIMIT-LIST ] limit LIMIT
LIMIT := { time-soft | time-hard | time-use-soft | time-use-hard } SECONDS |
         { byte-soft | byte-hard } SIZE | { packet-soft | packet-hard } COUNT
ENCAP := { espinudp | espinudp-nonike | espintcp } SPORT DPORT OADDR
DIR := in | out
`;
export const USAGE_POLICY = `Usage: ip xfrm policy { add | update } SELECTOR dir DIR [ ctx CTX ]
	[ mark MARK [ mask MASK ] ] [ index INDEX ] [ ptype PTYPE ]
	[ action ACTION ] [ priority PRIORITY ] [ flag FLAG-LIST ]
	[ if_id IF_ID ] [ LIMIT-LIST ] [ TMPL-LIST ]
Usage: ip xfrm policy { delete | get } { SELECTOR | index INDEX } dir DIR
	[ ctx CTX ] [ mark MARK [ mask MASK ] ] [ ptype PTYPE ]
	[ if_id IF_ID ]
Usage: ip xfrm policy { deleteall | list } [ nosock ] [ SELECTOR ] [ dir DIR ]
	[ index INDEX ] [ ptype PTYPE ] [ action ACTION ] [ priority PRIORITY ]
	[ flag FLAG-LIST ]
Usage: ip xfrm policy flush [ ptype PTYPE ]
Usage: ip xfrm policy count
Usage: ip xfrm policy set [ hthresh4 LBITS RBITS ] [ hthresh6 LBITS RBITS ]
Usage: ip xfrm policy setdefault DIR ACTION [ DIR ACTION ] [ DIR ACTION ]
Usage: ip xfrm policy getdefault
SELECTOR := [ src ADDR[/PLEN] ] [ dst ADDR[/PLEN] ] [ dev DEV ] [ UPSPEC ]
UPSPEC := proto { { tcp | udp | sctp | dccp } [ sport PORT ] [ dport PORT ] |
                  { icmp | ipv6-icmp | mobility-header } [ type NUMBER ] [ code NUMBER ] |
                  gre [ key { DOTTED-QUAD | NUMBER } ] | PROTO }
DIR := in | out | fwd
PTYPE := main | sub
ACTION := allow | block
FLAG-LIST := [ FLAG-LIST ] FLAG
FLAG := localok | icmp
LIMIT-LIST := [ LIMIT-LIST ] limit LIMIT
LIMIT := { time-soft | time-hard | time-use-soft | time-use-hard } SECONDS |
         { byte-soft | byte-hard } SIZE | { packet-soft | packet-hard } COUNT
TMPL-LIST := [ TMPL-LIST ] tmpl TMPL
TMPL := ID [ mode MODE ] [ reqid REQID ] [ level LEVEL ]
ID := [ src ADDR ] [ dst ADDR ] [ proto XFRM-PROTO ] [ spi SPI ]
XFRM-PROTO := esp | ah | comp | route2 | hao
MODE := transport | tunnel | beet | ro | in_trigger
LEVEL := required | use
`;

export const USAGE_MONITOR = `Usage: ip xfrm monitor [ nokeys ] [ all-nsid ] [ all | OBJECTS | help ]
OBJECTS := { acquire | expire | SA | aevent | policy | report }
`;

/** strxf_xfrmproto (ip/ipxfrm.c). */
export function xfrmProtoName(p: number): string {
  return ({ 50: 'esp', 51: 'ah', 108: 'comp', 43: 'route2', 60: 'hao', 255: 'ipsec-any' } as Record<number, string>)[p] ?? String(p);
}

/** strxf_proto: getprotobynumber's official name, else the number. */
export function ipProtoName(p: number): string {
  for (let i = 0; i < D.PROTO_NUM.length; i++) if (D.PROTO_NUM[i] === p) return D.PROTO_NAME[i]!;
  return String(p);
}

function familyVerbose(f: number): string {
  return f === 2 ? 'inet' : f === 10 ? 'inet6' : 'any valid';
}

export interface IpDiagText {
  stderr: string;
  /** ip's exit status (exit(-1) = 255). */
  exit: number;
  /** The batch goes on after it under -force (do_cmd returned EXIT_FAILURE rather than calling exit()). */
  soft: boolean;
}

/** The exact text and exit status ip 6.1 produces for a diagnostic. */
export function ipDiagText(d: IpDiag): IpDiagText {
  const word = d.word.toString('latin1');
  const r = (stderr: string, exit: number, soft = false): IpDiagText => ({ stderr, exit, soft });
  switch (d.code) {
    case D.IPD_INVARG: return r(`Error: argument "${word}" is wrong: ${D.IP_MSG[d.arg] ?? '?'}\n`, 255);
    case D.IPD_MISSARG: return r(`Error: argument "${D.IP_KEY[d.arg] ?? '?'}" is required\n`, 255);
    case D.IPD_DUPARG: return r(`Error: duplicate "${D.IP_KEY[d.arg] ?? '?'}": "${word}" is the second value.\n`, 255);
    case D.IPD_DUPARG2: return r('Error: either "SELECTOR" is duplicate, or "INDEX" is a garbage.\n', 255);
    case D.IPD_INCOMPLETE: return r('Command line is not complete. Try option "help"\n', 255);
    case D.IPD_PREFIX: return r(`Error: ${familyVerbose(d.arg)} prefix is expected rather than "${word}".\n`, 1);
    case D.IPD_ADDR:
      if (d.arg === 0xffff) return r(`Error: an IP address is expected rather than "${word}"\n`, 1);
      return r(`Error: ${familyVerbose(d.arg)} address is expected rather than "${word}".\n`, 1);
    case D.IPD_PLAIN: {
      let msg = D.IP_PLAIN[d.arg] ?? '?';
      const kind = D.IP_PLAIN_ARG[d.arg] ?? 0;
      if (kind === 1) msg = msg.replace('%s', xfrmProtoName(d.arg2));
      else if (kind === 2) msg = msg.replace('%s', ipProtoName(d.arg2));
      return r(`${msg}\n`, D.IP_PLAIN_EXIT[d.arg] ?? 1);
    }
    case D.IPD_USAGE:
      return r(d.arg === D.IPO_STATE ? USAGE_STATE : d.arg === D.IPO_POLICY ? USAGE_POLICY : d.arg === D.IPO_MONITOR ? USAGE_MONITOR : USAGE_XFRM, 255);
    case D.IPD_MONITOR_ARG: return r(`Argument "${word}" is unknown, try "ip xfrm monitor help".\n`, 255);
    case D.IPD_UNKNOWN_CMD:
      return r(`Command "${word}" is unknown, try "ip xfrm ${d.arg === D.IPO_STATE ? 'state' : 'policy'} help".\n`, 255);
    case D.IPD_UNKNOWN_OBJ: return r(`Object "${word}" is unknown, try "ip help".\n`, 1, true);
    case D.IPD_REPLAY_MAX: return r(`Error: replay-window (${d.arg >>> 0}) > XFRMA_REPLAY_ESN_MAX (4096).\n`, 255);
    case D.IPD_UNTERMINATED: return r('Unterminated quoted string\n', 1);
    case D.IPD_TOO_MANY: return r('Too many arguments to command\n', 1);
    case D.IPD_CONTINUATION: return r('Missing continuation line\n', 0);
    case D.IPD_UNSUPPORTED:
    default:
      return r(`keyfleet ip: ${word ? `"${word}" ` : 'this request '}is not supported by keyfleet ip\n`, 1);
  }
}
