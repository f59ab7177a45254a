"""The prompt lists vigil compiles in, read from the C sources so the test-model
generator and the export scripts can never drift from them.

clothing_prompts(root) -> [prompt, ...]      (src/models/hub_siglip.c, CLOTHING_PROMPTS)
action_prompts(root)   -> [(name, prompt)]   (src/models/hub_xclip.c, ACTION_PROMPTS)
"""
import os
import re


def _block(root, rel, macro):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"#define %s\(X\)(.*?)\n\n" % macro, text, re.S)
    if not m:
        raise SystemExit("%s: no #define %s(X) block" % (rel, macro))
    return m.group(1)


def clothing_prompts(root):
    body = _block(root, "src/models/hub_siglip.c", "CLOTHING_PROMPTS")
    return re.findall(r'X\(\s*"([^"]+)"', body)


def action_prompts(root):
    body = _block(root, "src/models/hub_xclip.c", "ACTION_PROMPTS")
    return re.findall(r'X\(\s*"([^"]+)"\s*,\s*"([^"]+)"', body)
