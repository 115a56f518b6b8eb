#!/usr/bin/env python3
"""POST /v1/embeddings as an OpenAI-style client: a BEIR corpus's texts (title and abstract, cut to WORDS words so each
fits the model's window) in requests of BATCH inputs, CLIENTS requests at a time, until TEXTS are embedded. Prints
texts/s and the tokens the API counted (usage.prompt_tokens). For issue 47 item 2, beside the ingest path's rate.
usage: embeddings_client.py PORT API_KEY CORPUS_JSONL TEXTS BATCH CLIENTS [WORDS=150]"""
import http.client, json, sys, threading, time

port, key, corpus, total, batch, clients = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
words = int(sys.argv[7]) if len(sys.argv) > 7 else 150
texts = []
for line in open(corpus):
    d = json.loads(line)
    texts.append(" ".join((d.get("title", "") + ". " + d["text"]).split()[:words]))
    if len(texts) == total: break
batches = [texts[i:i + batch] for i in range(0, len(texts), batch)]
lock, tokens, done, errors = threading.Lock(), [0], [0], []

def client():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        with lock:
            if not batches: return
            b = batches.pop()
        conn.request("POST", "/v1/embeddings", json.dumps({"input": b}), {"Authorization": "Bearer " + key, "content-type": "application/json"})
        r = conn.getresponse(); body = r.read()
        with lock:
            if r.status != 200: errors.append(r.status); continue
            reply = json.loads(body); tokens[0] += reply["usage"]["prompt_tokens"]; done[0] += len(reply["data"])

start = time.monotonic()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
seconds = time.monotonic() - start
print(json.dumps({"bench": "embeddings_api", "texts": done[0], "batch": batch, "clients": clients, "seconds": round(seconds, 2),
                  "texts_per_s": round(done[0] / seconds, 1), "mean_tokens": round(tokens[0] / max(1, done[0]), 1), "errors": errors}))
