// src/cli/setkey.ts — `keyfleet setkey` (layer: cli). Owns setkey(8)'s command line (getopt
// "acdf:HlnvxDFPphVrk?" with GNU permutation, exit codes, usage text on stdout) plus keyfleet's long
// options, and wires the modes to the engine. The option parser is hand-written on purpose: getopt's
// rules are part of the compatibility contract.
import { readFileSync } from 'node:fs';
import { BufferedSink, Progress } from './output.js';
import { runSetkey, printDump, type SetkeyKernel } from '../engine/setkey.js';
import { listJournals } from '../engine/journal.js';
import { XfrmKernel, markRecords, restoreRecords } from '../kernel/xfrm.js';
import { PfkeyKernel } from '../kernel/pfkey.js';
import { KernelError } from '../kernel/errors.js';
// Imported on use: PF_KEY files/traces/-x (setkey-pfkey), JSON dumps (records, json) and journal recovery
// (atomic) are not on the path of a plain `-f`, whose start-up under emulation is dominated by module loading.
import { wasm } from '../wasm/index.js';
import { SETKEY_SHORT_HEADER } from '../wasm/setkey-format.js';
import { setStrerror } from '../kernel/errors.js';
import { strerror as nativeStrerror } from '../native/index.js';

const OPTSTRING = 'acdf:HlnvxDFPphVrk?';

export const SETKEY_USAGE = `setkey @(#) ipsec-tools 0.8.2 (http://ipsec-tools.sourceforge.net)
usage: setkey [-vrk] file ...
       setkey [-nvrk] -c
       setkey [-nvrk] -f filename
       setkey [-Palpvrk] -D
       setkey [-Pv] -F
       setkey [-H] -x
       setkey [-V] [-h]
`;

const KEYFLEET_HELP = `
keyfleet options (long options are ours; setkey's own letters behave as in setkey(8)):
  --netns NAME      manage the XFRM tables of network namespace NAME (/run/netns/NAME)
  --json            with -D/-DP: print JSON (schema: docs in README, "keyfleet setkey --json")
  --show-keys       with --json: include key bytes (otherwise redacted)
  --dry-run         with -f/-c: parse and encode, print what each statement would send, touch nothing
  --atomic          all statements take effect or none: on a kernel error every earlier statement is
                    undone (pre-images are dumped first) and the exit status is 1
  --strict          stop at the first kernel error and exit 1 (setkey goes on and exits 0)
  --backend NAME    kernel interface: xfrm (netlink, the default) or pfkey (PF_KEY v2, what setkey
                    itself speaks); env KEYFLEET_BACKEND
  --help            this text
`;

interface SetkeyArgs {
  mode: 'none' | 'file' | 'stdin' | 'dump' | 'flush' | 'promisc';
  file?: string;
  policy: boolean; all: boolean; loop: boolean; noAction: boolean; verbose: boolean; ports: boolean;
  hexdump: boolean; rfc: boolean; promiscCount: number;
  operands: string[];
  netns?: string; json: boolean; showKeys: boolean; dryRun: boolean; strict: boolean; atomic: boolean; backend: string;
}

export class UsageExit extends Error {
  constructor(readonly code: number, readonly stderrText = '') { super('usage'); }
}

/** GNU getopt over setkey's optstring; long options are ours and are taken out first. */
export function parseSetkeyArgs(argv: string[]): SetkeyArgs {
  const a: SetkeyArgs = {
    mode: 'none', policy: false, all: false, loop: false, noAction: false, verbose: false, ports: false, hexdump: false,
    rfc: true, promiscCount: 0, operands: [], json: false, showKeys: false, dryRun: false, strict: false, atomic: false,
    backend: process.env.KEYFLEET_BACKEND ?? 'xfrm',
  };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i]!;
    if (s === '--') { rest.push(...argv.slice(i)); break; }
    if (!s.startsWith('--')) { rest.push(s); continue; }
    const [name, inline] = s.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageExit(1, `keyfleet setkey: option --${name} needs a value\n`);
      return v;
    };
    switch (name) {
      case 'netns': a.netns = value(); break;
      case 'json': a.json = true; break;
      case 'show-keys': a.showKeys = true; break;
      case 'dry-run': a.dryRun = true; break;
      case 'strict': a.strict = true; break;
      case 'atomic': a.atomic = true; break;
      case 'backend': a.backend = value(); break;
      case 'help': throw new UsageExit(0, '');
      default: throw new UsageExit(1, `keyfleet setkey: unknown option --${name} (try --help)\n`);
    }
  }
  // getopt(3) with permutation: options may follow operands; "--" ends options.
  for (let i = 0; i < rest.length; i++) {
    const s = rest[i]!;
    if (s === '--') { a.operands.push(...rest.slice(i + 1)); break; }
    if (!s.startsWith('-') || s === '-') { a.operands.push(s); continue; }
    for (let k = 1; k < s.length; k++) {
      const c = s[k]!;
      const pos = OPTSTRING.indexOf(c);
      if (pos < 0 || c === ':') throw new UsageExit(1, `setkey: invalid option -- '${c}'\n`);
      if (OPTSTRING[pos + 1] === ':') {
        let v = s.slice(k + 1);
        if (v === '') {
          const nxt = rest[++i];
          if (nxt === undefined) throw new UsageExit(1, `setkey: option requires an argument -- '${c}'\n`);
          v = nxt;
        }
        a.mode = 'file';
        a.file = v;
        break;
      }
      switch (c) {
        case 'D': a.mode = 'dump'; break;
        case 'F': a.mode = 'flush'; break;
        case 'a': a.all = true; break;
        case 'c': a.mode = 'stdin'; break;
        case 'l': a.loop = true; break;
        case 'n': a.noAction = true; break;
        case 'v': a.verbose = true; break;
        case 'x': a.mode = 'promisc'; a.promiscCount++; break;
        case 'P': a.policy = true; break;
        case 'p': a.ports = true; break;
        case 'H': a.hexdump = true; break;
        case 'r': a.rfc = true; break;
        case 'k': a.rfc = false; break;
        case 'V': throw new UsageExit(1, '', );
        case 'h': case '?': case 'd': default: throw new UsageExit(1, '');
      }
    }
  }
  return a;
}

export async function setkeyMain(argv: string[]): Promise<number> {
  setStrerror(nativeStrerror);
  const out = new BufferedSink(process.stdout);
  const err = new BufferedSink(process.stderr);
  let kernel: SetkeyKernel | null = null;
  try {
    if (argv.length === 0) throw new UsageExit(1);
    let args: SetkeyArgs;
    try {
      args = parseSetkeyArgs(argv);
    } catch (e) {
      if (e instanceof UsageExit) {
        if (e.stderrText) err.write(e.stderrText);
        if (argv.includes('-V') && e.code === 1 && !e.stderrText) { out.write(SETKEY_USAGE.split('\n')[0] + '\n'); return 1; }
        out.write(SETKEY_USAGE);
        if (e.code === 0) out.write(KEYFLEET_HELP);
        return e.code;
      }
      throw e;
    }
    if (args.backend !== 'xfrm' && args.backend !== 'pfkey') {
      err.write(`keyfleet setkey: unknown backend '${args.backend}' (from ${argv.some((x) => x.startsWith('--backend')) ? '--backend' : 'KEYFLEET_BACKEND'}); use xfrm or pfkey\n`);
      return 1;
    }
    const backend = args.backend;
    if (args.operands.length > 0) {
      // setkey FILE ...: print the PF_KEY messages a file holds (setkey.c fileproc → postproc); no socket.
      const { printPfkeyFile } = await import('./setkey-pfkey.js');
      for (const f of args.operands) {
        const r = printPfkeyFile(f, { out, err, all: args.all, ports: args.ports, loop: args.loop });
        if (r !== 0) return r;
      }
      return 0;
    }
    if ((args.verbose || args.hexdump) && backend === 'xfrm' && args.mode !== 'promisc') {
      err.write(`keyfleet setkey: ${args.verbose ? '-v' : '-H'} prints PF_KEY messages, which the xfrm backend does not send; continuing without it (use --backend pfkey to see them)\n`);
    }
    const traceTo = args.backend === 'pfkey' && (args.verbose || args.hexdump) ? (await import('./setkey-pfkey.js')).traceTo : null;
    const openKernel = (): SetkeyKernel => {
      if (!kernel) {
        if (backend === 'pfkey') {
          // -v/-H: one request at a time, so the trace interleaves each message with its reply as setkey's does
          const k = PfkeyKernel.open({ ...(args.netns ? { netns: args.netns } : {}), ...(args.verbose || args.hexdump ? { window: 1 } : {}) });
          if (traceTo) k.trace = traceTo(out, { verbose: args.verbose, hexdump: args.hexdump });
          kernel = k;
        } else kernel = XfrmKernel.open(args.netns ? { netns: args.netns } : {});
      }
      return kernel;
    };
    // A batch a killed `--atomic` run left half-applied on this namespace is settled first (src/engine/atomic.ts).
    // The journal holds XFRM messages, so recovery goes through XFRM whichever backend this run uses.
    if (args.mode !== 'none' && args.mode !== 'promisc' && !args.noAction && !args.dryRun && listJournals(args.netns).length > 0) {
      const { recoverOnStart } = await import('../engine/atomic.js');
      let recoveryKernel: XfrmKernel | undefined;
      const openRecovery = (): XfrmKernel => {
        const k = openKernel();
        if (k instanceof XfrmKernel) return k;
        recoveryKernel ??= XfrmKernel.open(args.netns ? { netns: args.netns } : {});
        return recoveryKernel;
      };
      try {
        await recoverOnStart(args.netns, openRecovery, (t) => err.write(`${t}\n`));
      } finally {
        recoveryKernel?.close();
      }
    }
    switch (args.mode) {
      case 'none':
        out.write(SETKEY_USAGE);
        return 1;
      case 'promisc':
        return await (await import('./setkey-pfkey.js')).startPromisc({ backend, netns: args.netns, out, hexdump: args.hexdump, xx: args.promiscCount > 1 });
      case 'flush': {
        await openKernel().flush(args.policy ? 'policy' : 'sa', 255);
        return 0;
      }
      case 'dump': {
        const k = openKernel();
        if (args.json) return await dumpJson(k, args, out);
        if (args.loop) return await dumpLoop(k, args, out);
        await printDump({ out, all: args.all, ports: args.ports, pid: process.pid }, k, args.policy ? 'policy' : 'sa');
        return 0;
      }
      case 'file':
      case 'stdin': {
        let text: Buffer;
        const file = args.mode === 'stdin' ? '(stdin)' : args.file!;
        try {
          text = args.mode === 'stdin' ? readFileSync(0) : readFileSync(args.file!);
        } catch (e) {
          const x = e as NodeJS.ErrnoException;
          err.write(`setkey: fopen: ${x.code === 'ENOENT' ? 'No such file or directory' : x.message}\n`);
          err.write(`keyfleet setkey: cannot read ${file}: check the path and permissions\n`);
          return 1;
        }
        const progress = new Progress('applying');
        if (backend === 'pfkey' && !args.noAction && !args.dryRun) {
          // setkey's get_supported(): one SADB_REGISTER before the script (the kernel probes its algorithms)
          const k = openKernel() as PfkeyKernel;
          const trace = k.trace;
          k.trace = null; // setkey's get_supported() goes through libipsec, which -v does not trace
          await k.register();
          k.trace = trace;
        }
        const r = await runSetkey({
          backend,
          file, text, rfc: args.rfc, stdin: args.mode === 'stdin', noAction: args.noAction, strict: args.strict,
          dryRun: args.dryRun, atomic: args.atomic, all: args.all, ports: args.ports, pid: process.pid, out, err, kernel: openKernel,
          onProgress: (d, t) => progress.update(d, t),
        });
        progress.done();
        return r.exitCode;
      }
    }
  } catch (e) {
    if (e instanceof KernelError) {
      // -D/-F errors: setkey prints "%s.\n" of the errno text.
      out.write(`${e.message.replace(/^[^:]*: /, '')}.\n`);
      return 1;
    }
    const x = e as NodeJS.ErrnoException;
    if (x && x.syscall) {
      err.write(`keyfleet setkey: ${x.message}\n`);
      if (x.code === 'ENOENT' && x.syscall === 'open') err.write('  the network namespace does not exist: list them with `ip netns list`\n');
      if (x.code === 'EPERM' || x.code === 'EACCES') err.write('  managing IPsec state needs root (CAP_NET_ADMIN)\n');
      return 1;
    }
    throw e;
  } finally {
    if (kernel) (kernel as SetkeyKernel).close();
    await out.flush();
    await err.flush();
  }
  return 0;
}

async function dumpJson(k: SetkeyKernel, args: SetkeyArgs, out: BufferedSink): Promise<number> {
  const [{ readRecord }, { recordToJson }] = await Promise.all([import('../wasm/records.js'), import('../engine/json.js')]);
  const mark = markRecords();
  try {
    const { first, end } = await k.dump(args.policy ? 'policy' : 'sa');
    // One object at a time: a 100k-entry dump must not become one giant string.
    out.write(args.policy ? '{"policies":[' : '{"sas":[');
    for (let i = first; i < end; i++) {
      out.write((i > first ? ',\n' : '\n') + JSON.stringify(recordToJson(readRecord(i), { showKeys: args.showKeys })));
    }
    out.write(end > first ? '\n]}\n' : ']}\n');
  } finally {
    restoreRecords(mark);
  }
  void wasm;
  return 0;
}

async function dumpLoop(k: SetkeyKernel, args: SetkeyArgs, out: BufferedSink): Promise<number> {
  out.write(SETKEY_SHORT_HEADER); // shortdump_hdr(): once, before the first message
  for (;;) {
    await printDump({ out, all: args.all, ports: args.ports, pid: process.pid }, k, args.policy ? 'policy' : 'sa', 255, !args.policy);
    await out.flush();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
