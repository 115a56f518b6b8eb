# On the GPU machine: the same module as the ONNX model (scripts/make_test_model.py's Bert, same seed) in PyTorch, fp32 and fp16,
# doing what the ONNX encoder does per call: ids from the host in, mean-pooled L2-normalised vectors back to the host.
#   python3 bench/gpu/torch_baseline.py SECONDS BATCHES      (run from the repository root)
import json, runpy, sys, time, torch
ns = runpy.run_path("scripts/make_test_model.py")
seconds = float(sys.argv[1]); batches = [int(b) for b in sys.argv[2].split(",")]
model = ns["build"]().cuda()
for dtype in (torch.float32, torch.float16):
    m = model.to(dtype)
    for b in batches:
        ids = torch.randint(1000, 30000, (b, 128))
        def step():
            i = ids.cuda(non_blocking=True)
            mask = torch.ones_like(i)
            h = m(i, mask, torch.zeros_like(i)).float().mean(dim=1)
            return torch.nn.functional.normalize(h, dim=-1).cpu()
        with torch.inference_mode():
            for _ in range(5): step()
            torch.cuda.synchronize()
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds:
                step(); n += b
            el = time.perf_counter() - t
        print(json.dumps({"lib": f"torch {torch.__version__}", "dtype": str(dtype).removeprefix("torch."), "batch": b, "tokens": 128, "sentences_per_s": n / el}), flush=True)
