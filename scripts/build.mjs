#!/usr/bin/env node
// scripts/build.mjs — builds everything `npm ci` must produce (layer: tooling): the WebAssembly module
// (asc), the TypeScript (tsc → dist/) and the native socket addon (node-gyp → build/Release).
// `node scripts/build.mjs [asm|proto|ts|native]...` builds only the named parts (proto: proto/ → src/gen/ with protoc + ts-proto).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bufBinary } from './buf.mjs';

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
if (want('proto')) {
  // proto/ → src/gen/ with ts-proto as a protoc plugin (Debian's protobuf-compiler) when protoc is installed,
  // else with `buf generate` (the @bufbuild/buf devDependency, scripts/buf.mjs): both read the plugin options
  // of proto/buf.gen.yaml and make the same files (only the generator-version comment differs).
  const gen = readFileSync(path.join(root, 'proto/buf.gen.yaml'), 'utf8');
  const opts = [...gen.matchAll(/^\s+-\s+(\w+=\S+)\s*$/gm)].map((m) => m[1]).join(',');
  const protos = readdirSync(path.join(root, 'proto/keyfleet/v1')).filter((f) => f.endsWith('.proto')).map((f) => `proto/keyfleet/v1/${f}`);
  mkdirSync(path.join(root, 'src/gen'), { recursive: true });
  // The generated code is committed with the hash of its sources (src/gen/.proto-sha256), so a machine
  // without protoc still builds, and a stale src/gen is caught (here and by a unit test).
  const hash = createHash('sha256');
  for (const p of [...protos, 'proto/buf.gen.yaml']) hash.update(p).update(readFileSync(path.join(root, p)));
  const want = hash.digest('hex');
  const stamp = path.join(root, 'src/gen/.proto-sha256');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (spawnSync('protoc', ['--version']).status === 0) {
    run('proto (protoc + ts-proto)', 'protoc', [`--plugin=protoc-gen-ts_proto=${path.join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
      '--ts_proto_out=src/gen', `--ts_proto_opt=${opts}`, '-I', 'proto', ...protos]);
    writeFileSync(stamp, want + '\n');
  } else if (have === want) {
    console.error('build: proto: protoc not installed; src/gen is up to date with proto/ (committed), kept as is');
  } else if (bufBinary()) {
    run('proto (buf generate + ts-proto)', bufBinary(), ['generate', 'proto', '--template', 'proto/buf.gen.yaml']);
    writeFileSync(stamp, want + '\n');
  } else {
    console.error('build: proto: src/gen is out of date with proto/ and neither protoc nor buf is there: `npm ci` (installs buf) or `apt-get install protobuf-compiler`, then `npm run build`');
    process.exit(1);
  }
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
