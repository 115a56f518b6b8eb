# Seconds from launching the API on DATA (loaded by load_own_vectors.py) to /health/ready and to a first correct search:
# the vector of document v123 finds v123 first (issue 46, item 6), and the process's CPU seconds by then. The API's logs go to restart_time_api*.log in the temp folder.
#   python3 bench/restart_time.py PATH/RagCluster.Api.dll DATA_DIR API_KEY [--stop kill|term --ingest N [--no-restart]] [API ARGUMENTS...]
# With --stop (issue 60, item 2): the API is started, N more one-chunk documents are sent at a steady pace, and the
# moment N are acknowledged the process is stopped (kill: SIGKILL, term: SIGTERM) with requests still in flight.
# Then the restart is timed, and every acknowledged document must reach "indexed" (lost: those that do not).
import base64, json, math, os, random, signal, struct, subprocess, sys, tempfile, threading, time, urllib.request, urllib.error
dll, data, key = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
stop = ingest = None
no_restart = False
while args[:1] in (["--stop"], ["--ingest"], ["--no-restart"]):
    if args[0] == "--no-restart": no_restart, args = True, args[1:]; continue # leave DATA as the stop left it (to profile the restart)
    if args[0] == "--stop": stop = args[1]
    else: ingest = int(args[1])
    args = args[2:]
if stop not in (None, "kill", "term") or (stop is None) != (ingest is None): sys.exit("--stop kill|term and --ingest N go together")
base = "http://127.0.0.1:18119"
logs = tempfile.gettempdir()

def vector(rnd):
    v = [rnd.random() - 0.5 for _ in range(384)]; s = math.sqrt(sum(x * x for x in v))
    return [x / s for x in v]

rnd = random.Random(7)
for i in range(124): target = vector(rnd)

def launch(name):
    return subprocess.Popen(["dotnet", dll, "--urls", base, "--Storage:Path", data, "--Auth:BootstrapAdminKey", key, *args],
                            stdout=open(os.path.join(logs, name), "w"), stderr=subprocess.STDOUT)

def call(path, body, timeout=30):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"X-Api-Key": key, "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=timeout).read())

def cpu_seconds(pid):
    # The process's user and system time so far: on 2 cores, a restart can be no shorter than half of it.
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def wait_ready(t0, p):
    while True:
        if p.poll() is not None: sys.exit(f"the API exited with {p.returncode}; see its log in {logs}")
        try: urllib.request.urlopen(base + "/health/ready", timeout=1); return time.time() - t0
        except Exception: time.sleep(0.05)

acknowledged, stopping = [], threading.Event()
def send_steadily():
    # Batches of 100 one after another, as a client streaming documents would; the ids are new on every run.
    rnd, run, i = random.Random(), int(time.time()), 0
    while not stopping.is_set():
        docs = [{"id": f"t{run}-{i + j}", "chunks": [{"text": f"tail {i + j}", "vectorBase64": base64.b64encode(struct.pack("384f", *vector(rnd))).decode()}]} for j in range(100)]
        i += 100
        try:
            reply = call("/v1/collections/w/documents", {"documents": docs}, timeout=60)
            acknowledged.extend(d["documentId"] for d in reply["documents"] if d["status"] != "rejected")
        except urllib.error.HTTPError as e:
            if e.code in (429, 503): time.sleep(float(e.headers.get("Retry-After", "1")))
            else: raise
        except Exception:
            return # the process went away

before = {}
if stop:
    p = launch("restart_time_api_before.log")
    wait_ready(time.time(), p)
    sender = threading.Thread(target=send_steadily, daemon=True); sender.start()
    t_ingest = time.time()
    while len(acknowledged) < ingest:
        if not sender.is_alive(): sys.exit(f"the sender stopped; see {logs}/restart_time_api_before.log")
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGTERM)
    stopping.set()
    p.wait(); sender.join()
    before = {"stop": stop, "acknowledged": len(acknowledged), "ingest_s": round(time.time() - t_ingest, 1)}
    if no_restart: sys.exit(print(json.dumps(before)))

t0 = time.time()
p = launch("restart_time_api.log")
ready = first = settled = cpu = None
missing = []
try:
    ready = wait_ready(t0, p)
    # An ef no earlier run asked with: the query cache keys on it, and a cached answer would need no shard loaded.
    body = {"vectorBase64": base64.b64encode(struct.pack("384f", *target)).decode(), "topK": 1, "ef": 100 + random.Random().randrange(3900)}
    while first is None and time.time() - t0 < 120:
        try:
            hits = call("/v1/collections/w/search", body)["hits"]
            if hits and hits[0]["documentId"] == "v123": first, cpu = time.time() - t0, cpu_seconds(p.pid)
            else: time.sleep(0.05)
        except (urllib.error.URLError, TimeoutError): time.sleep(0.05) # an error answer, or none in 30 s
    # Every acknowledged document reaches "indexed" (the registry resumes what the kill left pending), or is lost.
    missing = list(acknowledged)
    while missing and time.time() - t0 < 600:
        left = []
        for start in range(0, len(missing), 1000):
            page = missing[start:start + 1000]
            statuses = {d["documentId"]: d["status"] for d in call("/v1/collections/w/documents/statuses", {"ids": page})["documents"]}
            left += [d for d in page if statuses.get(d) != "indexed"]
        missing = left
        if missing: time.sleep(0.5)
    if acknowledged and not missing: settled = time.time() - t0
    print(json.dumps({**before, "ready_s": round(ready, 2), "first_correct_search_s": round(first, 2) if first else None,
                      "cpu_s_by_then": cpu,
                      **({"all_acknowledged_indexed_s": round(settled, 1) if settled else None, "lost": len(missing)} if stop else {})}))
finally:
    p.terminate(); p.wait()
