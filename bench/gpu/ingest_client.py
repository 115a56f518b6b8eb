# A client's view of ingest through the API: N synthetic documents (180 words from the tokenizer's vocabulary), or a
# BEIR corpus.jsonl's documents (title and text, as JSON), in batch requests of 500, until every one is indexed; then
# the cluster's /v1/embedding. Documents refused with a retryAfter are sent again after it. CLIENTS=N in the environment keeps N requests in flight (1 by default);
# SHARDS=N creates the collection with N shards (the cluster's default otherwise); REPEAT=N sends a corpus N times under
# new ids (id-rK), for a load long enough to show a steady rate rather than a pipeline filling and draining.
#   python3 bench/gpu/ingest_client.py BASE_URL API_KEY DOCUMENTS|CORPUS_JSONL COLLECTION VOCAB_TXT
import concurrent.futures, json, os, random, sys, time, urllib.error, urllib.request
base, key, source, name, vocab = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
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
call("POST", "/v1/collections", {"name": name, **({"shardCount": int(os.environ["SHARDS"])} if os.environ.get("SHARDS") else {})})
if source.endswith(".jsonl"):
    rows = [json.loads(line) for line in open(source)]
    docs = [{"id": r["_id"] + (f"-r{k}" if k else ""), "format": "json", "text": json.dumps({"title": r["title"], "text": r["text"]})}
            for k in range(int(os.environ.get("REPEAT", "1"))) for r in rows]
else:
    rnd = random.Random(1)
    words = [w.strip() for w in open(vocab) if w.strip().isalpha() and len(w.strip()) > 3][:8000]
    docs = [{"id": f"d{i}", "text": " ".join(rnd.choice(words) for _ in range(180))} for i in range(int(source))]
n = len(docs)
def send(batch):
    # A batch is answered document by document: a refused one with retryAfter is sent again after that wait.
    while batch:
        reply = call("POST", f"/v1/collections/{name}/documents", {"documents": batch})
        refused = {d["documentId"]: d["error"] for d in reply["documents"] if d["status"] == "rejected"}
        if any("retryAfter" not in e for e in refused.values()):
            sys.exit(f"refused for good: {next(e for e in refused.values() if 'retryAfter' not in e)}")
        batch = [d for d in batch if d["id"] in refused]
        if batch: time.sleep(max(e["retryAfter"] for e in refused.values()))
clients = int(os.environ.get("CLIENTS", "1"))  # requests in flight at once
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    list(pool.map(lambda k: send(docs[k:k + 500]), range(0, n, 500)))
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
print(json.dumps({"collection": name, "clients": clients, "documents": n, "chunks": chunks, "acknowledged_s": round(acked, 2), "indexed_s": round(indexed, 2),
                  "documents_per_s": round(n / indexed, 1), "chunks_per_s": round(chunks / indexed, 1),
                  "embedding": emb}), flush=True)
