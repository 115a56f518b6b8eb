#!/usr/bin/env python3
"""The same searches through the MCP endpoint and through the HTTP API, alternating query by query over two keep-alive
connections, as a client sees them: what MCP's JSON-RPC envelope, tool dispatch and double encoding (structuredContent
and the same JSON as text) add to a search. Each query is sent once each way, with a different salt each way, so
neither is answered from the other's cache entry.
usage: mcp_latency.py PORT API_KEY COLLECTION QUERIES_JSONL N TOPK [SALT]"""
import http.client, json, sys, time

port, key, collection, queries, n, top_k = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
salt = int(sys.argv[7]) if len(sys.argv) > 7 else 0
texts = [json.loads(line)["text"] for line in open(queries)][:n]
headers = {"X-Api-Key": key, "content-type": "application/json"}
http_conn, mcp_conn = http.client.HTTPConnection("127.0.0.1", port), http.client.HTTPConnection("127.0.0.1", port)
took = {"http": [], "mcp": []}
sizes = {"http": 0, "mcp": 0}

def timed(way, conn, path, body, hits_of):
    start = time.perf_counter()
    conn.request("POST", path, json.dumps(body), headers if way == "http" else {**headers, "accept": "application/json, text/event-stream"})
    reply = conn.getresponse()
    data = reply.read()
    took[way].append((time.perf_counter() - start) * 1000)
    sizes[way] += len(data)
    if reply.status != 200:
        sys.exit(f"{way}: HTTP {reply.status}: {data[:300]!r}")
    if hits_of(data) == 0:
        sys.exit(f"{way}: no hits: {data[:300]!r}")

def mcp_hits(data):
    line = next(l for l in data.decode().splitlines() if l.startswith("data: "))
    result = json.loads(line[6:])["result"]
    if result.get("isError"):
        sys.exit(f"mcp: tool error {result['content']}")
    return len(result["structuredContent"]["hits"])

for i, text in enumerate(texts):
    timed("http", http_conn, f"/v1/collections/{collection}/search", {"query": text + " " * salt, "topK": top_k},
          lambda d: len(json.loads(d)["hits"]))
    timed("mcp", mcp_conn, "/mcp", {"jsonrpc": "2.0", "id": i, "method": "tools/call",
          "params": {"name": "search", "arguments": {"collection": collection, "query": text + " " * (salt + 1), "topK": top_k}}}, mcp_hits)
pct = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]
print(json.dumps({"bench": "mcp_latency", "queries": len(texts), "topK": top_k,
                  **{f"{way}_p50_ms": round(pct(took[way], .5), 2) for way in took}, **{f"{way}_p95_ms": round(pct(took[way], .95), 2) for way in took},
                  **{f"{way}_bytes_per_reply": sizes[way] // len(texts) for way in sizes}}))
