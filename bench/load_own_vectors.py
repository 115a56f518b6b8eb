# Loads N one-chunk documents with their own 384-d vectors (random unit vectors, seed 7) into collection "w" of a running
# API, in batches of 500 (issue 46, item 6: the data a warm restart is timed on).
#   python3 bench/load_own_vectors.py BASE_URL API_KEY N
import base64, json, math, random, struct, sys, time, urllib.request, urllib.error
base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    while True:
        req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(), headers={"X-Api-Key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                t = r.read(); return json.loads(t) if t else None
        except urllib.error.HTTPError as e:
            if e.code in (429, 503): time.sleep(float(e.headers.get("Retry-After", "1"))); continue
            raise
for _ in range(600):
    try: urllib.request.urlopen(base + "/health/ready", timeout=2); break
    except Exception: time.sleep(0.5)
call("POST", "/v1/collections", {"name": "w", "dimensions": 384})
rnd = random.Random(7)
t0 = time.time()
for start in range(0, n, 500):
    docs = []
    for i in range(start, min(n, start + 500)):
        v = [rnd.random() - 0.5 for _ in range(384)]; s = math.sqrt(sum(x * x for x in v))
        docs.append({"id": f"v{i}", "chunks": [{"text": f"vector {i}", "vectorBase64": base64.b64encode(struct.pack("384f", *[x / s for x in v])).decode()}]})
    while docs:
        reply = call("POST", "/v1/collections/w/documents", {"documents": docs})
        refused = {d["documentId"] for d in reply["documents"] if d["status"] == "rejected"}
        docs = [d for d in docs if d["id"] in refused]
        if docs: time.sleep(1)
print(json.dumps({"loaded": n, "seconds": round(time.time() - t0, 1)}))
