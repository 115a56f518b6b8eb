#!/usr/bin/env python3
"""Writes a random-weight BERT encoder with all-MiniLM-L6-v2's architecture as ONNX, plus its tokenizer files.

No pretrained weights can be downloaded on the build machines, so tests and benchmarks use this model: it costs
exactly as much to run as the real one (6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522), and
`reference` mode runs the same torch module to check the C# pipeline's pooling, padding and batching.

  make_test_model.py export TOKENIZER_DIR OUT_DIR      (seeded: the same files every time)
  make_test_model.py reference OUT_DIR IDS_JSON OUT_BIN  (ids: [[int,...],...] -> float32 mean-pooled, L2-normalised)
"""
import json, math, os, shutil, sys
import torch
from torch import nn

CONFIG = dict(vocab=30522, hidden=384, layers=6, heads=12, intermediate=1536, positions=512, types=2, eps=1e-12)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.heads = c["heads"]
        self.q, self.k, self.v, self.o = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.ln1 = nn.LayerNorm(h, eps=c["eps"])
        self.up, self.down = nn.Linear(h, c["intermediate"]), nn.Linear(c["intermediate"], h)
        self.ln2 = nn.LayerNorm(h, eps=c["eps"])

    def forward(self, x, bias):
        b, s, h = x.shape
        d = h // self.heads
        split = lambda t: t.view(b, s, self.heads, d).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, s, h)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word = nn.Embedding(c["vocab"], c["hidden"])
        self.pos = nn.Embedding(c["positions"], c["hidden"])
        self.token_type = nn.Embedding(c["types"], c["hidden"])
        self.ln = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.ln(self.word(input_ids) + self.pos(positions) + self.token_type(token_type_ids))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x


def build():
    torch.manual_seed(20261122)
    model = Bert(CONFIG)
    for m in model.modules():  # BERT's initialisation: N(0, 0.02), zero biases, unit LayerNorm
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    return model.eval()


def export(tokenizer_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model = build()
    ids = torch.tensor([[101, 7592, 2088, 102]])
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(out_dir, "model.onnx"),
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
                      opset_version=14)
    for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json"]:
        src = os.path.join(tokenizer_dir, f)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out_dir, f))
    with open(os.path.join(out_dir, "GENERATED.txt"), "w") as fh:
        fh.write("Random weights (seed 20261122), all-MiniLM-L6-v2 architecture: for tests and benchmarks only.\n")
    print(f"wrote {out_dir}/model.onnx")


def reference(out_dir, ids_json, out_bin):
    import numpy as np
    model = build()
    seqs = json.load(open(ids_json))
    with torch.no_grad():
        vecs = []
        for s in seqs:  # one at a time, unpadded: the ground truth batching and padding must reproduce
            ids = torch.tensor([s])
            hidden = model(ids, torch.ones_like(ids), torch.zeros_like(ids))[0]
            v = hidden.mean(dim=0)
            vecs.append((v / v.norm()).numpy())
    np.asarray(vecs, dtype=np.float32).tofile(out_bin)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "export":
        export(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "reference":
        reference(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
