#!/usr/bin/env python3
"""Exports the models `vigil bench vrt` compares against ONNX Runtime.

    python3 tools/bench/export_models.py [--out DIR] [--force]

Writes DIR/<name>.onnx (DIR defaults to $VIGIL_HOME/bench-models) with fixed
input shapes, random weights (weights=None, torch.manual_seed(0)): speed and
parity do not depend on trained weights. Run by tools/setup/deps.sh when a file
is missing; needs Debian's python3-torch, python3-torchvision, python3-onnx.

  resnet18            [1,3,224,224]  torchvision
  mobilenet_v3_large  [1,3,224,224]  torchvision
  yolov8n_style       [1,3,640,640]  written here: C2f/CSP blocks, SPPF, SiLU,
                                     upsample+concat neck, anchor-free head
  osnet_x1_0          [1,3,256,128]  written here from the OSNet paper (Zhou et
                                     al. 2019): omni-scale residual blocks with
                                     a unified aggregation gate
  vit_small_6l        [1,3,224,224]  torchvision VisionTransformer, ViT-S/16
                                     widths (384, 6 heads, MLP 1536) with 6 of
                                     its 12 layers (45 MB): the MatMul,
                                     attention and LayerNorm path

More torchvision architectures, exported only when named (`make deps` does
not): the sweep that checks vrt on networks its bench set does not cover,

    python3 tools/bench/export_models.py --out /tmp/sweep --zoo
    build/bench_vrt --models none --no-busy $(for f in /tmp/sweep/*.onnx; do echo --onnx $f; done)

  ZOO (below), each [1,3,224,224] (inception_v3 [1,3,299,299]), weights=None
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torchvision

OPSET = 17


# --- YOLOv8n-style detector ---------------------------------------------------
class ConvBnSilu(nn.Module):
    def __init__(self, cin, cout, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1 = ConvBnSilu(c, c, 3)
        self.cv2 = ConvBnSilu(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """Split the 1x1 projection in two, run n bottlenecks on one half keeping
    every intermediate, concatenate all of them, project back."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        self.c = cout // 2
        self.cv1 = ConvBnSilu(cin, 2 * self.c, 1)
        self.cv2 = ConvBnSilu((2 + n) * self.c, cout, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        c = cin // 2
        self.cv1 = ConvBnSilu(cin, c, 1)
        self.cv2 = ConvBnSilu(c * 4, cout, 1)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class Detect(nn.Module):
    """Anchor-free head: per level a box branch (4 x 16 DFL bins) and a class
    branch; outputs [1, 4*16 + nc, sum(H*W)] with sigmoid class scores."""

    def __init__(self, nc, chs, reg_max=16):
        super().__init__()
        c2, c3 = max(16, chs[0] // 4, reg_max * 4), max(chs[0], min(nc, 100))
        self.box = nn.ModuleList(
            nn.Sequential(ConvBnSilu(c, c2, 3), ConvBnSilu(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1)) for c in chs)
        self.cls = nn.ModuleList(
            nn.Sequential(ConvBnSilu(c, c3, 3), ConvBnSilu(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in chs)

    def forward(self, feats):
        outs = []
        for f, b, c in zip(feats, self.box, self.cls):
            y = torch.cat([b(f), c(f).sigmoid()], 1)
            outs.append(y.flatten(2))
        return torch.cat(outs, 2)


class YoloV8nStyle(nn.Module):
    def __init__(self, nc=80):
        super().__init__()
        w = [16, 32, 64, 128, 256]  # YOLOv8n widths
        self.stem = ConvBnSilu(3, w[0], 3, 2)
        self.b1 = nn.Sequential(ConvBnSilu(w[0], w[1], 3, 2), C2f(w[1], w[1], 1))
        self.b2 = nn.Sequential(ConvBnSilu(w[1], w[2], 3, 2), C2f(w[2], w[2], 2))
        self.b3 = nn.Sequential(ConvBnSilu(w[2], w[3], 3, 2), C2f(w[3], w[3], 2))
        self.b4 = nn.Sequential(ConvBnSilu(w[3], w[4], 3, 2), C2f(w[4], w[4], 1), SPPF(w[4], w[4]))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n1 = C2f(w[4] + w[3], w[3], 1, False)
        self.n2 = C2f(w[3] + w[2], w[2], 1, False)
        self.d1 = ConvBnSilu(w[2], w[2], 3, 2)
        self.n3 = C2f(w[2] + w[3], w[3], 1, False)
        self.d2 = ConvBnSilu(w[3], w[3], 3, 2)
        self.n4 = C2f(w[3] + w[4], w[4], 1, False)
        self.head = Detect(nc, (w[2], w[3], w[4]))

    def forward(self, x):
        p3 = self.b2(self.b1(self.stem(x)))
        p4 = self.b3(p3)
        p5 = self.b4(p4)
        t4 = self.n1(torch.cat([self.up(p5), p4], 1))
        o3 = self.n2(torch.cat([self.up(t4), p3], 1))
        o4 = self.n3(torch.cat([self.d1(o3), t4], 1))
        o5 = self.n4(torch.cat([self.d2(o4), p5], 1))
        return self.head([o3, o4, o5])


# --- OSNet x1.0 -----------------------------------------------------------------
class ConvBnRelu(nn.Module):
    def __init__(self, cin, cout, k, s=1, p=0, groups=1, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, p, bias=False, groups=groups)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class LiteConv3x3(nn.Module):
    """Pointwise (linear) then depthwise 3x3, BN, ReLU: the paper's Lite 3x3."""

    def __init__(self, cin, cout):
        super().__init__()
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.dw = nn.Conv2d(cout, cout, 3, 1, 1, bias=False, groups=cout)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn(self.dw(self.pw(x))))


class ChannelGate(nn.Module):
    """Unified aggregation gate, shared by every stream of a block."""

    def __init__(self, c, r=16):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        g = torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))
        return x * torch.sigmoid(self.fc2(g))


class OSBlock(nn.Module):
    def __init__(self, cin, cout, bottleneck=4):
        super().__init__()
        mid = cout // bottleneck
        self.conv1 = ConvBnRelu(cin, mid, 1)
        self.streams = nn.ModuleList(
            nn.Sequential(*[LiteConv3x3(mid, mid) for _ in range(t)]) for t in range(1, 5))
        self.gate = ChannelGate(mid)
        self.conv3 = ConvBnRelu(mid, cout, 1, relu=False)
        self.down = ConvBnRelu(cin, cout, 1, relu=False) if cin != cout else None

    def forward(self, x):
        x1 = self.conv1(x)
        x2 = sum(self.gate(s(x1)) for s in self.streams)
        y = self.conv3(x2)
        return torch.relu(y + (self.down(x) if self.down is not None else x))


class OSNet(nn.Module):
    def __init__(self, ch=(64, 256, 384, 512), feat=512):
        super().__init__()
        self.conv1 = ConvBnRelu(3, ch[0], 7, 2, 3)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.conv2 = nn.Sequential(OSBlock(ch[0], ch[1]), OSBlock(ch[1], ch[1]))
        self.t2 = nn.Sequential(ConvBnRelu(ch[1], ch[1], 1), nn.AvgPool2d(2, 2))
        self.conv3 = nn.Sequential(OSBlock(ch[1], ch[2]), OSBlock(ch[2], ch[2]))
        self.t3 = nn.Sequential(ConvBnRelu(ch[2], ch[2], 1), nn.AvgPool2d(2, 2))
        self.conv4 = nn.Sequential(OSBlock(ch[2], ch[3]), OSBlock(ch[3], ch[3]))
        self.conv5 = ConvBnRelu(ch[3], ch[3], 1)
        self.fc = nn.Sequential(nn.Linear(ch[3], feat), nn.BatchNorm1d(feat), nn.ReLU())

    def forward(self, x):
        x = self.pool(self.conv1(x))
        x = self.t2(self.conv2(x))
        x = self.t3(self.conv3(x))
        x = self.conv5(self.conv4(x))
        return self.fc(x.mean((2, 3)))


# --- ViT ------------------------------------------------------------------------
def vit_small_6l():
    m = torchvision.models.vision_transformer.VisionTransformer(
        image_size=224, patch_size=16, num_layers=6, num_heads=6, hidden_dim=384, mlp_dim=1536)
    # torchvision zero-initialises the classifier: random, or every logit is 0
    # and the bench's max_diff would compare nothing
    nn.init.normal_(m.heads.head.weight, std=0.02)
    nn.init.normal_(m.heads.head.bias, std=0.02)
    return m


# --- export -----------------------------------------------------------------------
def randomize_bn(model, gen):
    """Random BN statistics, so folding BN into Conv is exercised with real numbers."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), (1, 3, 224, 224), "logits"),
    "mobilenet_v3_large": (lambda: torchvision.models.mobilenet_v3_large(weights=None), (1, 3, 224, 224), "logits"),
    "yolov8n_style": (YoloV8nStyle, (1, 3, 640, 640), "output0"),
    "osnet_x1_0": (OSNet, (1, 3, 256, 128), "features"),
    "vit_small_6l": (lambda: vit_small_6l(), (1, 3, 224, 224), "logits"),
}


# torchvision builders exported by --zoo (or by name); every family the bench
# set lacks: fire modules, inception branches, dense blocks, SE, grouped and
# depthwise convs, channel shuffle, windowed attention
ZOO = ["squeezenet1_1", "googlenet", "inception_v3", "densenet121", "resnet50", "resnext50_32x4d",
       "regnet_x_400mf", "regnet_y_400mf", "mobilenet_v2", "mobilenet_v3_small", "mnasnet1_0",
       "shufflenet_v2_x1_0", "efficientnet_b0", "efficientnet_b3", "efficientnet_v2_s", "convnext_tiny",
       "swin_t", "maxvit_t", "alexnet", "vgg11", "vit_b_16"]


def zoo_model(name):
    # googlenet / inception_v3 without weights warn and default to aux heads
    # (training only) and their scipy-based init: plain init, no aux heads
    kw = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}

    def make():
        m = getattr(torchvision.models, name)(weights=None, **kw)
        head = getattr(getattr(m, "heads", None), "head", None)
        if head is not None:  # zero-initialised, as in vit_small_6l
            nn.init.normal_(head.weight, std=0.02)
            nn.init.normal_(head.bias, std=0.02)
        return m
    return make


for _n in ZOO:
    MODELS[_n] = (zoo_model(_n), (1, 3, 299, 299) if _n == "inception_v3" else (1, 3, 224, 224), "logits")


def export(name, out_dir):
    make, shape, out_name = MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    randomize_bn(model, torch.Generator().manual_seed(1))
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
    path = os.path.join(out_dir, name + ".onnx")
    tmp = path + ".tmp"
    # Under no_grad torch's nn.MultiheadAttention takes its fused fast path,
    # which has no ONNX export: transformers export with autograd on (same
    # graph otherwise).
    with torch.no_grad() if not name.startswith(("vit", "swin", "maxvit")) else torch.enable_grad():
        torch.onnx.export(model, x, tmp, opset_version=OPSET, input_names=["input"], output_names=[out_name],
                          do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, path)
    print(f"export_models: {path}")


def main():
    home = os.environ.get("VIGIL_HOME", os.path.join(os.path.expanduser("~"), ".cache", "vigil"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(home, "bench-models"))
    ap.add_argument("--force", action="store_true", help="export again even if the file exists")
    ap.add_argument("--zoo", action="store_true", help="export the torchvision sweep (ZOO) instead")
    ap.add_argument("names", nargs="*", help=f"subset of {', '.join(MODELS)}")
    args = ap.parse_args()
    if args.zoo:
        args.names = args.names or ZOO
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.names or [n for n in MODELS if n not in ZOO]:
        if name not in MODELS:
            sys.exit(f"export_models: unknown model '{name}'")
        if not args.force and os.path.exists(os.path.join(args.out, name + ".onnx")):
            continue
        export(name, args.out)


if __name__ == "__main__":
    main()
