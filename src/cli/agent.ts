// src/cli/agent.ts — `keyfleet agent` (layer: cli). Owns its command line (and --config FILE, a JSON object
// with the same settings), starting the server (src/agent/server.ts), printing where it listens and
// stopping cleanly on SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { startAgent, readTls, type AgentOptions } from '../agent/server.js';
import { loadRoles, parseRoles } from '../agent/auth.js';
import { recoverOnStart } from '../engine/atomic.js';
import { XfrmKernel } from '../kernel/xfrm.js';

const HELP = `usage: keyfleet agent --listen HOST:PORT --tls-cert F --tls-key F --client-ca F --roles FILE
                      [--netns NAME] [--audit-log FILE] [--metrics-listen HOST:PORT]
                      [--max-ops N] [--max-streams N] [--config FILE]
       keyfleet agent --listen unix:/PATH|127.0.0.1:PORT --insecure [--roles FILE] ...

Serves keyfleet.v1.AgentService (plus grpc.health.v1 and reflection) for the XFRM tables of this host or of
network namespace NAME. Roles file: {"identity": ["read","write","keys"], ...}, identity = client certificate
SAN DNS name or CN. --insecure (plaintext) only on a unix socket or loopback; its callers get the roles of the
"insecure" entry, or all roles when there is none.
`;

const KEYS: Record<string, string> = {
  '--listen': 'listen', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey', '--client-ca': 'clientCa', '--roles': 'roles',
  '--netns': 'netns', '--audit-log': 'auditLog', '--metrics-listen': 'metricsListen', '--max-ops': 'maxOps',
  '--max-streams': 'maxStreams', '--config': 'config',
};

export async function agentMain(argv: string[]): Promise<number> {
  const s: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') { process.stdout.write(HELP); return 0; }
    if (a === '--insecure') { s.insecure = true; continue; }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const key = KEYS[flag];
    if (!key) { process.stderr.write(`keyfleet agent: unknown option '${a}'\n${HELP}`); return 1; }
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) { process.stderr.write(`keyfleet agent: ${flag} needs a value\n`); return 1; }
    s[key] = v;
  }
  if (typeof s.config === 'string') {
    const c = JSON.parse(readFileSync(s.config, 'utf8')) as Record<string, string | boolean>;
    for (const [k, v] of Object.entries(c)) if (!(k in s)) s[k] = v;
  }
  const str = (k: string): string | undefined => (typeof s[k] === 'string' ? (s[k] as string) : undefined);
  const listen = str('listen');
  if (!listen) { process.stderr.write(`keyfleet agent: --listen is required\n${HELP}`); return 1; }
  let opts: AgentOptions;
  try {
    const tlsParts = [str('tlsCert'), str('tlsKey'), str('clientCa')];
    if (tlsParts.some(Boolean) && !tlsParts.every(Boolean)) throw new Error('--tls-cert, --tls-key and --client-ca go together');
    const roles = str('roles') ? loadRoles(str('roles')!) : parseRoles('{}');
    if (!s.insecure && !str('roles')) throw new Error('--roles FILE is required with TLS (no identity has any role otherwise)');
    opts = {
      listen, insecure: s.insecure === true, roles,
      ...(tlsParts.every(Boolean) ? { tls: readTls(tlsParts[0]!, tlsParts[1]!, tlsParts[2]!) } : {}),
      ...(str('netns') ? { netns: str('netns')! } : {}),
      ...(str('auditLog') ? { auditLog: str('auditLog')! } : {}),
      ...(str('metricsListen') ? { metricsListen: str('metricsListen')! } : {}),
      limits: {
        ...(str('maxOps') ? { maxOperations: Number(str('maxOps')) } : {}),
        ...(str('maxStreams') ? { maxStreamsPerIdentity: Number(str('maxStreams')) } : {}),
      },
    };
  } catch (e) {
    process.stderr.write(`keyfleet agent: ${(e as Error).message}\n`);
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
