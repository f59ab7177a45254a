// A persistent ONNX Runtime worker for `vigil bench vrt` (bench/bench_vrt.c):
// the bench times inference and session creation, not node's start-up.
//
//   node ort_bench.mjs MODEL_ONNX INPUTS_JSON
//
// INPUTS_JSON as in ort_run.mjs. Reads one command per line on stdin and
// answers one line on stdout ("ok ..." or "err MESSAGE"):
//   load T     create a session with T intra-op threads (CPU EP, one inter-op
//              thread, sequential); answers "ok MS" (the creation time)
//   run T      one inference on the T-thread session; "ok MS"
//   dump DIR   run the first session created and write DIR/output_<i>.bin
//              (raw values, the model's output order) and outputs.json; "ok N"
//   quit
// The runtime is looked up in $VIGIL_REF/node_modules (default $VIGIL_HOME/ref).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const [modelPath, inputsPath] = process.argv.slice(2);
if (!modelPath || !inputsPath) {
  console.error('usage: node ort_bench.mjs MODEL_ONNX INPUTS_JSON');
  process.exit(2);
}
const home = process.env.VIGIL_HOME || path.join(os.homedir(), '.cache', 'vigil');
const ref = process.env.VIGIL_REF || path.join(home, 'ref');
const require = createRequire(path.join(ref, 'node_modules', 'noop.js'));
const ort = require('onnxruntime-node');

const arrays = {
  float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, float64: Float64Array,
};

function readInput(spec, dir) {
  const T = arrays[spec.dtype];
  if (!T) throw new Error(`input ${spec.name}: dtype ${spec.dtype} not handled`);
  const buf = fs.readFileSync(path.join(dir, spec.file));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== n * T.BYTES_PER_ELEMENT)
    throw new Error(`input ${spec.name}: ${buf.byteLength} bytes for shape [${spec.shape}]`);
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new ort.Tensor(spec.dtype, new T(copy.buffer), spec.shape);
}

const specs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
const feeds = {};
for (const s of specs) feeds[s.name] = readInput(s, path.dirname(inputsPath));
const sessions = new Map();
let first = null;

async function handle(words) {
  const [cmd, arg] = words;
  if (cmd === 'load') {
    const t = Number(arg);
    const t0 = process.hrtime.bigint();
    const s = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: t,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
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
    fs.mkdirSync(arg, { recursive: true });
    const outs = [];
    first.outputNames.forEach((name, i) => {
      const t = results[name];
      const file = `output_${i}.bin`;
      const d = t.data;
      fs.writeFileSync(path.join(arg, file), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
      outs.push({ name, dtype: t.type, shape: t.dims.map(Number), file });
    });
    fs.writeFileSync(path.join(arg, 'outputs.json'), JSON.stringify(outs, null, 1) + '\n');
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
