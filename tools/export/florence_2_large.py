#!/usr/bin/env python3
"""microsoft/Florence-2-large (Hugging Face, trust_remote_code) -> <out>/
    vision_encoder.onnx, embed_tokens.onnx, encoder_model.onnx, decoder_model.onnx,
    decoder_with_past_model.onnx, vocab.json, merges.txt

NOT RUN HERE: needs transformers (with Florence-2's remote code), PyTorch and the Hugging
Face hub (see _common.py).

vigil expects (src/models/florence.c, florence_load / florence_run):
  vision_encoder.onnx   pixel_values [1,3,768,768] float32 (stretched, x/255, ImageNet
                        mean/std) -> image_features [1,577,1024] (the projected features the
                        language model reads)
  embed_tokens.onnx     input_ids [N,L] int64 -> inputs_embeds [N,L,1024]
  encoder_model.onnx    inputs_embeds [1,S,1024], attention_mask [1,S] int64 -> last_hidden_state
  decoder_model.onnx    encoder_attention_mask [N,S], encoder_hidden_states [N,S,1024],
                        inputs_embeds [N,1,1024] -> logits [N,1,V], present.{i}.decoder.key/value,
                        present.{i}.encoder.key/value (every layer i)
  decoder_with_past_model.onnx
                        encoder_attention_mask, inputs_embeds, past_key_values.{i}.decoder.key/value,
                        past_key_values.{i}.encoder.key/value -> logits, present.{i}.decoder.key/value
  vocab.json, merges.txt  the BART tokenizer's files (vigil tokenizes in C)
No merged decoder with an If node (vrt has no control flow): the two decoder graphs
are exported separately. Point FLORENCE_MODEL_PATH at <out>.
"""
import os
import shutil

import _common


def main():
    args = _common.out_dir("florence-2-large").parse_args()
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoProcessor

    name = "microsoft/Florence-2-large"
    os.makedirs(args.out, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(name, trust_remote_code=True).eval()
    proc = AutoProcessor.from_pretrained(name, trust_remote_code=True)
    lm = model.language_model
    D = lm.config.d_model
    L = lm.config.decoder_layers

    class Vision(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m._encode_image(pixel_values)

    class Embed(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.e = m.get_input_embeddings()

        def forward(self, input_ids):
            return self.e(input_ids)

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.enc = m.get_encoder()

        def forward(self, inputs_embeds, attention_mask):
            return self.enc(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    class Decoder(torch.nn.Module):
        def __init__(self, m, with_past):
            super().__init__()
            self.m, self.with_past = m, with_past

        def forward(self, encoder_attention_mask, encoder_hidden_states, inputs_embeds, *past):
            pkv = None
            if self.with_past:
                pkv = tuple(tuple(past[4 * i:4 * i + 4]) for i in range(L))
            out = self.m(encoder_outputs=(encoder_hidden_states,), attention_mask=encoder_attention_mask,
                         decoder_inputs_embeds=inputs_embeds, past_key_values=pkv, use_cache=True)
            flat = []
            for layer in out.past_key_values:
                flat += list(layer if not self.with_past else layer[:2])
            return (out.logits, *flat)

    S_img = 577
    enc_len = S_img + 12
    names = []
    for i in range(L):
        names += ["%d.decoder.key" % i, "%d.decoder.value" % i, "%d.encoder.key" % i, "%d.encoder.value" % i]
    with torch.no_grad():
        torch.onnx.export(Vision(model), (torch.zeros(1, 3, 768, 768),), os.path.join(args.out, "vision_encoder.onnx"),
                          input_names=["pixel_values"], output_names=["image_features"], opset_version=_common.OPSET)
        torch.onnx.export(Embed(lm), (torch.zeros(1, 4, dtype=torch.long),), os.path.join(args.out, "embed_tokens.onnx"),
                          input_names=["input_ids"], output_names=["inputs_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "inputs_embeds": {0: "batch", 1: "seq"}},
                          opset_version=_common.OPSET)
        torch.onnx.export(Encoder(lm), (torch.zeros(1, enc_len, D), torch.ones(1, enc_len, dtype=torch.long)),
                          os.path.join(args.out, "encoder_model.onnx"), input_names=["inputs_embeds", "attention_mask"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"inputs_embeds": {1: "seq"}, "attention_mask": {1: "seq"},
                                        "last_hidden_state": {1: "seq"}}, opset_version=_common.OPSET)
        mask, enc, emb = torch.ones(1, enc_len, dtype=torch.long), torch.zeros(1, enc_len, D), torch.zeros(1, 1, D)
        dyn = {"encoder_attention_mask": {0: "batch", 1: "enc"}, "encoder_hidden_states": {0: "batch", 1: "enc"},
               "inputs_embeds": {0: "batch"}, "logits": {0: "batch"}}
        torch.onnx.export(Decoder(lm, False), (mask, enc, emb), os.path.join(args.out, "decoder_model.onnx"),
                          input_names=["encoder_attention_mask", "encoder_hidden_states", "inputs_embeds"],
                          output_names=["logits"] + ["present." + n for n in names], dynamic_axes=dyn,
                          opset_version=_common.OPSET)
        heads, hd = lm.config.decoder_attention_heads, D // lm.config.decoder_attention_heads
        past = []
        for n in names:
            past.append(torch.zeros(1, heads, enc_len if "encoder" in n else 3, hd))
        dec_names = [n for n in names if ".decoder." in n]
        torch.onnx.export(Decoder(lm, True), (mask, enc, emb, *past), os.path.join(args.out, "decoder_with_past_model.onnx"),
                          input_names=["encoder_attention_mask", "encoder_hidden_states", "inputs_embeds"]
                          + ["past_key_values." + n for n in names],
                          output_names=["logits"] + ["present." + n for n in dec_names], dynamic_axes=dyn,
                          opset_version=_common.OPSET)
    proc.tokenizer.save_pretrained(os.path.join(args.out, "tokenizer"))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(args.out, "tokenizer", f), os.path.join(args.out, f))
    # the added tokens (<loc_N>, task tokens) must be in vocab.json for vigil's decoder
    import json
    vocab = json.load(open(os.path.join(args.out, "vocab.json"), encoding="utf-8"))
    for tok, i in proc.tokenizer.get_added_vocab().items():
        vocab.setdefault(tok, i)
    json.dump(vocab, open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    _common.check(os.path.join(args.out, "vision_encoder.onnx"), {"pixel_values": np.zeros((1, 3, 768, 768), np.float32)})
    print("set FLORENCE_MODEL_PATH=%s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
