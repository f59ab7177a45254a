// Runs an ONNX model with onnxruntime-node (CPU, one thread) on raw input
// files and writes raw outputs: the reference for vrt's ONNX parity tests.
//
//   node ort_run.mjs MODEL_ONNX INPUTS_JSON OUT_DIR
//
// INPUTS_JSON: [{"name", "dtype": "float32"|"int32"|"int64"|"uint8", "shape": [..], "file"}]
// (file relative to INPUTS_JSON's folder; raw little-endian values).
// Writes OUT_DIR/output_<i>.bin (raw little-endian values in the output's
// dtype) and OUT_DIR/outputs.json: [{"name", "dtype", "shape", "file"}] in
// the model's output order. The runtime is looked up in
// $VIGIL_REF/node_modules (default $VIGIL_HOME/ref, VIGIL_HOME defaulting to
// ~/.cache/vigil).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [modelPath, inputsPath, outDir] = process.argv.slice(2);
if (!modelPath || !inputsPath || !outDir) {
  console.error('usage: node ort_run.mjs MODEL_ONNX INPUTS_JSON OUT_DIR');
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
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
});
const feeds = {};
for (const s of specs) feeds[s.name] = readInput(s, path.dirname(inputsPath));
const results = await session.run(feeds);
fs.mkdirSync(outDir, { recursive: true });
const outs = [];
session.outputNames.forEach((name, i) => {
  const t = results[name];
  const file = `output_${i}.bin`;
  const d = t.data;
  fs.writeFileSync(path.join(outDir, file), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  outs.push({ name, dtype: t.type, shape: t.dims.map(Number), file });
});
fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(outs, null, 1) + '\n');
console.log(JSON.stringify(outs.map((o) => ({ name: o.name, shape: o.shape }))));
