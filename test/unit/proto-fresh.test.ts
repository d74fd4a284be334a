// The committed generated gRPC code (src/gen) matches proto/: scripts/build.mjs stamps the sources' hash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('src/gen was generated from the current proto/ files', () => {
  const protos = readdirSync(path.join(root, 'proto/keyfleet/v1')).filter((f) => f.endsWith('.proto')).map((f) => `proto/keyfleet/v1/${f}`);
  const h = createHash('sha256');
  for (const p of [...protos, 'proto/buf.gen.yaml']) h.update(p).update(readFileSync(path.join(root, p)));
  const stamp = readFileSync(path.join(root, 'src/gen/.proto-sha256'), 'utf8').trim();
  assert.is(stamp, h.digest('hex'), 'run `npm run build` (with protoc installed) and commit src/gen');
  assert.match(readFileSync(path.join(root, 'src/gen/keyfleet/v1/agent.pb.ts'), 'utf8').split('\n')[0]!, 'Code generated');
});

test.run();
