#!/usr/bin/env node
// scripts/buf.mjs — runs the buf CLI of the @bufbuild/buf devDependency (layer: tooling). npm 11 does not run
// that package's postinstall (which would link node_modules/.bin/buf), but its platform package ships the
// binary ready to run, so this calls it directly: `node scripts/buf.mjs lint proto` (what `npm run lint:proto` does).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The platform package's binary (@bufbuild/buf-<os>-<arch>, as @bufbuild/buf's own install.js names them), or null. */
export function bufBinary() {
  const arch = { x64: 'x64', arm64: process.platform === 'linux' ? 'aarch64' : 'arm64', arm: 'armv7' }[process.arch] ?? process.arch;
  const exe = path.join(root, 'node_modules/@bufbuild', `buf-${process.platform}-${arch}`, 'bin', process.platform === 'win32' ? 'buf.exe' : 'buf');
  return existsSync(exe) ? exe : null;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const exe = bufBinary();
  if (!exe) {
    console.error(`buf: no @bufbuild/buf binary for ${process.platform}-${process.arch} in node_modules; run \`npm ci\``);
    process.exit(2);
  }
  const r = spawnSync(exe, process.argv.slice(2), { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
