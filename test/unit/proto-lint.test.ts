// test/unit/proto-lint.test.ts — proto/ is lint-clean under proto/buf.yaml (tier unit): `buf lint` and `buf build`
// with the @bufbuild/buf devDependency (scripts/buf.mjs), and the same lint run does report a finding, with
// file:line:column, once a rule of buf.yaml is broken (so a clean result means something).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const buf = (...args: string[]): { status: number | null; out: string } => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/buf.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

test('buf lint finds nothing in proto/', () => {
  const r = buf('lint', 'proto');
  assert.is(r.out, '', r.out);
  assert.is(r.status, 0);
});

test('buf build compiles proto/', () => {
  const r = buf('build', 'proto', '-o', process.platform === 'win32' ? 'NUL' : '/dev/null');
  assert.is(r.status, 0, r.out);
});

test('buf lint reports a broken rule of buf.yaml with file:line:column, and fails', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kf-buflint-'));
  try {
    mkdirSync(path.join(dir, 'keyfleet/v1'), { recursive: true });
    copyFileSync(path.join(root, 'proto/buf.yaml'), path.join(dir, 'buf.yaml'));
    const src = readFileSync(path.join(root, 'proto/keyfleet/v1/agent.proto'), 'utf8');
    const lines = src.split('\n').length;
    // An enum without a *_UNSPECIFIED zero value (ENUM_ZERO_VALUE_SUFFIX) and a field not in lower_snake_case.
    writeFileSync(path.join(dir, 'keyfleet/v1/agent.proto'), `${src}\nenum Colour {\n  RED = 0;\n}\nmessage Paint {\n  Colour theColour = 1;\n}\n`);
    const r = buf('lint', dir);
    assert.is(r.status, 100, r.out);
    assert.match(r.out, new RegExp(`keyfleet/v1/agent\\.proto:${lines + 2}:\\d+:.*UNSPECIFIED`));
    assert.match(r.out, new RegExp(`keyfleet/v1/agent\\.proto:${lines + 5}:\\d+:.*lower_snake_case`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
