// The ONNX Runtime reference of `vigil bench clip` (bench/bench_clip.c) for Florence-2
// generation: the same five exported graphs, the same input, greedy decoding with the
// key/value cache exactly as src/models/florence.c runs it (start from </s>, <s> forced,
// stop at </s> or MAX tokens).
//
//   node ort_florence.mjs EXPORT_DIR PIXELS_BIN SIDE QUESTION_IDS BOS EOS MAX
//
// PIXELS_BIN: float32 [1,3,SIDE,SIDE], already normalised; QUESTION_IDS: comma-separated
// (<s> ... </s>). One command per line on stdin, one answer per line on stdout:
//   load T   create the five sessions with T intra-op threads; "ok MS"
//   run      one whole answer; "ok MS TOKENS" (tokens before </s>, as florence_run counts)
//   quit
// The runtime: ort_common.mjs.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createSession, ort } from './ort_common.mjs';

const [dir, pixPath, sideArg, qArg, bosArg, eosArg, maxArg] = process.argv.slice(2);
if (!maxArg) {
  console.error('usage: node ort_florence.mjs EXPORT_DIR PIXELS_BIN SIDE QUESTION_IDS BOS EOS MAX');
  process.exit(2);
}
const S = Number(sideArg), BOS = Number(bosArg), EOS = Number(eosArg), MAX = Number(maxArg);
const qids = qArg.split(',').map((x) => BigInt(x));
const raw = fs.readFileSync(pixPath);
const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
if (pixels.length !== 3 * S * S) throw new Error(`pixels: ${pixels.length} floats for side ${S}`);
const files = ['vision_encoder', 'embed_tokens', 'encoder_model', 'decoder_model', 'decoder_with_past_model'];
let g = null;

async function embed(ids) {
  const t = new ort.Tensor('int64', BigInt64Array.from(ids), [1, ids.length]);
  const o = await g.embed_tokens.run({ [g.embed_tokens.inputNames[0]]: t });
  return o[g.embed_tokens.outputNames[0]];
}

async function answer() {
  const v = g.vision_encoder;
  const vf = (await v.run({ [v.inputNames[0]]: new ort.Tensor('float32', pixels, [1, 3, S, S]) }))[v.outputNames[0]];
  const q = await embed(qids);
  const [, N, D] = vf.dims.map(Number);
  const L = N + qids.length;
  const cat = new Float32Array(L * D);
  cat.set(vf.data, 0);
  cat.set(q.data, N * D);
  const mask = new ort.Tensor('int64', new BigInt64Array(L).fill(1n), [1, L]);
  const e = g.encoder_model;
  const feeds = {};
  for (const n of e.inputNames)
    feeds[n] = n === 'attention_mask' ? mask : new ort.Tensor('float32', cat, [1, L, D]);
  const enc = (await e.run(feeds))[e.outputNames[0]];
  const cache = {};
  let last = EOS, n = 0;
  for (let t = 0; t < MAX; t++) {
    const d = t === 0 ? g.decoder_model : g.decoder_with_past_model;
    const emb = await embed([BigInt(last)]);
    const f = {};
    for (const name of d.inputNames) {
      if (name === 'encoder_attention_mask') f[name] = mask;
      else if (name === 'encoder_hidden_states') f[name] = enc;
      else if (name === 'inputs_embeds') f[name] = emb;
      else if (name === 'use_cache_branch') f[name] = new ort.Tensor('bool', [true], [1]);
      else if (cache[name]) f[name] = cache[name];
      else throw new Error(`decoder input ${name} unknown`);
    }
    const o = await d.run(f);
    for (const name of d.outputNames) {
      if (!name.startsWith('present.')) continue;
      const key = 'past_key_values.' + name.slice(8);
      if (t > 0 && key.includes('.encoder.')) continue; // cross-attention is computed once
      cache[key] = o[name];
    }
    const lg = o.logits;
    const V = Number(lg.dims[2]), T = Number(lg.dims[1]);
    let next = BOS;
    if (t > 0) {
      const off = (T - 1) * V;
      next = 0;
      for (let i = 1; i < V; i++) if (lg.data[off + i] > lg.data[off + next]) next = i;
    }
    last = next;
    if (next === EOS) break; // counted as vigil counts: the tokens before </s>
    n++;
  }
  return n;
}

async function handle(words) {
  const [cmd, arg] = words;
  if (cmd === 'load') {
    const t0 = process.hrtime.bigint();
    g = {};
    for (const f of files)
      g[f] = await createSession(path.join(dir, f + '.onnx'), Number(arg), {
        logSeverityLevel: 3, // the stand-ins declare symbolic cache shapes ORT warns about
      });
    return `ok ${Number(process.hrtime.bigint() - t0) / 1e6}`;
  }
  if (cmd === 'run') {
    if (!g) throw new Error('no sessions');
    const t0 = process.hrtime.bigint();
    const n = await answer();
    return `ok ${Number(process.hrtime.bigint() - t0) / 1e6} ${n}`;
  }
  if (cmd === 'quit') process.exit(0);
  throw new Error(`unknown command '${cmd}'`);
}

const rl = readline.createInterface({ input: process.stdin });
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
