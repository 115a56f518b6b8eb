# A client's view of ingest through the API: N synthetic documents (180 words from the tokenizer's vocabulary) in batch
# requests of 500, until every one is indexed; then the cluster's /v1/embedding.
#   python3 bench/gpu/ingest_client.py BASE_URL API_KEY DOCUMENTS COLLECTION VOCAB_TXT
import json, random, sys, time, urllib.error, urllib.request
base, key, n, name, vocab = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def call(method, path, body=None):
    while True:
        req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"X-Api-Key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                t = r.read()
                return json.loads(t) if t else None
        except urllib.error.HTTPError as e:
            if e.code in (429, 503): time.sleep(float(e.headers.get("Retry-After", "1"))); continue
            raise
for _ in range(600):
    try:
        urllib.request.urlopen(base + "/health/ready", timeout=2); break
    except Exception:
        time.sleep(0.5)
call("POST", "/v1/collections", {"name": name})
rnd = random.Random(1)
words = [w.strip() for w in open(vocab) if w.strip().isalpha() and len(w.strip()) > 3][:8000]
docs = [{"id": f"d{i}", "text": " ".join(rnd.choice(words) for _ in range(180))} for i in range(n)]
t0 = time.time()
for k in range(0, n, 500):
    call("POST", f"/v1/collections/{name}/documents", {"documents": docs[k:k + 500]})
acked = time.time() - t0
ids = [d["id"] for d in docs]
while True:
    waiting = 0
    for k in range(0, n, 1000):
        st = call("POST", f"/v1/collections/{name}/documents/statuses", {"ids": ids[k:k + 1000]})
        waiting += sum(1 for s in st["documents"] if s["status"] in ("accepted", "pending"))
    if waiting == 0: break
    time.sleep(0.2)
indexed = time.time() - t0
chunks = sum(s["chunks"] for s in call("GET", f"/v1/collections/{name}/shards"))
emb = call("GET", "/v1/embedding")
print(json.dumps({"collection": name, "documents": n, "chunks": chunks, "acknowledged_s": round(acked, 2), "indexed_s": round(indexed, 2),
                  "documents_per_s": round(n / indexed, 1), "chunks_per_s": round(chunks / indexed, 1),
                  "embedding": emb}), flush=True)
