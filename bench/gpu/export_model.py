# On the GPU machine: the random-weight test model (scripts/make_test_model.py, same seed) as ONNX fp32, an fp16 copy,
# and ONNX Runtime's transformer-optimised (fused) graph in fp32 and fp16.
#   python3 bench/gpu/export_model.py TOKENIZER_DIR OUT_DIR
import runpy, sys, torch
tokenizer_dir, out = sys.argv[1], sys.argv[2]
orig = torch.onnx.export
def legacy(*a, **k):
    k.setdefault("dynamo", False)  # the TorchScript exporter the script was written for
    return orig(*a, **k)
torch.onnx.export = legacy
sys.argv = ["make_test_model.py", "export", tokenizer_dir, out]
runpy.run_path("scripts/make_test_model.py", run_name="__main__")
import onnx
from onnxruntime.transformers.float16 import convert_float_to_float16
onnx.save(convert_float_to_float16(onnx.load(f"{out}/model.onnx"), keep_io_types=True), f"{out}/model_fp16.onnx")
from onnxruntime.transformers.optimizer import optimize_model
fused = optimize_model(f"{out}/model.onnx", model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
print("fused ops:", {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
fused.save_model_to_file(f"{out}/model_opt.onnx")
fused.convert_float_to_float16(keep_io_types=True)
fused.save_model_to_file(f"{out}/model_opt_fp16.onnx")
