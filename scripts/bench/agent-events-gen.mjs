// scripts/bench/agent-events-gen.mjs — the event generator of scripts/bench/agent.mjs (layer: tooling), in its own
// process so that sending never competes with the subscribers: adds policies to a netns through XFRM netlink at a
// fixed rate (1 ms ticks) and prints each policy's send time (performance.timeOrigin + now(), ms) as JSON.
//   node agent-events-gen.mjs ROOT NETNS RATE SECONDS FIRST
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, ns, rateS, secondsS, firstS] = process.argv.slice(2);
const dist = (p) => pathToFileURL(path.join(root, 'dist/src', p)).href;
const { XfrmKernel, markRecords, restoreRecords } = await import(dist('kernel/xfrm.js'));
const { writeRecord } = await import(dist('wasm/records.js'));
const rate = Number(rateS), total = Math.round(rate * Number(secondsS));
let serial = Number(firstS);
const kernel = XfrmKernel.open({ netns: ns });
const sent = [];
const t0 = performance.now();
let done = 0;
while (done < total) {
  const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
  if (due > done) {
    const mark = markRecords();
    try {
      let first = -1;
      const k0 = serial;
      for (let i = done; i < due; i++) {
        const k = serial++;
        const idx = writeRecord({ kind: 16, family: 2, dir: 1, sel: { saddr: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, daddr: '192.0.2.1', prefixlenS: 32, prefixlenD: 32, family: 2 } });
        if (first < 0) first = idx;
      }
      // The send time: the kernel makes each event inside this sendmsg (building the records above is not part
      // of the path measured, and a GC pause of this process there must not count as the agent's latency).
      const now = performance.timeOrigin + performance.now();
      for (let k = k0; k < serial; k++) sent.push([k, now]);
      await kernel.apply(first, first + (due - done));
    } finally { restoreRecords(mark); }
    done = due;
  }
  await new Promise((r) => setTimeout(r, 1));
}
kernel.close();
const u = process.cpuUsage();
process.stdout.write(JSON.stringify({ elapsed: (performance.now() - t0) / 1000, cpu: (u.user + u.system) / 1e6, sent }));
