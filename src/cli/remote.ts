// src/cli/remote.ts — `keyfleet remote` (layer: cli). Owns the fleet command line: the same operation on
// many agents at once through src/client, one result line per agent (plan: one line per change), a summary,
// exit status 1 when any agent failed. Batch files are setkey text, ip -batch text or JSON operations
// (--format, or by extension). Watch prints every agent's events as they come (text or JSON lines).
import { readFileSync, createReadStream } from 'node:fs';
import {
  AgentClient, EntryKind, EventType, ChangeAction, IpsecProtocol, Mode, forEachAgent, tlsFiles, OperationStatus,
  type ConnectOptions, type FleetResult, type Batch, type Operation, type Change, type PlanResponse,
} from '../client/index.js';
import { Operation as OperationMsg } from '../gen/keyfleet/v1/agent.pb.js';

const HELP = `usage: keyfleet remote --agent HOST:PORT[,HOST:PORT...] [--cert F --key F --ca F | --insecure]
                       [--server-name NAME] [--json] COMMAND
commands:
  apply FILE [--atomic] [--dry-run] [--continue] [--stream]
                                     apply a batch on every agent (--stream: ApplyStream, for bulk files)
  plan FILE [--scope sa|policy]      the changes that would make each agent's tables equal FILE
  sync FILE [--scope sa|policy]      apply those changes, atomically per agent
  list [sa|policy] [--address A] [--spi N]   list SAs and/or policies (keys only with the keys role)
  get sa DST SPI [esp|ah|comp] | get policy SRC DST in|out|fwd
  flush [sa|policy]                  flush SAs and/or policies
  allocspi DST [--src A] [--proto esp|ah|comp] [--min N --max N] [--reqid N] [--mode transport|tunnel]
  watch [--since SEQ] [--type T,...] stream kernel events until interrupted (T: new_sa, acquire, expire, ...)
  stats [--sa]                       kernel XFRM counters, agent counters (--sa: per-SA counters)
FILE formats (--format, else by extension): setkey (setkey -f text, default), ip (.ip/.batch: ip -batch
lines such as "xfrm state add ..."), json (.json: an array of keyfleet.v1.Operation in proto JSON).
Exit status: 0 when every agent succeeded, 1 otherwise.
`;

type Format = 'setkey' | 'ip' | 'json';

function formatOf(file: string, given: string | undefined): Format {
  if (given) {
    if (given !== 'setkey' && given !== 'ip' && given !== 'json') throw new Error(`--format: expected setkey, ip or json, not '${given}'`);
    return given;
  }
  if (/\.json$/i.test(file)) return 'json';
  if (/\.(ip|batch)$/i.test(file)) return 'ip';
  return 'setkey';
}

/** Reads a batch file in its format; JSON errors name the file and the operation. */
function readBatch(file: string, format: Format): Batch {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  if (format === 'setkey') return text;
  if (format === 'ip') return { ip: text };
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { throw new Error(`${file}: not valid JSON (${(e as Error).message}); expected an array of operations`); }
  const list = Array.isArray(doc) ? doc : (doc as { operations?: unknown })?.operations;
  if (!Array.isArray(list)) throw new Error(`${file}: expected an array of operations (or {"operations": [...]})`);
  return { operations: list.map((o, i): Operation => {
    if (typeof o !== 'object' || o === null) throw new Error(`${file}: operations[${i}]: expected an object such as {"addPolicy": {...}}`);
    return OperationMsg.fromJSON(o);
  }) };
}

const PROTOS: Record<string, IpsecProtocol> = { esp: IpsecProtocol.IPSEC_PROTOCOL_ESP, ah: IpsecProtocol.IPSEC_PROTOCOL_AH, comp: IpsecProtocol.IPSEC_PROTOCOL_COMP };
const DIRS: Record<string, number> = { in: 1, out: 2, fwd: 3 };

function num(s: string, what: string): number {
  const n = Number(s);
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(s) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new Error(`${what}: expected a number (decimal or 0x hex), not '${s}'`);
  return n;
}

function changeLine(c: Change): string {
  const e = c.entry!;
  const sign = c.action === ChangeAction.CHANGE_ACTION_ADD ? '+' : c.action === ChangeAction.CHANGE_ACTION_DELETE ? '-' : '~';
  const what = e.kind === EntryKind.ENTRY_KIND_SA ? `sa ${e.src} -> ${e.dst} ${e.proto} spi 0x${e.spi.toString(16)}` : `policy ${e.src} -> ${e.dst} dir ${e.dir}`;
  return `${sign} ${what}${c.differs ? ` (${c.differs})` : ''}${c.line ? ` [line ${c.line}]` : ''}`;
}

function planSummary(p: PlanResponse): string {
  return `${p.adds} to add, ${p.updates} to update, ${p.deletes} to delete, ${p.unchanged} unchanged`;
}

function kindOf(w: string | undefined): EntryKind | null {
  if (w === undefined) return EntryKind.ENTRY_KIND_UNSPECIFIED;
  if (w === 'sa') return EntryKind.ENTRY_KIND_SA;
  if (w === 'policy') return EntryKind.ENTRY_KIND_POLICY;
  return null;
}

export async function remoteMain(argv: string[]): Promise<number> {
  // Agents are often dialled by IP address: Node warns that TLS SNI cannot carry one (DEP0123), which says
  // nothing to the user; other warnings still print.
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => { if (w.code !== 'DEP0123') process.stderr.write(`${w.name}: ${w.message}\n`); });
  // `keyfleet remote list | head`: a closed pipe ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); });
  const agents: string[] = [];
  const files: { ca?: string; cert?: string; key?: string } = {};
  const conn: ConnectOptions = {};
  let json = false, atomic = false, dryRun = false, cont = false, stream = false, saCounters = false;
  let since = 0n;
  let format: string | undefined;
  let scope = EntryKind.ENTRY_KIND_UNSPECIFIED;
  const filter: { address?: string; spi?: number } = {};
  const alloc: { src?: string; proto?: IpsecProtocol; min?: number; max?: number; reqid?: number; mode?: Mode } = {};
  let types: EventType[] = [];
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
        case '--since': { const v = val(); if (!/^\d+$/.test(v)) throw new Error(`--since: expected a sequence number, not '${v}'`); since = BigInt(v); break; }
        case '--stream': stream = true; break;
        case '--format': format = val(); break;
        case '--scope': { const k = kindOf(val()); if (k === null || k === EntryKind.ENTRY_KIND_UNSPECIFIED) throw new Error('--scope: expected sa or policy'); scope = k; break; }
        case '--address': filter.address = val(); break;
        case '--spi': filter.spi = num(val(), '--spi'); break;
        case '--src': alloc.src = val(); break;
        case '--proto': { const v = val(); const p = PROTOS[v]; if (p === undefined) throw new Error(`--proto: expected esp, ah or comp, not '${v}'`); alloc.proto = p; break; }
        case '--min': alloc.min = num(val(), '--min'); break;
        case '--max': alloc.max = num(val(), '--max'); break;
        case '--reqid': alloc.reqid = num(val(), '--reqid'); break;
        case '--mode': { const v = val(); if (v !== 'transport' && v !== 'tunnel') throw new Error('--mode: expected transport or tunnel'); alloc.mode = v === 'tunnel' ? Mode.MODE_TUNNEL : Mode.MODE_TRANSPORT; break; }
        case '--sa': saCounters = true; break;
        case '--type': types = val().split(',').map((t) => {
          const e = EventType[`EVENT_TYPE_${t.toUpperCase()}` as keyof typeof EventType];
          if (typeof e !== 'number' || e <= 0) throw new Error(`--type: unknown event type '${t}' (e.g. new_sa, delete_policy, acquire, expire, gap)`);
          return e;
        }); break;
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
  const [cmd, arg, ...more] = pos;
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
    case 'apply': case 'plan': case 'sync': {
      if (!arg) { process.stderr.write(`keyfleet remote ${cmd}: FILE is required (setkey, ip or JSON batch; - for stdin)\n`); return 1; }
      let fmt: Format;
      let batch: Batch;
      try {
        fmt = formatOf(arg, format);
        batch = stream && cmd === 'apply' && fmt !== 'json' ? '' : readBatch(arg, fmt);
      } catch (e) { process.stderr.write(`keyfleet remote: ${(e as Error).message}\n`); return 1; }
      if (cmd === 'apply') {
        const rs = await forEachAgent(agents, conn, async (c) => {
          const r = stream
            ? await c.applyStream(fmt === 'json' ? jsonChunks(batch) : createReadStream(arg), { atomic, dryRun, continueOnError: cont }, arg, fmt === 'ip' ? 'ip' : 'setkey')
            : await c.apply(batch, { atomic, dryRun, continueOnError: cont }, arg);
          if (!r.ok) throw Object.assign(new Error(describeFailure(r)), { result: r });
          return r;
        });
        return summary(rs, (r) => `ok, ${r.applied} applied${r.failed ? `, ${r.failed} failed` : ''}${dryRun ? ' (dry run)' : ''}`);
      }
      const o = { scope, sourceName: arg };
      if (cmd === 'plan') {
        const rs = await forEachAgent(agents, conn, async (c) => {
          const p = await c.plan(batch, o);
          if (p.diagnostics.length) throw new Error(`${arg}:${p.diagnostics[0]!.line}: ${p.diagnostics[0]!.message}`);
          if (!json) for (const ch of p.changes) out(`${c.address}: ${changeLine(ch)}\n`);
          return p;
        });
        return summary(rs, planSummary);
      }
      const rs = await forEachAgent(agents, conn, async (c) => {
        const r = await c.sync(batch, o);
        const p = r.plan!;
        if (p.diagnostics.length) throw new Error(`${arg}:${p.diagnostics[0]!.line}: ${p.diagnostics[0]!.message}`);
        if (!r.ok) {
          const f = r.results[0];
          throw new Error(`sync failed and was rolled back (${r.rolledBack} undone)${f ? `: ${f.operation} ${p.changes[f.index] ? changeLine(p.changes[f.index]!) : ''}: ${f.code} ${f.message}` : ''}`);
        }
        return r;
      });
      return summary(rs, (r) => `synced: ${planSummary(r.plan!)}`);
    }
    case 'get': {
      const what = arg;
      const rs = await forEachAgent(agents, conn, async (c) => {
        if (what === 'sa' && more.length >= 2) return c.get({ sa: { dst: more[0]!, spi: num(more[1]!, 'SPI'), protocol: PROTOS[more[2] ?? 'esp'] ?? IpsecProtocol.IPSEC_PROTOCOL_ESP, src: '' } });
        if (what === 'policy' && more.length === 3 && DIRS[more[2]!]) return c.get({ policy: { selector: { src: more[0]!, dst: more[1]!, proto: 0, sport: 0, dport: 0 }, dir: DIRS[more[2]!]!, index: 0 } });
        throw new Error('usage: get sa DST SPI [esp|ah|comp] | get policy SRC DST in|out|fwd');
      });
      if (json) return summary(rs.map((r) => (r.ok ? { ...r, value: JSON.parse(r.value!.json) as never } : r)), () => '');
      return summary(rs, (e) => e.json);
    }
    case 'allocspi': {
      if (!arg) { process.stderr.write('keyfleet remote allocspi: DST is required\n'); return 1; }
      const rs = await forEachAgent(agents, conn, (c) => c.allocSpi({ dst: arg, ...alloc }));
      return summary(rs, (r) => `spi 0x${r.spi.toString(16).padStart(8, '0')} (${r.spi})`);
    }
    case 'list': {
      const kind = kindOf(arg);
      if (kind === null) { process.stderr.write(`keyfleet remote list: expected sa or policy, not '${arg}'\n`); return 1; }
      const rs = await forEachAgent(agents, conn, async (c) => {
        let n = 0;
        for await (const e of c.list(kind, filter)) {
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
      return summary(await forEachAgent(agents, conn, (c) => c.stats({ includeSaCounters: saCounters })), (s) => {
        const nonzero = s.kernelCounters.filter((k) => k.value !== 0n).map((k) => `${k.name} ${k.value}`);
        const sas = s.saCounters.map((x) => `\n  sa ${x.src} -> ${x.dst} ${x.proto} spi 0x${x.spi.toString(16)}: ${x.bytes} bytes, ${x.packets} packets, ${x.replayErrors} replay, ${x.integrityFailures} integrity failures`).join('');
        return `${s.saCount} SAs, ${s.policyCount} policies, ${s.applies} applies, ${s.events} events, ${s.gaps} gaps, last sequence ${s.lastSequence}; kernel: ${nonzero.length ? nonzero.join(', ') : 'all XFRM error counters 0'}${sas}`;
      });
    case 'watch': {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      const rs = await forEachAgent(agents, conn, async (c) => {
        const w = c.watch({ sinceSequence: since, types, ...(filter.address ? { address: filter.address } : {}), ...(filter.spi ? { spi: filter.spi } : {}) }, ac.signal);
        let n = 0;
        for await (const ev of w.events) {
          n++;
          const type = EventType[ev.type]?.replace('EVENT_TYPE_', '').toLowerCase() ?? String(ev.type);
          if (json) out(`${JSON.stringify({ agent: c.address, sequence: ev.sequence.toString(), type, ...(ev.type === EventType.EVENT_TYPE_EXPIRE || ev.type === EventType.EVENT_TYPE_POLICY_EXPIRE ? { hard: ev.hard } : {}), lost: ev.lost.toString(), time: Number(ev.timeUnixMs), ...(ev.entry ? { entry: JSON.parse(ev.entry.json) as unknown } : {}) })}\n`);
          else out(`${c.address}\t${ev.sequence}\t${type}${ev.type === EventType.EVENT_TYPE_EXPIRE || ev.type === EventType.EVENT_TYPE_POLICY_EXPIRE ? (ev.hard ? ' hard' : ' soft') : ''}${ev.type === EventType.EVENT_TYPE_GAP ? ` lost ${ev.lost || 'unknown'}: resync with list` : ''}${ev.entry ? `\t${ev.entry.src} -> ${ev.entry.dst}${ev.entry.dir ? ` dir ${ev.entry.dir}` : ` spi 0x${ev.entry.spi.toString(16)}`}` : ''}\n`);
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

/** A JSON batch as streamed messages of up to 4096 operations. */
function* jsonChunks(b: Batch): Generator<Operation[]> {
  const ops = typeof b === 'object' && 'operations' in b ? b.operations : [];
  for (let i = 0; i < ops.length; i += 4096) yield ops.slice(i, i + 4096);
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
