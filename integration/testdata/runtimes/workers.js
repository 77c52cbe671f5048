// workers.js OUT STEPS DELAY_MS: Node.js with worker_threads under a
// checkpoint. Four workers (each its own V8 isolate and libuv loop, with
// V8's and libuv's thread pools beside them) hash their share of each
// step, reached through MessagePorts and a SharedArrayBuffer updated with
// Atomics; the main thread writes one line per step from the replies in
// worker order, the same bytes on every run.
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const fs = require('fs');

if (!isMainThread) {
  const shared = new Int32Array(workerData.sab);
  parentPort.on('message', ({ step }) => {
    let h = crypto.createHash('sha256').update(`${step}:${workerData.id}`).digest();
    const junk = [];
    for (let i = 0; i < 3000; i++) {
      h = crypto.createHash('sha256').update(h).digest();
      if (i % 100 === 0) junk.push(new Array(1000).fill(i)); // garbage for V8's collector
    }
    Atomics.add(shared, workerData.id, h[0]);
    parentPort.postMessage({ id: workerData.id, hex: h.toString('hex').slice(0, 12), n: junk.length });
  });
} else {
  const [out, stepsArg, delayArg] = process.argv.slice(2);
  const steps = Number(stepsArg), delay = Number(delayArg);
  const sab = new SharedArrayBuffer(4 * 4);
  const shared = new Int32Array(sab);
  const workers = [0, 1, 2, 3].map((id) => new Worker(__filename, { workerData: { id, sab } }));
  const fd = fs.openSync(out, 'w');
  const total = crypto.createHash('sha256');
  const step = (s) => {
    if (s === steps) {
      fs.writeSync(fd, `done ${total.digest('hex')}\n`);
      fs.closeSync(fd);
      workers.forEach((w) => w.terminate());
      return;
    }
    const replies = [];
    let left = workers.length;
    workers.forEach((w) => {
      w.once('message', (m) => {
        replies[m.id] = m.hex;
        if (--left === 0) {
          const line = `${s} ${replies.join(' ')} ${Array.from(shared).join(',')}\n`;
          total.update(line);
          fs.writeSync(fd, line);
          setTimeout(() => step(s + 1), delay);
        }
      });
      w.postMessage({ step: s });
    });
  };
  step(0);
}
