#!/usr/bin/env node
// scripts/build.mjs — builds everything `npm ci` must produce (layer: tooling): the WebAssembly module
// (asc), the TypeScript (tsc → dist/) and the native socket addon (node-gyp → build/Release).
// `node scripts/build.mjs [asm|ts|native]...` builds only the named parts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const parts = process.argv.slice(2);
const want = (p) => parts.length === 0 || parts.includes(p);

function run(what, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${what} failed (exit ${r.status ?? r.signal}); fix the error above and run \`npm run build\``);
    process.exit(1);
  }
  console.error(`build: ${what} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function nodeGyp() {
  // npm passes its bundled node-gyp to install scripts; outside npm, find the one npm ships with.
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try { return require.resolve('node-gyp/bin/node-gyp.js'); } catch { /* fall through */ }
  console.error('build: node-gyp not found; install it with `npm i -g node-gyp` and run `npm run build`');
  process.exit(1);
}

if (want('asm')) {
  const asc = path.join(root, 'node_modules/assemblyscript/bin/asc.js');
  run('wasm (asc)', process.execPath, [asc, 'asm/src/index.ts', '--config', 'asm/asconfig.json', '--target', 'release']);
}
if (want('ts')) {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  run('typescript (tsc)', process.execPath, [tsc, '-p', 'tsconfig.json']);
}
if (want('native') && existsSync(path.join(root, 'binding.gyp'))) {
  // node-gyp reads nodedir only from npm's environment; outside npm use the installed headers rather
  // than downloading them (the machines this builds on reach no download site).
  const extra = [];
  if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) extra.push('--nodedir=/usr');
  run('native addon (node-gyp)', process.execPath, [nodeGyp(), 'rebuild', '--release', ...extra]);
}
