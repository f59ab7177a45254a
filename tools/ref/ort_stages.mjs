// Runs the model calls that vigil's OCR pipeline made, recorded stage by
// stage (tests/golden/test_ocr_parity.c and bench/bench_ocr.c write them),
// with onnxruntime-node (CPU, one thread): the reference for per-stage parity
// and for the OCR benchmark.
//
//   node ort_stages.mjs LIST_JSON REPS
//
// LIST_JSON: [{"model": ONNX path, "dir": folder with inputs.json}] (inputs.json
// as for ort_run.mjs). For each entry writes DIR/ort_output_0.bin (raw f32 of
// the first output) and DIR/ort.json {"shape", "ms"}: the median of REPS timed
// runs after one warm-up run (REPS 0: one untimed run). One session per model.
import fs from 'node:fs';
import path from 'node:path';
import { createSession, readFeeds } from './ort_common.mjs';

const [listPath, repsArg] = process.argv.slice(2);
if (!listPath) {
  console.error('usage: node ort_stages.mjs LIST_JSON REPS');
  process.exit(2);
}
const reps = Number(repsArg || 0);

const sessions = new Map();
async function session(model) {
  if (!sessions.has(model)) sessions.set(model, await createSession(model, 1));
  return sessions.get(model);
}

const list = JSON.parse(fs.readFileSync(listPath, 'utf8'));
for (const item of list) {
  const s = await session(item.model);
  const feeds = readFeeds(path.join(item.dir, 'inputs.json'));
  let out = await s.run(feeds);
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    out = await s.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const t = out[s.outputNames[0]];
  const d = t.data;
  fs.writeFileSync(path.join(item.dir, 'ort_output_0.bin'), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  fs.writeFileSync(path.join(item.dir, 'ort.json'), JSON.stringify({
    shape: t.dims.map(Number), ms: times.length ? times[Math.floor((times.length - 1) / 2)] : null,
  }) + '\n');
}
