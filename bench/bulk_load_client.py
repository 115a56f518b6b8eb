#!/usr/bin/env python3
"""A bulk load as a client makes it: a BEIR corpus POSTed in batches to a collection, paced by the API's 429/503
Retry-After, until the corpus ends or SECONDS pass. For measuring search latency during a load (bench/search_latency.py).
usage: bulk_load_client.py PORT API_KEY COLLECTION CORPUS_JSONL BATCH SECONDS"""
import http.client, json, sys, time

port, key, collection, corpus, batch, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"X-Api-Key": key, "content-type": "application/json"}
conn.request("POST", "/v1/collections", json.dumps({"name": collection}), headers)
conn.getresponse().read()
docs = [json.loads(line) for line in open(corpus)]
deadline, sent, i = time.monotonic() + seconds, 0, 0
while i < len(docs) and time.monotonic() < deadline:
    body = {"documents": [{"id": d["_id"], "format": "json", "text": json.dumps({"title": d["title"], "text": d["text"]})} for d in docs[i:i + batch]]}
    conn.request("POST", f"/v1/collections/{collection}/documents", json.dumps(body), headers)
    reply = conn.getresponse()
    reply.read()
    if reply.status in (429, 503):
        time.sleep(float(reply.getheader("Retry-After", "1")))
        continue
    if reply.status >= 300:
        sys.exit(f"HTTP {reply.status}")
    sent += len(body["documents"])
    i += batch
print(json.dumps({"bench": "bulk_load_client", "documents_sent": sent}))
