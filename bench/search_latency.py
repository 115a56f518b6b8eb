#!/usr/bin/env python3
"""/search latency as a client sees it: BEIR queries one after another over one keep-alive connection.
usage: search_latency.py PORT API_KEY COLLECTION QUERIES_JSONL N PLAN(default|auto|bm25|vector|hybrid|hybrid-k10) [SALT]
SALT (a number) appends that many spaces to each query: same words and vector, a new cache key, so a re-run measures
the search and not the query cache."""
import http.client, json, sys, time

port, key, collection, queries, n, plan = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
salt = " " * (int(sys.argv[7]) if len(sys.argv) > 7 else 0)
texts = [json.loads(line)["text"] for line in open(queries)][:n]
conn = http.client.HTTPConnection("127.0.0.1", port)
client, server = [], []
for text in texts:
    body = {"query": text + salt, "topK": 100}
    if plan != "default":
        body["plan"] = plan
    start = time.perf_counter()
    conn.request("POST", f"/v1/collections/{collection}/search", json.dumps(body), {"X-Api-Key": key, "content-type": "application/json"})
    reply = conn.getresponse()
    data = reply.read()
    client.append((time.perf_counter() - start) * 1000)
    if reply.status != 200:
        sys.exit(f"HTTP {reply.status}: {data[:300]!r}")
    server.append(json.loads(data)["elapsedMs"])
pct = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]
print(json.dumps({"bench": "search_latency", "plan": plan, "queries": len(client),
                  "client_p50_ms": round(pct(client, .5), 2), "client_p95_ms": round(pct(client, .95), 2),
                  "server_p50_ms": round(pct(server, .5), 2), "server_p95_ms": round(pct(server, .95), 2)}))
