// src/cli/remote.ts — `keyfleet remote` (layer: cli). Owns the fleet command line: the same operation on
// many agents at once through src/client, one result line per agent, a summary, exit status 1 when any
// agent failed. Watch prints every agent's events as they come (text or JSON lines).
import { readFileSync } from 'node:fs';
import { AgentClient, EntryKind, EventType, forEachAgent, tlsFiles, OperationStatus, type ConnectOptions, type FleetResult } from '../client/index.js';

const HELP = `usage: keyfleet remote --agent HOST:PORT[,HOST:PORT...] [--cert F --key F --ca F | --insecure]
                       [--server-name NAME] [--json] COMMAND
commands:
  apply FILE [--atomic] [--dry-run] [--continue]   apply a setkey(8) file on every agent
  list [sa|policy]                                 list SAs and/or policies (keys only with the keys role)
  flush [sa|policy]                                flush SAs and/or policies
  watch [--since SEQ]                              stream kernel events until interrupted
  stats                                            agent counters
Exit status: 0 when every agent succeeded, 1 otherwise.
`;

function kindOf(w: string | undefined): EntryKind | null {
  if (w === undefined) return EntryKind.ENTRY_KIND_UNSPECIFIED;
  if (w === 'sa') return EntryKind.ENTRY_KIND_SA;
  if (w === 'policy') return EntryKind.ENTRY_KIND_POLICY;
  return null;
}

export async function remoteMain(argv: string[]): Promise<number> {
  // `keyfleet remote list | head`: a closed pipe ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); });
  const agents: string[] = [];
  const files: { ca?: string; cert?: string; key?: string } = {};
  const conn: ConnectOptions = {};
  let json = false, atomic = false, dryRun = false, cont = false;
  let since = 0n;
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      switch (a) {
        case '--agent': case '-a': agents.push(...val().split(',').filter(Boolean)); break;
        case '--cert': files.cert = val(); break;
        case '--key': files.key = val(); break;
        case '--ca': files.ca = val(); break;
        case '--insecure': conn.insecure = true; break;
        case '--server-name': conn.serverName = val(); break;
        case '--json': case '-j': json = true; break;
        case '--atomic': atomic = true; break;
        case '--dry-run': dryRun = true; break;
        case '--continue': cont = true; break;
        case '--since': since = BigInt(val()); break;
        case '--help': case '-h': process.stdout.write(HELP); return 0;
        default:
          if (a.startsWith('-')) throw new Error(`unknown option '${a}'`);
          pos.push(a);
      }
    } catch (e) {
      process.stderr.write(`keyfleet remote: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (agents.length === 0) { process.stderr.write(`keyfleet remote: --agent HOST:PORT is required\n${HELP}`); return 1; }
  try {
    Object.assign(conn, tlsFiles(files));
  } catch (e) {
    process.stderr.write(`keyfleet remote: ${(e as Error).message}\n`);
    return 1;
  }
  const [cmd, arg] = pos;
  const out = (s: string): void => { process.stdout.write(s); };
  const summary = <T>(rs: FleetResult<T>[], line: (v: T) => string): number => {
    for (const r of rs) {
      if (json) out(`${JSON.stringify({ agent: r.agent, ok: r.ok, ms: r.ms, ...(r.ok ? { result: r.value } : { error: r.error?.message }) }, big)}\n`);
      else out(`${r.agent}: ${r.ok ? line(r.value as T) : `error: ${r.error?.message}`}\n`);
    }
    const bad = rs.filter((r) => !r.ok).length;
    if (!json) out(`summary: ${rs.length - bad}/${rs.length} agents ok${bad ? `, ${bad} failed` : ''}\n`);
    return bad ? 1 : 0;
  };
  switch (cmd) {
    case 'apply': {
      if (!arg) { process.stderr.write('keyfleet remote apply: FILE is required\n'); return 1; }
      let text: string;
      try { text = readFileSync(arg === '-' ? 0 : arg, 'utf8'); } catch (e) { process.stderr.write(`keyfleet remote: ${(e as Error).message}\n`); return 1; }
      const rs = await forEachAgent(agents, conn, async (c) => {
        const r = await c.apply(text, { atomic, dryRun, continueOnError: cont }, arg);
        if (!r.ok) throw Object.assign(new Error(describeFailure(r)), { result: r });
        return r;
      });
      return summary(rs, (r) => `ok, ${r.applied} applied${r.failed ? `, ${r.failed} failed` : ''}${dryRun ? ' (dry run)' : ''}`);
    }
    case 'list': {
      const kind = kindOf(arg);
      if (kind === null) { process.stderr.write(`keyfleet remote list: expected sa or policy, not '${arg}'\n`); return 1; }
      const rs = await forEachAgent(agents, conn, async (c) => {
        let n = 0;
        for await (const e of c.list(kind)) {
          n++;
          if (json) out(`${JSON.stringify({ agent: c.address, kind: e.kind === EntryKind.ENTRY_KIND_SA ? 'sa' : 'policy', entry: JSON.parse(e.json) as unknown })}\n`);
          else if (e.kind === EntryKind.ENTRY_KIND_SA) out(`${c.address}\tsa\t${e.src} ${e.dst} ${e.proto} spi 0x${e.spi.toString(16).padStart(8, '0')} reqid ${e.reqid} ${e.mode}\n`);
          else out(`${c.address}\tpolicy\t${e.src} ${e.dst} dir ${e.dir} priority ${e.priority} index ${e.index}${e.proto ? ` ${e.proto}/${e.mode}` : ''}\n`);
        }
        return n;
      });
      return summary(rs, (n) => `${n} entries`);
    }
    case 'flush': {
      const kind = kindOf(arg);
      if (kind === null) { process.stderr.write(`keyfleet remote flush: expected sa or policy, not '${arg}'\n`); return 1; }
      return summary(await forEachAgent(agents, conn, (c) => c.flush(kind)), () => 'flushed');
    }
    case 'stats':
      return summary(await forEachAgent(agents, conn, (c) => c.stats()), (s) => `${s.saCount} SAs, ${s.policyCount} policies, ${s.applies} applies, ${s.events} events, ${s.gaps} gaps, last sequence ${s.lastSequence}`);
    case 'watch': {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      const rs = await forEachAgent(agents, conn, async (c) => {
        const w = c.watch({ sinceSequence: since }, ac.signal);
        let n = 0;
        for await (const ev of w.events) {
          n++;
          const type = EventType[ev.type]?.replace('EVENT_TYPE_', '').toLowerCase() ?? String(ev.type);
          if (json) out(`${JSON.stringify({ agent: c.address, sequence: ev.sequence.toString(), type, lost: ev.lost.toString(), time: Number(ev.timeUnixMs), ...(ev.entry ? { entry: JSON.parse(ev.entry.json) as unknown } : {}) })}\n`);
          else out(`${c.address}\t${ev.sequence}\t${type}${ev.type === EventType.EVENT_TYPE_GAP ? ` lost ${ev.lost || 'unknown'}: resync with list` : ''}${ev.entry ? `\t${ev.entry.src} -> ${ev.entry.dst}${ev.entry.dir ? ` dir ${ev.entry.dir}` : ` spi 0x${ev.entry.spi.toString(16)}`}` : ''}\n`);
        }
        return n;
      }, agents.length);
      return summary(rs, (n) => `${n} events`);
    }
    default:
      process.stderr.write(`keyfleet remote: ${cmd ? `unknown command '${cmd}'` : 'a command is required'}\n${HELP}`);
      return 1;
  }
}

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function describeFailure(r: { failed: number; results: { line: number; status: OperationStatus; code: string; message: string }[]; diagnostics: { line: number; message: string }[]; rolledBack: number }): string {
  const d = r.diagnostics.find(() => true);
  if (d && r.failed === 0) return `line ${d.line}: ${d.message}`;
  const f = r.results.find((x) => x.status === OperationStatus.OPERATION_STATUS_FAILED);
  return `${r.failed} failed${f ? ` (first: line ${f.line}: ${f.code} ${f.message})` : ''}${r.rolledBack ? `, ${r.rolledBack} rolled back` : ''}`;
}

export type { AgentClient };
