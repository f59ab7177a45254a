"""Builds a CLIP-style BPE vocabulary and merges from a generated corpus, and the
reference token ids of >= 1,000 varied strings under CLIP's published tokenizer
algorithm, for tests/unit/test_clip_tokenizer.c.

usage: gen_clip_bpe.py OUT_DIR [N_MERGES]
writes OUT_DIR/vocab.json, OUT_DIR/merges.txt, OUT_DIR/cases.tsv
  cases.tsv: base64(UTF-8 text) TAB 77 comma-separated ids

The reference below is written from the algorithm's description (byte-to-unicode
table, the pre-tokenizer pattern, rank-ordered pair merges, SOT/EOT, truncation to 77
with EOT kept last); it deliberately leaves out ftfy (vigil does not repair mojibake)
and, like vigil, reads HTML entities with Python's html.unescape, so the strings only
use the entities vigil documents. Needs Debian's python3-regex for \\p{L} / \\p{N}.
"""
import base64
import html
import json
import os
import random
import sys

import regex

PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)


def byte_table():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTES = byte_table()


def clean(text):
    text = html.unescape(html.unescape(text)).strip()
    text = regex.sub(r"\s+", " ", text).strip()
    return text.lower()


def symbols(piece):
    s = [BYTES[b] for b in piece.encode("utf-8")]
    s[-1] += "</w>"
    return s


def bpe(piece, ranks):
    word = symbols(piece)
    while len(word) > 1:
        pairs = [(ranks.get((word[i], word[i + 1]), None), i) for i in range(len(word) - 1)]
        pairs = [p for p in pairs if p[0] is not None]
        if not pairs:
            break
        _, i = min(pairs)
        first, second = word[i], word[i + 1]
        out, k = [], 0
        while k < len(word):
            if k + 1 < len(word) and word[k] == first and word[k + 1] == second:
                out.append(first + second)
                k += 2
            else:
                out.append(word[k])
                k += 1
        word = out
    return word


def encode(text, vocab, ranks, ctx=77):
    ids = [vocab["<|startoftext|>"]]
    for piece in PATTERN.findall(clean(text)):
        if piece == "<|startoftext|>" or piece == "<|endoftext|>":
            ids.append(vocab[piece])
            continue
        ids.extend(vocab[s] for s in bpe(piece, ranks) if s in vocab)
    ids.append(vocab["<|endoftext|>"])
    if len(ids) > ctx:
        ids = ids[:ctx]
        ids[-1] = vocab["<|endoftext|>"]
    return ids + [0] * (ctx - len(ids))


WORDS = ("a person in a red jacket walks past the parked car at night while a dog barks near the gate green blue "
         "delivery van stops driveway package porch camera front door back yard garage window fence "
         "suspicious loitering hoodie mask running walking standing bicycle motorcycle truck bus cat bird "
         "the quick brown fox jumps over lazy dogs security alert event summary reasoning risk score").split()
UNICODE = ["café", "naïve", "straße", "ÜBER", "Ελληνικά", "ΟΔΟΣ", "σοφία", "Москва", "привет", "日本語", "安全摄像头",
           "한국어", "עברית", "العربية", "हिन्दी", "emoji😀", "🚗🚓", "👩‍👩‍👧", "İstanbul", "ǅemal", "ﬁne", "Ⅻ", "½", "²³",
           "٣٤", "ｆｕｌｌ", "e\u0301", "\u00a0nbsp", "tab\tsep", "line\nbreak", "ideo\u3000space"]
PUNCT = ["!", "?", "...", "--", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "\"", "(", ")", "#", "$", "%", "&", "*",
         "+", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "_", "`", "{", "|", "}", "~", "!!!", "?!", ",", "."]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&nbsp;", "&#39;", "&#233;", "&#x1F600;", "&amp;amp;",
            "&amp;lt;", "&amp", "&lt", "& ", "&unknown;", "&#;"]


def corpus(rng, n):
    out = []
    for _ in range(n):
        k = rng.randint(3, 14)
        ws = [rng.choice(WORDS) for _ in range(k)]
        if rng.random() < 0.3:
            ws.insert(rng.randint(0, k), rng.choice(UNICODE))
        if rng.random() < 0.3:
            ws.insert(rng.randint(0, k), str(rng.randint(0, 99999)))
        if rng.random() < 0.5:  # made-up words, so merges go on past the word list
            ws.append("".join(rng.choice("etaoinshrdlucmfwypvbgkjqxzéüαб") for _ in range(rng.randint(2, 9))))
        if rng.random() < 0.2:
            ws.append(rng.choice(PUNCT) + rng.choice(PUNCT))
        out.append(" ".join(ws))
    return out


def train(texts, n_merges, pattern=None, prep=None, suffix="</w>"):
    """Learns merges (most frequent adjacent pair first) from texts split by `pattern`
    after `prep` (CLIP's by default; GPT-2's tokenizers pass their own and no suffix)."""
    pattern = pattern or PATTERN
    prep = prep or clean
    counts = {}
    for t in texts:
        for piece in pattern.findall(prep(t)):
            w = [BYTES[b] for b in piece.encode("utf-8")]
            w[-1] += suffix
            w = tuple(w)
            counts[w] = counts.get(w, 0) + 1
    merges = []
    for _ in range(n_merges):
        pc = {}
        for w, c in counts.items():
            for i in range(len(w) - 1):
                pc[(w[i], w[i + 1])] = pc.get((w[i], w[i + 1]), 0) + c
        if not pc:
            break
        best = max(pc.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        new = {}
        for w, c in counts.items():
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and (w[k], w[k + 1]) == best:
                    out.append(w[k] + w[k + 1])
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        counts = new
    return merges


def cases(rng):
    out = ["", "   ", "\t\n", "a", "A", "hello world", "<|startoftext|>", "<|endoftext|>", "it's", "IT'S", "don't",
           "we're here", "I've", "I'm", "you'll", "he'd", "1234567890", "3.14159", "x" * 300, "word " * 100,
           ("a person in a red jacket " * 400)[:10000], "😀" * 50, "&amp;&lt;&gt;", "&amp;lt;b&amp;gt;"]
    pools = [WORDS, UNICODE, PUNCT, ENTITIES, [str(i) for i in range(100)]]
    weights = [6, 2, 2, 1, 1]
    while len(out) < 1200:
        k = rng.randint(1, 25)
        parts = []
        for _ in range(k):
            pool = rng.choices(pools, weights)[0]
            w = rng.choice(pool)
            if rng.random() < 0.15:
                w = w.upper()
            elif rng.random() < 0.15:
                w = w.capitalize()
            parts.append(w)
        seps = [" ", " ", " ", "", "  ", "\t", "\n", "\u00a0", "\u3000"]
        s = "".join(p + rng.choice(seps) for p in parts)
        if rng.random() < 0.1:
            s = "  " + s + "  "
        out.append(s)
    return out


def main():
    outdir = sys.argv[1]
    n_merges = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20261203)
    merges = train(corpus(rng, 3000), n_merges)
    base = [BYTES[b] for b in range(256)]
    tokens = base + [b + "</w>" for b in base] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    ranks = {m: i for i, m in enumerate(merges)}
    with open(os.path.join(outdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(outdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(a + " " + b + "\n")
    with open(os.path.join(outdir, "cases.tsv"), "w") as f:
        for s in cases(rng):
            ids = encode(s, vocab, ranks)
            f.write(base64.b64encode(s.encode("utf-8")).decode() + "\t" + ",".join(map(str, ids)) + "\n")


if __name__ == "__main__":
    main()
