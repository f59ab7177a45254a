// A persistent ONNX Runtime worker for `vigil bench vrt` (bench/bench_vrt.c):
// the bench times inference and session creation, not node's start-up.
//
//   node ort_bench.mjs MODEL_ONNX INPUTS_JSON
//
// Reads one command per line on stdin and answers one line on stdout ("ok ..."
// or "err MESSAGE"):
//   load T     create a session with T intra-op threads (CPU EP, one inter-op
//              thread, sequential); answers "ok MS" (the creation time)
//   run T      one inference on the T-thread session; "ok MS"
//   dump DIR   run the first session created and write DIR/output_<i>.bin
//              (raw values, the model's output order) and outputs.json; "ok N"
//   quit
// INPUTS_JSON, the runtime and the outputs as described in ort_common.mjs.
import readline from 'node:readline';
import { createSession, readFeeds, writeOutputs } from './ort_common.mjs';

const [modelPath, inputsPath] = process.argv.slice(2);
if (!modelPath || !inputsPath) {
  console.error('usage: node ort_bench.mjs MODEL_ONNX INPUTS_JSON');
  process.exit(2);
}
const feeds = readFeeds(inputsPath);
const sessions = new Map();
let first = null;

async function handle(words) {
  const [cmd, arg] = words;
  if (cmd === 'load') {
    const t = Number(arg);
    const t0 = process.hrtime.bigint();
    const s = await createSession(modelPath, t);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    sessions.set(t, s);
    if (!first) first = s;
    return `ok ${ms}`;
  }
  if (cmd === 'run') {
    const s = sessions.get(Number(arg));
    if (!s) throw new Error(`no session with ${arg} threads`);
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    return `ok ${Number(process.hrtime.bigint() - t0) / 1e6}`;
  }
  if (cmd === 'dump') {
    if (!first) throw new Error('no session');
    const results = await first.run(feeds);
    const outs = writeOutputs(first, results, arg);
    return `ok ${outs.length}`;
  }
  if (cmd === 'quit') process.exit(0);
  throw new Error(`unknown command '${cmd}'`);
}

const rl = readline.createInterface({ input: process.stdin });
// one command at a time, in order
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let reply;
    try {
      reply = await handle(line.trim().split(/\s+/));
    } catch (e) {
      reply = `err ${String(e.message || e).replace(/\s+/g, ' ')}`;
    }
    process.stdout.write(reply + '\n');
  });
});
rl.on('close', () => chain.then(() => process.exit(0)));
process.stdout.write('ready\n');
