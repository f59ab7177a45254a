#!/usr/bin/python3
"""Writes a small stand-in for the Florence-2 export (tools/export/florence_2_large.py) with
exactly its file layout and input/output names, and weights crafted so the answer can be
predicted by tests/unit/test_florence_model.c.

usage: gen_florence_models.py OUTDIR  -> OUTDIR/florence/{vision_encoder, embed_tokens,
       encoder_model, decoder_model, decoder_with_past_model}.onnx, vocab.json, merges.txt

Vocabulary: BART's specials (<s> 0, <pad> 1, </s> 2, <unk> 3), the 256 byte symbols, BPE
merges learnt with GPT-2's pre-tokenizer from a small corpus (so "Ġred", "Ġblue", "Ġcar"
are single tokens), then <loc_0> .. <loc_999>. Width D = 16, one decoder layer, one head.

What the graphs compute (one-hot "slots" in the 16-d embedding space):
- vision_encoder pixel_values [1,3,64,64] -> image_features [1,4,16]: the mean of each
  normalised channel (r, g, b) in dims 10, 11, 12, the same at 4 positions.
- embed_tokens input_ids [N,L] -> inputs_embeds [N,L,16]: the script's tokens are one-hot
  (<s> 0, "a" 1, "Ġred" 2, "Ġblue" 3, "Ġcar" 4, <loc_100> 5, <loc_200> 6, <loc_600> 7,
  <loc_700> 8, </s> 9, <loc_300> 13, <loc_400> 14); every other token is 0.
- encoder_model inputs_embeds, attention_mask -> last_hidden_state = inputs_embeds (masked).
- decoder_model (step 0) and decoder_with_past_model: logits [N,1,V] =
    bigram(last token)                          <s> -> "a"; "a" -> "Ġred" = "Ġblue";
                                                "Ġred"/"Ġblue" -> "Ġcar"; "Ġcar" -> <loc_300> (7) over <loc_100> (6);
                                                <loc_100> -> <loc_200>; <loc_300> -> <loc_400>;
                                                <loc_200>/<loc_400> -> <loc_600> -> <loc_700> -> </s>
  + colour(mean over the cached encoder keys)   r - b favours "Ġred", b - r "Ġblue"
  + history(sum of the cached decoder keys)     "Ġred" seen favours <loc_100>, "Ġblue" <loc_300>
  so a red image reads "a red car" with box bins (100, 200, 600, 700), a blue one "a blue car"
  with (300, 400, 600, 700) - and the red one gets <loc_100> only if the decoder history
  (the cache, reordered with the beams) reaches the step: without it the bigram's <loc_300>
  wins. present.0.decoder.* = past concatenated with the new token's
  embedding; present.0.encoder.* = the encoder output (step 0 only).
Needs Debian's python3-onnx, python3-numpy and python3-regex.
"""
import json
import os
import sys

import numpy as np
import regex
from onnx import TensorProto

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_clip_bpe  # noqa: E402
from gen_hub_models import init, node, save, vi  # noqa: E402

F32, I64 = TensorProto.FLOAT, TensorProto.INT64
D = 16
GPT2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
BYTES = gen_clip_bpe.BYTES


def main():
    d = os.path.join(sys.argv[1], "florence")
    os.makedirs(d, exist_ok=True)
    corpus = ["a red car", "a blue car", "What does the image describe?", "Locate the objects with category name in the image.",
              "What is the text in the image?", "Describe in detail what is shown in the image."] * 20
    merges = gen_clip_bpe.train(corpus, 400, pattern=GPT2, prep=lambda t: t, suffix="")
    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + [BYTES[b] for b in range(256)] + ["".join(m) for m in merges]
    vocab = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    for i in range(1000):
        vocab["<loc_%d>" % i] = len(vocab)
    V = len(vocab)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(a + " " + b + "\n" for a, b in merges))

    def tid(t):
        if t not in vocab:
            sys.exit("gen_florence_models: %r is not one token" % t)
        return vocab[t]

    slots = {"<s>": 0, "a": 1, "Ġred": 2, "Ġblue": 3, "Ġcar": 4, "<loc_100>": 5, "<loc_200>": 6, "<loc_600>": 7,
             "<loc_700>": 8, "</s>": 9, "<loc_300>": 13, "<loc_400>": 14}
    E = np.zeros((V, D), np.float32)
    for t, s in slots.items():
        E[tid(t), s] = 1
    T = np.zeros((D, V), np.float32)  # bigram on the last token's slot
    for a, b, w in (("<s>", "a", 10), ("a", "Ġred", 6), ("a", "Ġblue", 6), ("Ġred", "Ġcar", 10), ("Ġblue", "Ġcar", 10),
                    ("Ġcar", "<loc_100>", 6), ("Ġcar", "<loc_300>", 7), ("<loc_100>", "<loc_200>", 10),
                    ("<loc_300>", "<loc_400>", 10), ("<loc_200>", "<loc_600>", 10), ("<loc_400>", "<loc_600>", 10),
                    ("<loc_600>", "<loc_700>", 10), ("<loc_700>", "</s>", 10)):
        T[slots[a], tid(b)] = w
    U = np.zeros((D, V), np.float32)  # colour of the encoder output
    U[10, tid("Ġred")], U[12, tid("Ġred")] = 3, -3
    U[10, tid("Ġblue")], U[12, tid("Ġblue")] = -3, 3
    P = np.zeros((D, V), np.float32)  # tokens seen before
    P[slots["Ġred"], tid("<loc_100>")] = 8
    P[slots["Ġblue"], tid("<loc_300>")] = 8

    W = np.zeros((3, D), np.float32)
    W[0, 10], W[1, 11], W[2, 12] = 1, 1, 1
    save(os.path.join(d, "vision_encoder.onnx"), "florence-vision",
         [node("GlobalAveragePool", ["pixel_values"], ["gap"]), node("Flatten", ["gap"], ["f"], axis=1),
          node("MatMul", ["f", "W"], ["m"]), node("Unsqueeze", ["m", "ax1"], ["m3"]),
          node("Expand", ["m3", "shape"], ["image_features"])],
         [vi("pixel_values", F32, [1, 3, 64, 64])], [vi("image_features", F32, [1, 4, D])],
         [init("W", W), init("ax1", [1], np.int64), init("shape", [1, 4, D], np.int64)])
    save(os.path.join(d, "embed_tokens.onnx"), "florence-embed", [node("Gather", ["E", "input_ids"], ["inputs_embeds"])],
         [vi("input_ids", I64, ["batch", "seq"])], [vi("inputs_embeds", F32, ["batch", "seq", D])], [init("E", E)])
    save(os.path.join(d, "encoder_model.onnx"), "florence-encoder",
         [node("Cast", ["attention_mask"], ["mf"], to=F32), node("Unsqueeze", ["mf", "ax2"], ["m3"]),
          node("Mul", ["inputs_embeds", "m3"], ["last_hidden_state"])],
         [vi("inputs_embeds", F32, ["batch", "seq", D]), vi("attention_mask", I64, ["batch", "seq"])],
         [vi("last_hidden_state", F32, ["batch", "seq", D])], [init("ax2", [2], np.int64)])

    def head(enc_key, extra_nodes, extra_in):
        """logits from inputs_embeds, the encoder keys (colour) and, with a past, the decoder keys."""
        n = [node("MatMul", ["inputs_embeds", "T"], ["lt"]),                    # [N,1,V]
             node("ReduceMean", [enc_key], ["em"], axes=[1, 2], keepdims=0),     # [N,D]
             node("MatMul", ["em", "U"], ["lu"]), node("Unsqueeze", ["lu", "ax1"], ["lu3"]),
             node("Add", ["lt", "lu3"], ["l1"])]
        n += extra_nodes
        n.append(node("Add" if extra_in else "Identity", ["l1", "lp3"] if extra_in else ["l1"], ["logits"]))
        return n

    kv = [node("Unsqueeze", ["inputs_embeds", "ax1"], ["new_kv"])]  # [N,1(head),1,D]
    dec_nodes = kv + [node("Identity", ["new_kv"], ["present.0.decoder.key"]),
                      node("Identity", ["new_kv"], ["present.0.decoder.value"]),
                      node("Unsqueeze", ["encoder_hidden_states", "ax1"], ["present.0.encoder.key"]),
                      node("Identity", ["present.0.encoder.key"], ["present.0.encoder.value"])]
    dec_nodes += head("present.0.encoder.key", [], False)
    outs = [vi("logits", F32, ["batch", 1, V]), vi("present.0.decoder.key", F32, ["batch", 1, 1, D]),
            vi("present.0.decoder.value", F32, ["batch", 1, 1, D]),
            vi("present.0.encoder.key", F32, ["batch", 1, "enc", D]),
            vi("present.0.encoder.value", F32, ["batch", 1, "enc", D])]
    consts = [init("T", T), init("U", U), init("P", P), init("ax1", [1], np.int64)]
    save(os.path.join(d, "decoder_model.onnx"), "florence-decoder", dec_nodes,
         [vi("encoder_attention_mask", I64, ["batch", "enc"]), vi("encoder_hidden_states", F32, ["batch", "enc", D]),
          vi("inputs_embeds", F32, ["batch", 1, D])], outs, consts)
    past_nodes = kv + [node("Concat", ["past_key_values.0.decoder.key", "new_kv"], ["present.0.decoder.key"], axis=2),
                       node("Concat", ["past_key_values.0.decoder.value", "new_kv"], ["present.0.decoder.value"], axis=2)]
    hist = [node("ReduceSum", ["past_key_values.0.decoder.key", "ax12"], ["hs"], keepdims=0),  # [N,D]
            node("MatMul", ["hs", "P"], ["lp"]), node("Unsqueeze", ["lp", "ax1"], ["lp3"])]
    past_nodes += head("past_key_values.0.encoder.key", hist, True)
    save(os.path.join(d, "decoder_with_past_model.onnx"), "florence-decoder-past", past_nodes,
         [vi("encoder_attention_mask", I64, ["batch", "enc"]), vi("inputs_embeds", F32, ["batch", 1, D]),
          vi("past_key_values.0.decoder.key", F32, ["batch", 1, "past", D]),
          vi("past_key_values.0.decoder.value", F32, ["batch", 1, "past", D]),
          vi("past_key_values.0.encoder.key", F32, ["batch", 1, "enc", D]),
          vi("past_key_values.0.encoder.value", F32, ["batch", 1, "enc", D])],
         outs[:3], consts + [init("ax12", [1, 2], np.int64)])


if __name__ == "__main__":
    main()
