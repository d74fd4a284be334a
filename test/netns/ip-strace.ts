// test/netns/ip-strace.ts — what `ip` sends, for byte comparisons (layer: tests helper, tiers netns and kernel).
// Owns running iproute2's ip under strace, rebuilding the netlink messages it sent, and masking the bytes ip leaves
// uninitialised, so a request encoded by keyfleet can be compared with ip's byte for byte (seq and pid aside).
import { spawnSync } from 'node:child_process';
import { parseIpArgv } from '../../src/wasm/ip-parse.js';
import { encodeXfrm } from '../../src/wasm/xfrm-codec.js';
import { wasm } from '../../src/wasm/index.js';

/** The netlink messages `ip -n NETNS ARGS` sent (strace), the last one being the XFRM request. */
export function sentByIp(netns: string, args: string[]): Buffer[] {
  const r = spawnSync('strace', ['-X', 'raw', '-f', '-e', 'trace=sendmsg,sendto', '-xx', '-s', '65536', 'ip', '-n', netns, ...args], { encoding: 'utf8' });
  const re = /\{nlmsg_len=(\d+), nlmsg_type=0x([0-9a-f]+), nlmsg_flags=0x([0-9a-f]+), nlmsg_seq=\d+, nlmsg_pid=\d+\}(?:, "((?:\\x[0-9a-f]{2})*)")?/g;
  const out: Buffer[] = [];
  for (let m; (m = re.exec(r.stderr));) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Number(m[1]), 0); h.writeUInt16LE(parseInt(m[2]!, 16), 4); h.writeUInt16LE(parseInt(m[3]!, 16), 6);
    out.push(Buffer.concat([h, Buffer.from((m[4] ?? '').replace(/\\x/g, ''), 'hex')]));
  }
  return out;
}

/**
 * Hex of an XFRM_MSG_NEWSA/UPDSA message with seq, pid and ip's garbage zeroed. XFRMA_ENCAP: ip's struct
 * xfrm_encap_tmpl and inet_prefix `oa` are not zeroed (xfrm_state_modify), so the two padding bytes after
 * encap_dport and bytes 4..15 of an IPv4 encap_oa are stack garbage (zeros on this host, ff ff 00 00 in the VM).
 * `fixed` is the size of the message's fixed part (struct xfrm_usersa_info: 224).
 */
export function maskIpGarbage(b: Buffer, fixed = 224): string {
  const c = Buffer.from(b);
  c.fill(0, 8, 16); // seq, pid
  for (let a = 16 + fixed; a + 4 <= c.length;) {
    const len = c.readUInt16LE(a), type = c.readUInt16LE(a + 2);
    if (len < 4) break;
    if (type === 4 && len >= 28) { c.fill(0, a + 4 + 6, a + 4 + 8); c.fill(0, a + 4 + 8 + 4, a + 4 + 8 + 16); } // oa at 8
    a += (len + 3) & ~3;
  }
  return c.toString('hex');
}

/**
 * Runs `ip -n NETNS ARGS` under strace and encodes ARGS with keyfleet (one wasm parse + encode): null when the
 * XFRM requests are byte-identical after masking, else what differs. The bytes keyfleet sends past ip's message
 * (none for one record) are not compared.
 */
export function requestDiff(netns: string, args: string[], fixed = 224): string | null {
  const sent = sentByIp(netns, args);
  const want = sent[sent.length - 1];
  if (!want) return 'strace saw no message';
  wasm().exports.resetAll();
  const res = parseIpArgv(args);
  if (res.end === res.first) return 'keyfleet parsed no record';
  const enc = encodeXfrm(res.first, res.end, { seqBase: 1, ack: 'ip' });
  const ours = maskIpGarbage(enc.bytes.subarray(0, want.length), fixed), theirs = maskIpGarbage(want, fixed);
  return ours === theirs ? null : `ip:       ${theirs}\n  keyfleet: ${maskIpGarbage(enc.bytes, fixed)}`;
}
