# A model travels to a lent GPU machine in pieces of at most 64 MiB a call, so its float weights go as fp16 (the GPU
# variants round them so anyway): 90 MB of arctic-xs becomes 45. Needs onnx and numpy (here Debian's, in /usr/bin/python3).
#   python3 bench/gpu/model_pack.py pack MODEL.onnx DIR      (DIR/graph.onnx without those weights, DIR/weights.npz)
#   python3 bench/gpu/model_pack.py unpack DIR MODEL.onnx    (the fp32 model again, its weights rounded to fp16 once)
import sys
import numpy as np
import onnx
from onnx import numpy_helper

mode, source, target = sys.argv[1:4]
if mode == "pack":
    model, weights, kept = onnx.load(source), {}, []
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype == np.float32 and a.size > 1024: weights[t.name] = a.astype(np.float16)
        else: kept.append(t)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.save(model, f"{target}/graph.onnx")
    np.savez(f"{target}/weights.npz", **weights)
    print(f"packed {len(weights)} weights as fp16, kept {len(kept)} as they were")
else:
    model, weights = onnx.load(f"{source}/graph.onnx"), np.load(f"{source}/weights.npz")
    model.graph.initializer.extend(numpy_helper.from_array(weights[k].astype(np.float32), k) for k in weights.files)
    onnx.save(model, target)
    print(f"unpacked {len(weights.files)} weights into {target}")
