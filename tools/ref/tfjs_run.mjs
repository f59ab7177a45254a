// Runs a local TF.js graph model with @tensorflow/tfjs (pure-JS cpu backend)
// on raw input files and writes raw outputs: the reference for vrt's parity
// tests.
//
//   node tfjs_run.mjs MODEL_JSON INPUTS_JSON OUT_DIR
//
// INPUTS_JSON: [{"name", "dtype": "float32"|"int32", "shape": [..], "file"}]
// (file relative to INPUTS_JSON's folder; raw little-endian values).
// Writes OUT_DIR/output_<i>.bin (float32 or int32 little-endian; bool as
// int32) and OUT_DIR/outputs.json: [{"name", "dtype", "shape", "file"}] in
// the model's output order (tf.GraphModel.outputNodes).
// The reference runtime is looked up in $VIGIL_REF/node_modules (default
// $VIGIL_HOME/ref, VIGIL_HOME defaulting to ~/.cache/vigil).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [modelPath, inputsPath, outDir] = process.argv.slice(2);
if (!modelPath || !inputsPath || !outDir) {
  console.error('usage: node tfjs_run.mjs MODEL_JSON INPUTS_JSON OUT_DIR');
  process.exit(2);
}
const home = process.env.VIGIL_HOME || path.join(os.homedir(), '.cache', 'vigil');
const ref = process.env.VIGIL_REF || path.join(home, 'ref');
const require = createRequire(path.join(ref, 'node_modules', 'noop.js'));
const tf = require('@tensorflow/tfjs');

// The IOHandler: model.json plus its shards, concatenated in manifest order.
function localHandler(file) {
  return {
    load: async () => {
      const j = JSON.parse(fs.readFileSync(file, 'utf8'));
      const dir = path.dirname(file);
      const specs = [];
      const parts = [];
      for (const group of j.weightsManifest || []) {
        specs.push(...group.weights);
        for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(parts);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: j.modelTopology,
        format: j.format,
        generatedBy: j.generatedBy,
        convertedBy: j.convertedBy,
        signature: j.signature,
        userDefinedMetadata: j.userDefinedMetadata,
        weightSpecs: specs,
        weightData,
      };
    },
  };
}

function readTensor(dir, spec) {
  const buf = fs.readFileSync(path.join(dir, spec.file));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== n * 4) throw new Error(`${spec.file}: ${buf.length} bytes, want ${n * 4}`);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = spec.dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
  return tf.tensor(data, spec.shape, spec.dtype);
}

await tf.setBackend('cpu');
await tf.ready();
const model = await tf.loadGraphModel(localHandler(modelPath));
const inDir = path.dirname(inputsPath);
const specs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
const feeds = {};
specs.forEach((s, i) => {
  // Feed by the model's own input names, in order; the names in INPUTS_JSON
  // are vrt's (Placeholder node names) and are only checked for count.
  feeds[model.inputNodes[i]] = readTensor(inDir, s);
});
if (specs.length !== model.inputNodes.length)
  throw new Error(`model has ${model.inputNodes.length} inputs, got ${specs.length}`);
// Outputs: the signature's entries (top level, else userDefinedMetadata's,
// as tf.GraphModel reads them) named by key and fetched by tensor name, in
// json order; without a signature, tf.GraphModel.outputNodes. (outputNodes
// cannot be used with a signature: it keeps one key per node, so two outputs
// of one node, e.g. TopKV2 values and indices, would get the same name.)
const mj = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
const sig = (mj.signature || (mj.userDefinedMetadata || {}).signature || {}).outputs;
const names = sig && Object.keys(sig).length ? Object.keys(sig) : model.outputNodes;
const fetch = sig && Object.keys(sig).length ? names.map((k) => sig[k].name || k) : names;
let outs;
try {
  outs = model.execute(feeds, fetch);
} catch (e) {
  outs = await model.executeAsync(feeds, fetch);
}
if (!Array.isArray(outs)) outs = [outs];
fs.mkdirSync(outDir, { recursive: true });
const meta = [];
for (let i = 0; i < outs.length; i++) {
  const t = outs[i];
  const dtype = t.dtype === 'float32' ? 'float32' : 'int32';
  const vals = await t.data();
  const arr = dtype === 'float32' ? Float32Array.from(vals) : Int32Array.from(vals);
  const file = `output_${i}.bin`;
  fs.writeFileSync(path.join(outDir, file), Buffer.from(arr.buffer));
  meta.push({ name: names[i], dtype, shape: t.shape, file });
}
fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(meta, null, 1) + '\n');
console.log(JSON.stringify({ model: modelPath, tfjs: tf.version.tfjs, backend: tf.getBackend(), outputs: meta.map((m) => [m.name, m.shape]) }));
