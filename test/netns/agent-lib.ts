// test/netns/agent-lib.ts — helpers of the agent tests (tiers netns and kernel): certificates made with openssl
// in a temporary directory (a CA, a second CA, leaves with SAN names), fresh uniquely named network namespaces
// that are always deleted, running commands, watchers (long-running commands whose output is collected), agents
// in-process over mTLS on 127.0.0.1:0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { startAgent, type Agent, type AgentOptions } from '../../src/agent/server.js';
import { parseRoles } from '../../src/agent/auth.js';
import { EventType, type ConnectOptions, type WatchEvent } from '../../src/client/index.js';

export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || '').trim()}`);
  return r.stdout;
}

/** A long-running command (a monitor) whose stdout/stderr are collected; done resolves when it has closed. */
export interface Watcher { child: ChildProcess; out: Buffer[]; err: Buffer[]; done: Promise<void> }

export function watch(cmd: string[]): Watcher {
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const w: Watcher = { child, out: [], err: [], done: new Promise((r) => child.on('close', () => r())) };
  child.stdout!.on('data', (d: Buffer) => w.out.push(d));
  child.stderr!.on('data', (d: Buffer) => w.err.push(d));
  return w;
}

let nsCount = 0;
export function newNetns(): string {
  const ns = `kfa-${process.pid}-${++nsCount}`;
  run('ip', ['netns', 'add', ns]);
  return ns;
}

export function delNetns(ns: string): void {
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Certificates for one test file: CA "ca", "other-ca", agent (127.0.0.1), controller/dashboard/reader, rogue (other CA). */
export class Certs {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'kf-agent-'));
  readonly roles = parseRoles(JSON.stringify({ 'controller.test': ['read', 'write', 'keys'], 'writer.test': ['read', 'write'], 'dashboard.test': ['read'] }));

  constructor() {
    this.#ca('ca');
    this.#ca('other-ca');
    this.#leaf('agent', 'ca', 'IP:127.0.0.1,DNS:localhost');
    this.#leaf('controller', 'ca', 'DNS:controller.test');
    this.#leaf('writer', 'ca', 'DNS:writer.test');
    this.#leaf('dashboard', 'ca', 'DNS:dashboard.test');
    this.#leaf('rogue', 'other-ca', 'DNS:controller.test');
  }

  file(n: string): string { return path.join(this.dir, n); }
  read(n: string): Buffer { return readFileSync(this.file(n)); }
  get tls(): NonNullable<AgentOptions['tls']> { return { cert: this.read('agent.crt'), key: this.read('agent.key'), clientCa: this.read('ca.crt') }; }
  as(who: string, ca = 'ca'): ConnectOptions { return { ca: this.read(`${ca}.crt`), cert: this.read(`${who}.crt`), key: this.read(`${who}.key`), deadlineMs: 20000 }; }

  static readonly EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  #ca(name: string): void {
    run('openssl', ['req', '-x509', ...Certs.EC, '-keyout', this.file(`${name}.key`), '-out', this.file(`${name}.crt`), '-subj', `/CN=${name}`]);
  }
  /** A leaf signed by `ca` (openssl 3 `req -x509 -CA`). */
  #leaf(name: string, ca: string, san: string): void {
    run('openssl', ['req', '-x509', ...Certs.EC, '-CA', this.file(`${ca}.crt`), '-CAkey', this.file(`${ca}.key`), '-keyout', this.file(`${name}.key`),
      '-out', this.file(`${name}.crt`), '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:FALSE']);
  }
  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

/** Runs fn with an mTLS agent managing a fresh netns; closes both. */
export async function withAgent(certs: Certs, fn: (a: Agent, ns: string) => Promise<void>, extra: Partial<AgentOptions> = {}): Promise<void> {
  const ns = newNetns();
  const agent = await startAgent({ listen: '127.0.0.1:0', tls: certs.tls, roles: certs.roles, netns: ns, ...extra });
  try {
    await fn(agent, ns);
  } finally {
    await agent.close();
    delNetns(ns);
  }
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; message: string };
  }
  assert.unreachable('the call succeeded');
  throw new Error('unreachable');
}

/** The next `n` events of a Watch, failing with what did arrive after `timeoutMs`. */
export async function take(events: AsyncIterable<WatchEvent>, n: number, timeoutMs = 10000): Promise<WatchEvent[]> {
  const got: WatchEvent[] = [];
  const it = events[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (got.length < n) {
    const r = await Promise.race([it.next(), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), Math.max(1, deadline - Date.now())))]);
    if (r === 'timeout') throw new Error(`timed out with ${got.length}/${n} events: ${got.map((e) => EventType[e.type]).join(', ')}`);
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}
