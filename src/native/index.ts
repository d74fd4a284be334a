// src/native/index.ts — the typed entry to the native socket addon (layer: native). Owns finding and loading
// build/Release/keyfleet_native.node, validating every argument before it reaches C++ (which trusts them),
// and the socket-level constants (address families, protocols, XFRM multicast groups). Moves bytes only:
// message framing, sequence numbers and acks belong to src/kernel.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeError, RawAddon, RawNativeSocket } from './addon-types.js';

export type { NativeError } from './addon-types.js';

// <sys/socket.h>, <linux/netlink.h>, <linux/pfkeyv2.h>; checked against the compiled addon in the unit tests.
export const AF_NETLINK = 16;
export const NETLINK_XFRM = 6;
export const NETLINK_ROUTE = 0;
export const PF_KEY = 15;
export const PF_KEY_V2 = 2;

// enum xfrm_nlgroups in <linux/xfrm.h>: the multicast groups of NETLINK_XFRM (membership numbers, not
// masks). Stated once, in the table asc and tsc share.
export {
  XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE, XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_AEVENTS, XFRMNLGRP_REPORT,
  XFRMNLGRP_MIGRATE, XFRMNLGRP_MAPPING,
} from '../../asm/shared/xfrm.js';

export interface OpenOptions {
  /** A name from `ip netns` (/run/netns/NAME) or an absolute path to a netns file (e.g. /proc/PID/ns/net). */
  netns?: string;
  /** SO_SNDBUFFORCE size in bytes (SO_SNDBUF without CAP_NET_ADMIN). The kernel doubles it. A netlink
   *  send larger than the send buffer fails with EMSGSIZE, so size it for the largest batch. */
  sndbuf?: number;
  /** SO_RCVBUFFORCE size in bytes (SO_RCVBUF without CAP_NET_ADMIN). Acks and events beyond it are dropped
   *  and reported once as ENOBUFS. */
  rcvbuf?: number;
}

export interface NetlinkOpenOptions extends OpenOptions {
  /** Multicast groups to join right away (XFRMNLGRP_*). */
  groups?: readonly number[];
  /** NETLINK_LISTEN_ALL_NSID (`ip monitor all-nsid`): also receive the multicasts of every namespace this one
   *  has an nsid for (`ip netns set NAME ID`); each received Buffer is then a {@link NsidDatagram}. */
  listenAllNsid?: boolean;
}

/** A datagram read by a socket opened with `listenAllNsid`: the sender's nsid as seen from the socket's
 *  namespace, from the SOL_NETLINK/NETLINK_LISTEN_ALL_NSID cmsg; -1 when there was none (its own namespace). */
export type NsidDatagram = Buffer & { readonly nsid: number };

/** An open raw socket. Every method throws a NativeError (EBADF once closed) or a TypeError/RangeError. */
export interface RawSocket {
  readonly kind: 'netlink-xfrm' | 'netlink-route' | 'pfkey';
  /** The fd, -1 once closed. */
  readonly fd: number;
  /** The netlink port id the kernel assigned (nlmsg_pid of its replies to us); 0 for PF_KEY. */
  readonly portId: number;
  readonly closed: boolean;
  /** ONE sendmsg(2) of the whole buffer (netlink: many concatenated nlmsgs). Returns bytes sent. Waits up
   *  to 5 s for room when the socket is full (then ETIMEDOUT). */
  send(buf: Uint8Array): number;
  /** One datagram per buffer (PF_KEY), via sendmmsg(2). Returns the count sent; an error thrown after a
   *  partial send carries `sent`. */
  sendEach(bufs: readonly Uint8Array[]): number;
  /** sendEach for datagrams that lie back to back in one buffer (lengths[i] bytes each): no Buffer per datagram. */
  sendPacked(buf: Uint8Array, lengths: Uint32Array): number;
  /** Without waiting, the datagrams queued now (until EAGAIN or about maxBytes, default 64 MiB) in ONE buffer,
   *  back to back, with their lengths; empty when none is queued. Errors as recvSync. For replies a kernel
   *  queues inside our own send (af_key answers in sendmsg's context): no Buffer and no callback per reply. */
  recvPacked(maxBytes?: number): { bytes: Buffer; lengths: Uint32Array };
  /** Starts (or re-targets) the receive loop: onData gets each tick's datagrams (at most 256 or 8 MiB), in
   *  order, one exactly-sized Buffer each; onError gets receive errors (ENOBUFS: the kernel dropped
   *  messages; EMSGSIZE: a datagram over 1 MiB was dropped) and polling goes on. */
  start(onData: (datagrams: Buffer[]) => void, onError: (err: NativeError) => void): void;
  stop(): void;
  /** Blocks up to timeoutMs (default 5000, negative or Infinity: forever) for one batch; [] on timeout. */
  recvSync(timeoutMs?: number): Buffer[];
  addMembership(group: number): void;
  dropMembership(group: number): void;
  /** Sizes in bytes; an omitted one is left unchanged. */
  setBuffers(sndbuf?: number, rcvbuf?: number): void;
  /** The sizes in effect (as the kernel reports them: twice the requested value). */
  getBuffers(): { sndbuf: number; rcvbuf: number };
  /** Whether a started receive loop keeps the process alive (default: it does). */
  ref(): this;
  unref(): this;
  /** Idempotent; safe inside onData/onError. */
  close(): void;
}

const ADDON_REL = path.join('build', 'Release', 'keyfleet_native.node');
let addon: RawAddon | undefined;

/** The package root: the nearest directory above this file whose package.json is keyfleet's. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name === 'keyfleet') return dir;
      } catch { /* not ours: keep walking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`keyfleet: package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** Where the addon is expected: <package root>/build/Release/keyfleet_native.node. */
export function nativeAddonPath(): string {
  return path.join(packageRoot(), ADDON_REL);
}

/** Loads the addon once (lazily, so importing this module never fails). */
export function loadNative(): RawAddon {
  if (addon) return addon;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw Object.assign(
      new Error(`keyfleet: the native socket addon is not built (${file} is missing); run \`npm run build\``),
      { code: 'ERR_KEYFLEET_NATIVE_MISSING' },
    );
  }
  try {
    addon = createRequire(import.meta.url)(file) as RawAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw Object.assign(
      new Error(`keyfleet: cannot load the native socket addon ${file}: ${why}; rebuild it with \`npm run build\``),
      { code: 'ERR_KEYFLEET_NATIVE_LOAD', cause: e },
    );
  }
  return addon;
}

/** The C library's message for an errno ("File exists"), as setkey(8) and ip(8) print it; sign ignored. */
export function strerror(errno: number): string {
  return loadNative().strerror(Math.abs(checkInt(errno, 'errno', -INT32_MAX, INT32_MAX)));
}

/** True for errors thrown by (or reported from) the addon's system calls. */
export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).errno === 'number'
    && typeof (e as Partial<NativeError>).code === 'string' && typeof (e as Partial<NativeError>).syscall === 'string';
}

// ------------------------------------------------------------------------------------------ validation

const INT32_MAX = 0x7fffffff;

function checkInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer, got ${String(v)}`);
  if (v < min || v > max) throw new RangeError(`${what} must be in ${min}..${max}, got ${v}`);
  return v;
}

function checkBytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${what} must be a Buffer or Uint8Array`);
  return v;
}

function checkNetns(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '' || v.includes('\0')) throw new TypeError('netns must be a non-empty string');
  // A bare name is looked up in /run/netns, as `ip netns` does; it must not climb out of it.
  if (!v.startsWith('/') && (v.includes('/') || v === '.' || v === '..')) {
    throw new RangeError(`netns must be a name under /run/netns or an absolute path, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkSize(v: unknown, what: string): number {
  return v === undefined ? -1 : checkInt(v, what, 0, INT32_MAX);
}

function checkTimeout(v: unknown): number {
  if (v === undefined) return 5000;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`timeoutMs must be a number, got ${String(v)}`);
  if (v < 0 || v >= INT32_MAX) return -1;
  return Math.ceil(v);
}

// ------------------------------------------------------------------------------------------------ sockets

class NativeSocket implements RawSocket {
  constructor(readonly kind: RawSocket['kind'], private readonly raw: RawNativeSocket) {}

  get fd(): number { return this.raw.fd; }
  get portId(): number { return this.raw.portId; }
  get closed(): boolean { return this.raw.fd < 0; }

  send(buf: Uint8Array): number {
    return this.raw.send(checkBytes(buf, 'send: buf'));
  }

  sendEach(bufs: readonly Uint8Array[]): number {
    if (!Array.isArray(bufs)) throw new TypeError('sendEach: bufs must be an array of Buffers');
    bufs.forEach((b, i) => checkBytes(b, `sendEach: bufs[${i}]`));
    return this.raw.sendEach(bufs);
  }

  sendPacked(buf: Uint8Array, lengths: Uint32Array): number {
    checkBytes(buf, 'sendPacked: buf');
    if (!(lengths instanceof Uint32Array)) throw new TypeError('sendPacked: lengths must be a Uint32Array');
    let total = 0;
    for (let i = 0; i < lengths.length; i++) total += lengths[i]!;
    if (total > buf.length) throw new RangeError(`sendPacked: lengths add up to ${total} bytes, the buffer has ${buf.length}`);
    return this.raw.sendPacked(buf, lengths);
  }

  recvPacked(maxBytes?: number): { bytes: Buffer; lengths: Uint32Array } {
    const [bytes, lengths] = this.raw.recvPacked(maxBytes === undefined ? 64 << 20 : checkInt(maxBytes, 'maxBytes', 1, INT32_MAX));
    return { bytes, lengths };
  }

  start(onData: (datagrams: Buffer[]) => void, onError: (err: NativeError) => void): void {
    if (typeof onData !== 'function' || typeof onError !== 'function') {
      throw new TypeError('start(onData, onError): both must be functions');
    }
    this.raw.start(onData, onError);
  }

  stop(): void { this.raw.stop(); }

  recvSync(timeoutMs?: number): Buffer[] {
    return this.raw.recvSync(checkTimeout(timeoutMs));
  }

  addMembership(group: number): void { this.raw.addMembership(checkInt(group, 'group', 1, INT32_MAX)); }
  dropMembership(group: number): void { this.raw.dropMembership(checkInt(group, 'group', 1, INT32_MAX)); }

  setBuffers(sndbuf?: number, rcvbuf?: number): void {
    this.raw.setBuffers(checkSize(sndbuf, 'sndbuf'), checkSize(rcvbuf, 'rcvbuf'));
  }

  getBuffers(): { sndbuf: number; rcvbuf: number } { return this.raw.getBuffers(); }

  ref(): this { this.raw.ref(); return this; }
  unref(): this { this.raw.unref(); return this; }
  close(): void { this.raw.close(); }
}

function open(kind: RawSocket['kind'], family: number, protocol: number, opts: NetlinkOpenOptions): RawSocket {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const netns = checkNetns(opts.netns);
  const sndbuf = checkSize(opts.sndbuf, 'sndbuf');
  const rcvbuf = checkSize(opts.rcvbuf, 'rcvbuf');
  const groups = opts.groups ?? [];
  if (!Array.isArray(groups)) throw new TypeError('groups must be an array of group numbers');
  groups.forEach((g) => checkInt(g, 'group', 1, INT32_MAX));
  if (opts.listenAllNsid !== undefined && typeof opts.listenAllNsid !== 'boolean') throw new TypeError('listenAllNsid must be a boolean');
  const raw = loadNative().open(family, protocol, netns);
  const sock = new NativeSocket(kind, raw);
  try {
    if (sndbuf >= 0 || rcvbuf >= 0) raw.setBuffers(sndbuf, rcvbuf);
    if (opts.listenAllNsid) raw.listenAllNsid();
    for (const g of groups) raw.addMembership(g);
  } catch (e) {
    raw.close();
    throw e;
  }
  return sock;
}

/** A NETLINK_XFRM socket, bound (the kernel assigns portId), with extended and capped acks enabled. */
export function openNetlinkXfrm(opts: NetlinkOpenOptions = {}): RawSocket {
  return open('netlink-xfrm', AF_NETLINK, NETLINK_XFRM, opts);
}

/** A NETLINK_ROUTE socket (for link names: `ip xfrm`'s `dev NAME` is resolved in the target netns). */
export function openNetlinkRoute(opts: NetlinkOpenOptions = {}): RawSocket {
  return open('netlink-route', AF_NETLINK, NETLINK_ROUTE, opts);
}

/** A PF_KEY_V2 socket (RFC 2367). Throws EAFNOSUPPORT (syscall 'socket') on kernels without af_key. */
export function openPfKey(opts: OpenOptions = {}): RawSocket {
  return open('pfkey', PF_KEY, PF_KEY_V2, { netns: opts.netns, sndbuf: opts.sndbuf, rcvbuf: opts.rcvbuf });
}
