# The restart of issue 73, item 3: the embedded default (built-in model) holding two collections of ann-data's vectors,
# "w" float32 resharded live from 4 to 8 shards and "q" int8 on 4, killed with -9 just after the reshard ends. Each run
# starts the API on a fresh copy of that killed state and times, from the launch, the first correct
# search on "q", then on "w" (row 123's vector finds v123 first), and prints the API's "Start-up:" lines (where the time went).
#   python3 bench/restart_after_reshard.py DATA_DIR WORK_DIR RUNS -- LAUNCH...
# DATA_DIR: ann-data's output (dotnet $B/RagCluster.Bench.Rag.dll ann-data /tmp/ann-100000 100000 384 1000).
# LAUNCH: how the API starts, e.g. `dotnet /tmp/r2r/RagCluster.Api.dll` (published ReadyToRun, as the image does) or
# `dotnet run --project src/Api -c Release --no-build`. WORK_DIR/killed is kept: delete it to load again.
import base64, json, os, shutil, signal, subprocess, sys, threading, time, urllib.request, urllib.error
sep = sys.argv.index("--")
data, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
launch_cmd = sys.argv[sep + 1:]
base, key = "http://127.0.0.1:18121", "rc_restart_bench_key_0123456789abcdef"
n, dim, _ = map(int, open(os.path.join(data, "shape.txt")).read().split())
rows = open(os.path.join(data, "data.f32"), "rb").read()
def row(i): return base64.b64encode(rows[i * dim * 4:(i + 1) * dim * 4]).decode()

def launch(folder, log):
    return subprocess.Popen([*launch_cmd, "--urls", base, "--Storage:Path", folder, "--Auth:BootstrapAdminKey", key],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)

def call(method, path, body=None, timeout=300):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"X-Api-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        t = r.read(); return json.loads(t) if t else None

def ready(deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        try: urllib.request.urlopen(base + "/health/ready", timeout=2); return
        except Exception: time.sleep(0.05)
    sys.exit("the API did not become ready")

def load(collection, quantization):
    call("POST", "/v1/collections", {"name": collection, "dimensions": dim, "quantization": quantization, "shardCount": 4})
    batches = list(range(0, n, 1000))
    def client():
        while batches:
            try: start = batches.pop()
            except IndexError: return
            docs = [{"id": f"v{i}", "chunks": [{"vectorBase64": row(i)}]} for i in range(start, min(n, start + 1000))]
            while True:
                try:
                    reply = call("POST", f"/v1/collections/{collection}/documents", {"documents": docs})
                    if all(d["status"] != "rejected" for d in reply["documents"]): break
                except urllib.error.HTTPError as e:
                    if e.code not in (429, 503): raise
                time.sleep(1)
    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()

killed = os.path.join(work, "killed")
if not os.path.isdir(killed):
    shutil.rmtree(work, ignore_errors=True); os.makedirs(work)
    p = launch(killed, os.path.join(work, "prepare.log"))
    try:
        ready()
        t = time.time(); load("w", "float32"); load("q", "int8")
        print(f"loaded 2 x {n} vectors in {time.time() - t:.0f} s", flush=True)
        call("PUT", "/v1/collections/w", {"shardCount": 8})
        while call("GET", "/v1/collections/w").get("resharding") is not None: time.sleep(0.2)
        print("resharded w from 4 to 8 shards; kill -9", flush=True)
    finally:
        os.killpg(p.pid, signal.SIGKILL); p.wait()

probe = row(123)
for run in range(1, runs + 1):
    folder = os.path.join(work, "run")
    shutil.rmtree(folder, ignore_errors=True); shutil.copytree(killed, folder)
    log = os.path.join(work, f"run{run}.log")
    started = time.time()
    p = launch(folder, log)
    found, answers = {}, {}
    def probe_until_correct(c):
        while time.time() - started < 120:
            try:
                hits = call("POST", f"/v1/collections/{c}/search", {"vectorBase64": probe, "topK": 1, "plan": "vector"}, timeout=30)["hits"]
                if hits and hits[0]["documentId"] == "v123": found[c] = time.time() - started; return
                answers.setdefault(c, f"wrong first hit at {time.time() - started:.2f} s")
            except urllib.error.HTTPError as e: answers.setdefault(c, f"{e.code} at {time.time() - started:.2f} s"); time.sleep(0.01)
            except Exception: time.sleep(0.01) # not listening yet
    try:
        probe_until_correct("q") # the int8 collection first, as a client that uses it would; then the other
        probe_until_correct("w")
        steps = [l.split("Start-up: ", 1)[1].strip() for l in open(log) if "Start-up: " in l]
        print(json.dumps({"run": run, "first_correct_q_int8_s": round(found.get("q", -1), 2), "first_correct_w_float32_s": round(found.get("w", -1), 2),
                          "first_other_answers": answers, "steps": steps}), flush=True)
    finally:
        os.killpg(p.pid, signal.SIGKILL); p.wait()
