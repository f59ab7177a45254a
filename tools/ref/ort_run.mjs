// Runs an ONNX model with onnxruntime-node (CPU, one thread) on raw input
// files and writes raw outputs: the reference for vrt's ONNX parity tests.
//
//   node ort_run.mjs MODEL_ONNX INPUTS_JSON OUT_DIR
//
// INPUTS_JSON and the outputs (OUT_DIR/output_<i>.bin, OUT_DIR/outputs.json,
// in the model's output order) as described in ort_common.mjs.
import { createSession, readFeeds, writeOutputs } from './ort_common.mjs';

const [modelPath, inputsPath, outDir] = process.argv.slice(2);
if (!modelPath || !inputsPath || !outDir) {
  console.error('usage: node ort_run.mjs MODEL_ONNX INPUTS_JSON OUT_DIR');
  process.exit(2);
}
const session = await createSession(modelPath, 1);
const results = await session.run(readFeeds(inputsPath));
const outs = writeOutputs(session, results, outDir);
console.log(JSON.stringify(outs.map((o) => ({ name: o.name, shape: o.shape }))));
