// src/cli/main.ts — the `keyfleet` command (layer: cli). Owns dispatch to the subcommands, --help and
// --version, and turning unexpected failures into one clear line and exit status 2 (never a stack dump
// unless KEYFLEET_DEBUG is set).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
// Subcommands are imported on use: the agent pulls in gRPC, which would cost every setkey run ~100 ms.

function version(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

const HELP = `keyfleet — IPsec key management for fleets of Linux hosts

usage: keyfleet setkey [setkey(8) options]   setkey-compatible, over XFRM netlink
       keyfleet agent --listen HOST:PORT ...     gRPC agent for this host's (or a netns's) XFRM tables
       keyfleet remote --agent HOST:PORT,... CMD drive many agents (apply, list, flush, watch, stats)
       keyfleet --version | --help

  keyfleet setkey -f FILE        apply a setkey configuration (as setkey -f)
  keyfleet setkey -c < FILE      the same from stdin (as setkey -c)
  keyfleet setkey -D [-P]        dump SAs (-P: policies), as setkey; --json for JSON
  keyfleet setkey -F [-P]        flush SAs (-P: policies)
  keyfleet setkey --help         all setkey options and keyfleet's additions

Global: --netns NAME works with every command (manage /run/netns/NAME).
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'setkey':
      return (await import('./setkey.js')).setkeyMain(rest);
    case 'ip':
      return (await import('./ip.js')).ipMain(rest);
    case 'agent':
      return (await import('./agent.js')).agentMain(rest);
    case 'remote':
      return (await import('./remote.js')).remoteMain(rest);
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`keyfleet ${version()}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`keyfleet: unknown command '${cmd}'; try \`keyfleet --help\`\n`);
      return 1;
  }
}
