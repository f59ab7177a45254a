"""Shared by the export scripts in tools/export/ (see docs/models.md).

NOT RUN HERE: these scripts need the model hubs (Hugging Face, Ultralytics,
torchreid weights) and PyTorch, which vigil's build machine does not have.
They are written to be run by a user on a machine with network access:

    python3 -m venv venv && . venv/bin/activate
    pip install torch transformers onnx onnxruntime open_clip_torch ultralytics huggingface_hub
    python3 tools/export/<model>.py --out /models/<name>

Every script writes what vigil's adapter expects (file names, input and
output names, shapes, metadata, pre-tokenised prompts) and checks the ONNX
file with onnx.checker (and onnxruntime when installed).
"""
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools", "testmodels"))
import hub_prompts  # noqa: E402  (reads the prompt lists out of src/models/hub_*.c)

OPSET = 17


def clothing_prompts():
    return hub_prompts.clothing_prompts(ROOT)


def action_prompts():
    return hub_prompts.action_prompts(ROOT)


def write_prompt_ids(path, prompts, ids, masks=None):
    """prompt<TAB>ids[<TAB>mask], one row per prompt, every row the same length
    (src/models/hub_common.c reads it; vrt has no tokenizer)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# vigil prompt ids: prompt<TAB>ids[<TAB>attention mask], written by tools/export\n")
        for i, p in enumerate(prompts):
            if "\t" in p or "\n" in p:
                raise SystemExit("prompt %r contains a tab or newline" % p)
            row = [p, " ".join(str(int(v)) for v in ids[i])]
            if masks is not None:
                row.append(" ".join(str(int(v)) for v in masks[i]))
            f.write("\t".join(row) + "\n")


def set_metadata(path, props):
    """Adds metadata_props (e.g. id2label) to an ONNX file in place."""
    import onnx
    m = onnx.load(path)
    keep = {p.key: p.value for p in m.metadata_props}
    keep.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()})
    del m.metadata_props[:]
    for k, v in keep.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, path)


def check(path, feeds=None):
    """onnx.checker, and one onnxruntime run when onnxruntime is installed."""
    import onnx
    onnx.checker.check_model(path)
    m = onnx.load(path, load_external_data=False)
    print("%s: inputs %s outputs %s" % (
        path, [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in m.graph.input],
        [o.name for o in m.graph.output]))
    if feeds is None:
        return
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipped the test run")
        return
    outs = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
    print("onnxruntime: output shapes %s" % [o.shape for o in outs])


def out_dir(default):
    import argparse
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=default, help="output directory (default %(default)s)")
    return ap


def export_vit_classifier(repo, out, want_labels):
    """A Hugging Face ViT image classifier -> <out>/model.onnx with
    pixel_values [B,3,224,224] -> logits [B,n] and its id2label as metadata
    (vigil's adapter reads the label order from it)."""
    import torch
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    os.makedirs(out, exist_ok=True)
    model = AutoModelForImageClassification.from_pretrained(repo).eval()
    proc = AutoImageProcessor.from_pretrained(repo)
    size = proc.size.get("height", proc.size.get("shortest_edge")) if isinstance(proc.size, dict) else proc.size
    print("%s processor: size %s, mean %s, std %s, resample %s" % (repo, size, proc.image_mean, proc.image_std,
                                                                 getattr(proc, "resample", "?")))
    if size != 224 or list(proc.image_mean) != [0.5, 0.5, 0.5] or list(proc.image_std) != [0.5, 0.5, 0.5]:
        print("WARNING: vigil's adapter (src/models/hub_vit.c) assumes 224 and mean/std 0.5; this processor differs")
    labels = {str(k): v for k, v in model.config.id2label.items()}
    if len(labels) != want_labels:
        raise SystemExit("%s has %d labels, vigil expects %d" % (repo, len(labels), want_labels))

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values).logits

    path = os.path.join(out, "model.onnx")
    torch.onnx.export(Wrap(model), (torch.zeros(1, 3, 224, 224),), path, input_names=["pixel_values"],
                      output_names=["logits"], dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=OPSET)
    set_metadata(path, {"id2label": labels, "source": repo})
    import numpy as np
    check(path, {"pixel_values": np.zeros((1, 3, 224, 224), np.float32)})
    print("labels:", labels)
    return path
