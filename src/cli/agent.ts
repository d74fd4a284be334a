// src/cli/agent.ts — `keyfleet agent` (layer: cli). Owns its settings: one table of every setting, read from
// flags or from a JSON config file (--config FILE; keys are the flag names without dashes, flags win), the
// validation that names what is wrong, starting the server (src/agent/server.ts), printing where it listens
// and stopping cleanly on SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startAgent, readTls, type AgentOptions } from '../agent/server.js';
import { loadRoles, parseRoles } from '../agent/auth.js';
import { recoverOnStart } from '../engine/atomic.js';
import { XfrmKernel } from '../kernel/xfrm.js';

const HELP = `usage: keyfleet agent --listen HOST:PORT --tls-cert F --tls-key F --client-ca F --roles FILE
                      [--netns NAME] [--audit-log FILE] [--metrics-listen HOST:PORT] [--config FILE]
                      [--max-ops N] [--max-streams N] [--max-stream-bytes N] [--max-message-bytes N]
                      [--window-bytes N] [--window-ops N] [--event-queue N] [--event-window N] [--event-rcvbuf N]
       keyfleet agent --listen unix:/PATH|127.0.0.1:PORT --insecure [--roles FILE] ...

Serves keyfleet.v1.AgentService (plus grpc.health.v1 and reflection) for the XFRM tables of this host or of
network namespace NAME. Roles file: {"identity": ["read","write","keys"], ...}, identity = client certificate
SAN DNS name or CN. --insecure (plaintext) only on a unix socket or loopback; its callers get the roles of the
"insecure" entry, or all roles when there is none.
--config FILE: a JSON object with the same settings, keys as the flags without dashes, e.g.
  {"listen": "0.0.0.0:7443", "tls-cert": "agent.crt", "tls-key": "agent.key", "client-ca": "ca.crt",
   "roles": "roles.json", "netns": "blue", "window-bytes": 1048576}
Relative paths in a config file are relative to the file. Flags override the file.
`;

type Kind = 'string' | 'path' | 'count' | 'flag';

/** Every setting: flag name → kind. The config file uses the same names. */
const SETTINGS: Readonly<Record<string, Kind>> = {
  listen: 'string', 'tls-cert': 'path', 'tls-key': 'path', 'client-ca': 'path', roles: 'path', netns: 'string',
  'audit-log': 'path', 'metrics-listen': 'string', insecure: 'flag', 'max-ops': 'count', 'max-streams': 'count',
  'max-stream-bytes': 'count', 'max-message-bytes': 'count', 'window-bytes': 'count', 'window-ops': 'count',
  'event-queue': 'count', 'event-window': 'count', 'event-rcvbuf': 'count',
};

type Settings = Record<string, string | number | boolean>;

function setting(name: string, raw: unknown, where: string, base: string): string | number | boolean {
  const kind = SETTINGS[name];
  if (!kind) throw new Error(`${where}: unknown setting '${name}' (expected one of ${Object.keys(SETTINGS).join(', ')})`);
  if (kind === 'flag') {
    if (raw === true || raw === false) return raw;
    throw new Error(`${where}: '${name}' expects true or false`);
  }
  if (kind === 'count') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${where}: '${name}' expects a positive whole number, not ${JSON.stringify(raw)}`);
    return n;
  }
  if (typeof raw !== 'string' || raw === '') throw new Error(`${where}: '${name}' expects a non-empty string`);
  return kind === 'path' && base ? path.resolve(base, raw) : raw;
}

/** Flags, then the config file underneath (flags win). Throws with the flag or file and key that is wrong. */
export function readSettings(argv: string[]): Settings | 'help' {
  const s: Settings = {};
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const name = (eq > 0 ? a.slice(0, eq) : a).slice(2);
    if (name === 'config') { config = eq > 0 ? a.slice(eq + 1) : argv[++i]; if (!config) throw new Error('--config needs a FILE'); continue; }
    if (SETTINGS[name] === 'flag') { s[name] = true; continue; }
    if (!SETTINGS[name]) throw new Error(`unknown option '${a}'`);
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    s[name] = setting(name, v, `--${name}`, '');
  }
  if (config) {
    let doc: unknown;
    try { doc = JSON.parse(readFileSync(config, 'utf8')); } catch (e) { throw new Error(`--config ${config}: ${(e as Error).message}`); }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${config}: expected a JSON object of settings`);
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      const val = setting(k, v, `${config}: "${k}"`, path.dirname(path.resolve(config)));
      if (!(k in s)) s[k] = val;
    }
  }
  return s;
}

/** Settings → AgentOptions (reads the TLS and roles files). */
export function agentOptions(s: Settings): AgentOptions {
  const str = (k: string): string | undefined => (typeof s[k] === 'string' ? (s[k] as string) : undefined);
  const n = (k: string): number | undefined => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const listen = str('listen');
  if (!listen) throw new Error('--listen is required');
  const tlsParts = [str('tls-cert'), str('tls-key'), str('client-ca')];
  if (tlsParts.some(Boolean) && !tlsParts.every(Boolean)) throw new Error('--tls-cert, --tls-key and --client-ca go together');
  if (!s.insecure && !str('roles')) throw new Error('--roles FILE is required with TLS (no identity has any role otherwise)');
  const roles = str('roles') ? loadRoles(str('roles')!) : parseRoles('{}');
  const limits = {
    ...(n('max-ops') ? { maxOperations: n('max-ops')! } : {}), ...(n('max-streams') ? { maxStreamsPerIdentity: n('max-streams')! } : {}),
    ...(n('max-stream-bytes') ? { maxStreamBytes: n('max-stream-bytes')! } : {}), ...(n('window-bytes') ? { windowBytes: n('window-bytes')! } : {}),
    ...(n('window-ops') ? { windowOperations: n('window-ops')! } : {}),
  };
  const events = {
    ...(n('event-queue') ? { queueLimit: n('event-queue')! } : {}), ...(n('event-window') ? { window: n('event-window')! } : {}),
    ...(n('event-rcvbuf') ? { rcvbuf: n('event-rcvbuf')! } : {}),
  };
  return {
    listen, insecure: s.insecure === true, roles, limits, events,
    ...(tlsParts.every(Boolean) ? { tls: readTls(tlsParts[0]!, tlsParts[1]!, tlsParts[2]!) } : {}),
    ...(str('netns') ? { netns: str('netns')! } : {}),
    ...(str('audit-log') ? { auditLog: str('audit-log')! } : {}),
    ...(str('metrics-listen') ? { metricsListen: str('metrics-listen')! } : {}),
    ...(n('max-message-bytes') ? { maxMessageBytes: n('max-message-bytes')! } : {}),
  };
}

export async function agentMain(argv: string[]): Promise<number> {
  let opts: AgentOptions;
  try {
    const s = readSettings(argv);
    if (s === 'help') { process.stdout.write(HELP); return 0; }
    opts = agentOptions(s);
  } catch (e) {
    process.stderr.write(`keyfleet agent: ${(e as Error).message}\n(see keyfleet agent --help)\n`);
    return 1;
  }
  let agent;
  let kernel: XfrmKernel | undefined;
  try {
    // An atomic Apply a killed agent left half-applied is settled before serving (src/engine/atomic.ts).
    await recoverOnStart(opts.netns, () => (kernel ??= XfrmKernel.open(opts.netns ? { netns: opts.netns } : {})), (t) => process.stderr.write(`${t}\n`));
    kernel?.close();
    agent = await startAgent(opts);
  } catch (e) {
    process.stderr.write(`keyfleet agent: ${(e as Error).message}\n`);
    return 1;
  }
  // One line on stdout that scripts (and tests) read: where the agent listens.
  process.stdout.write(`keyfleet agent: listening on ${agent.address}${agent.metricsPort !== null ? ` metrics :${agent.metricsPort}` : ''}${opts.netns ? ` netns ${opts.netns}` : ''}\n`);
  return new Promise<number>((resolve) => {
    const stop = (): void => { agent.close().then(() => resolve(0), () => resolve(1)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
