#!/usr/bin/env python3
"""Turns a BERT-family model folder (model.onnx and vocab.txt, a built-in model's folder say) into variants for a GPU,
with ONNX Runtime's own tools: float16 weights (inputs and outputs kept float32, so the silo runs the file as it is),
the transformer optimiser's fused graph (Attention, SkipLayerNormalization, BiasGelu), and both together. Each variant
goes to OUT/<variant>/ with the vocabulary and the sentence-transformers files that tell a silo the pooling, window and
query prompt, ready for Embedding:ModelDirectory. Needs python3 with onnx and onnxruntime (any build: it only rewrites).
usage: optimize_model_for_gpu.py SRC_DIR OUT_DIR POOLING(cls|mean) MAX_TOKENS [QUERY_PREFIX]
e.g.:  optimize_model_for_gpu.py src/Api/bin/Release/net10.0/models/arctic-xs /models cls 512 \
         "Represent this sentence for searching relevant passages: "   # then Embedding:ModelDirectory=/models/fused-fp16"""
import json, os, shutil, sys
import onnx
from onnxruntime.transformers.float16 import convert_float_to_float16
from onnxruntime.transformers.optimizer import optimize_model

src, out, pooling, max_tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
query_prefix = sys.argv[5] if len(sys.argv) > 5 else ""
config = json.load(open(os.path.join(src, "config.json"))) if os.path.exists(os.path.join(src, "config.json")) else {}
heads, hidden = config.get("num_attention_heads", 12), config.get("hidden_size", 384)

def folder(variant, model):
    d = os.path.join(out, variant)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    shutil.copyfile(os.path.join(src, "vocab.txt"), os.path.join(d, "vocab.txt"))
    json.dump({"pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean"}, open(os.path.join(d, "1_Pooling", "config.json"), "w"))
    json.dump({"max_seq_length": max_tokens}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    json.dump({"prompts": {"query": query_prefix, "document": ""}}, open(os.path.join(d, "config_sentence_transformers.json"), "w"))
    print(variant, os.path.getsize(os.path.join(d, "model.onnx")), "bytes", flush=True)

folder("fp32", onnx.load(os.path.join(src, "model.onnx")))
folder("fp16", convert_float_to_float16(onnx.load(os.path.join(src, "model.onnx")), keep_io_types=True))
fused = optimize_model(os.path.join(src, "model.onnx"), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
print("fused operators:", {k: v for k, v in fused.get_fused_operator_statistics().items() if v}, flush=True)
folder("fused", fused.model)
fused.convert_float_to_float16(keep_io_types=True)
folder("fused-fp16", fused.model)
