// What the onnxruntime-node scripts of tools/ref share: the runtime (looked up
// in $VIGIL_REF/node_modules, default $VIGIL_HOME/ref, VIGIL_HOME defaulting
// to ~/.cache/vigil), CPU sessions, inputs from an inputs.json and raw outputs.
//
// inputs.json: [{"name", "dtype": "float32"|"int32"|"int64"|"uint8"|"float64",
// "shape": [..], "file"}] (file relative to the folder of inputs.json; raw
// little-endian values).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const home = process.env.VIGIL_HOME || path.join(os.homedir(), '.cache', 'vigil');
const ref = process.env.VIGIL_REF || path.join(home, 'ref');
const require = createRequire(path.join(ref, 'node_modules', 'noop.js'));
export const ort = require('onnxruntime-node');

const arrays = {
  float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, float64: Float64Array,
};

// A CPU session with `threads` intra-op threads, one inter-op thread,
// sequential execution; `extra` adds or overrides session options.
export function createSession(modelPath, threads = 1, extra = {}) {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    ...extra,
  });
}

function readInput(spec, dir) {
  const T = arrays[spec.dtype];
  if (!T) throw new Error(`input ${spec.name}: dtype ${spec.dtype} not handled`);
  const buf = fs.readFileSync(path.join(dir, spec.file));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== n * T.BYTES_PER_ELEMENT)
    throw new Error(`input ${spec.name}: ${buf.byteLength} bytes for shape [${spec.shape}]`);
  const copy = new Uint8Array(buf.byteLength); // aligned for T
  copy.set(buf);
  return new ort.Tensor(spec.dtype, new T(copy.buffer), spec.shape);
}

// The feeds ({name: tensor}) described by inputsPath.
export function readFeeds(inputsPath) {
  const specs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
  const feeds = {};
  for (const s of specs) feeds[s.name] = readInput(s, path.dirname(inputsPath));
  return feeds;
}

// Writes dir/output_<i>.bin (raw values, the session's output order) and
// dir/outputs.json [{"name", "dtype", "shape", "file"}]; returns that list.
export function writeOutputs(session, results, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const outs = session.outputNames.map((name, i) => {
    const t = results[name];
    const file = `output_${i}.bin`;
    const d = t.data;
    fs.writeFileSync(path.join(dir, file), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    return { name, dtype: t.type, shape: t.dims.map(Number), file };
  });
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(outs, null, 1) + '\n');
  return outs;
}
