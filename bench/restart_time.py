# Seconds from launching the API on DATA (loaded by load_own_vectors.py) to /health/ready and to a first correct search:
# the vector of document v123 finds v123 first (issue 46, item 6). The API's log goes to restart_time_api.log in the temp folder.
#   python3 bench/restart_time.py PATH/RagCluster.Api.dll DATA_DIR API_KEY [API ARGUMENTS...]
import base64, json, math, os, random, struct, subprocess, sys, tempfile, time, urllib.request, urllib.error
dll, data, key = sys.argv[1], sys.argv[2], sys.argv[3]
extra = sys.argv[4:]
rnd = random.Random(7)
target = None
for i in range(124):
    v = [rnd.random() - 0.5 for _ in range(384)]; s = math.sqrt(sum(x * x for x in v))
    if i == 123: target = [x / s for x in v]
t0 = time.time()
p = subprocess.Popen(["dotnet", dll, "--urls", "http://127.0.0.1:18119", "--Storage:Path", data, "--Auth:BootstrapAdminKey", key, *extra], stdout=open(os.path.join(tempfile.gettempdir(), "restart_time_api.log"), "w"), stderr=subprocess.STDOUT)
ready = first = None
try:
    while ready is None:
        try: urllib.request.urlopen("http://127.0.0.1:18119/health/ready", timeout=1); ready = time.time() - t0
        except Exception: time.sleep(0.05)
    body = json.dumps({"vectorBase64": base64.b64encode(struct.pack("384f", *target)).decode(), "topK": 1}).encode()
    while first is None and time.time() - t0 < 120:
        try:
            req = urllib.request.Request("http://127.0.0.1:18119/v1/collections/w/search", data=body, headers={"X-Api-Key": key, "Content-Type": "application/json"})
            hits = json.loads(urllib.request.urlopen(req, timeout=30).read())["hits"]
            if hits and hits[0]["documentId"] == "v123": first = time.time() - t0
            else: time.sleep(0.05)
        except urllib.error.HTTPError: time.sleep(0.05)
    print(json.dumps({"ready_s": round(ready, 2), "first_correct_search_s": round(first, 2) if first else None}))
finally:
    p.terminate(); p.wait()
