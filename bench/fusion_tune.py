#!/usr/bin/env python3
"""Hybrid fusion rules side by side, offline, on one BEIR set (issue 73, item 5).
usage: fusion_tune.py PORT API_KEY COLLECTION BEIR_DIR [CACHE_JSON]
Asks the API once per query for the vector plan's and the BM25 plan's top 100 chunks with their scores (cached in
CACHE_JSON when given), then fuses them here by each rule and prints nDCG@10 per rule. The lexical side's coverage,
c = top BM25 score / the score of a chunk holding each query term once at average length (the sum of the terms' idf),
is computed from the corpus with the same analysis as the server's (TextAnalyzer: folded, stop words, S-stemmer), over
whole documents rather than each shard's chunks: a simulation to choose a rule, which the real eval then measures."""
import http.client, json, math, os, re, sys, unicodedata
from collections import Counter

port, key, collection, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cache = sys.argv[5] if len(sys.argv) > 5 else None
STOP = set("a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was "
           "will with what which who how does do did has have had were been from its than can i you we he she his her our your my".split())

def stem(w):
    if len(w) <= 3 or not w[-1].isalpha(): return w
    if w.endswith("ies") and not w.endswith(("eies", "aies")): return w[:-3] + "y"
    if w.endswith("es") and not w.endswith(("aes", "ees", "oes")): return w[:-1]
    if w.endswith("s") and not w.endswith(("us", "ss")): return w[:-1]
    return w

def terms(text):
    folded = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()
    return [stem(w) for w in re.findall(r"[^\W_]+", folded) if len(w) <= 64 and w not in STOP]

corpus = [json.loads(l) for l in open(os.path.join(folder, "corpus.jsonl"))]
df = Counter()
for d in corpus: df.update(set(terms((d.get("title") or "") + " " + d["text"])))
n = len(corpus)
idf = lambda t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))
qrels_file = [f for f in os.listdir(os.path.join(folder, "qrels")) if f.endswith(".tsv")][0]
qrels = {}
for line in list(open(os.path.join(folder, "qrels", qrels_file)))[1:]:
    q, d, g = line.rstrip("\n").split("\t")[:3]
    if int(g) > 0: qrels.setdefault(q, {})[re.sub(r"[^A-Za-z0-9._-]", "_", d)] = int(g)
queries = [(q["_id"], q["text"]) for q in map(json.loads, open(os.path.join(folder, "queries.jsonl"))) if q["_id"] in qrels]

def fetch():
    conn = http.client.HTTPConnection("127.0.0.1", port)
    out = {}
    for qid, text in queries:
        out[qid] = {}
        for plan in ("vector", "bm25"):
            conn.request("POST", f"/v1/collections/{collection}/search", json.dumps({"query": text[:2000], "topK": 100, "plan": plan}),
                         {"X-Api-Key": key, "content-type": "application/json"})
            r = conn.getresponse(); body = r.read()
            if r.status != 200: sys.exit(f"HTTP {r.status}: {body[:300]!r}")
            reply = json.loads(body)
            out[qid][plan] = [(h["documentId"] + "#" + str(h["chunkId"]), h["score"]) for h in reply["hits"]]
    return out

if cache and os.path.exists(cache): lists = json.load(open(cache))
else:
    lists = fetch()
    if cache: json.dump(lists, open(cache, "w"))

def ndcg(ranked, rel, k=10):
    dcg = sum((2 ** rel[d] - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in rel)
    ideal = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0

def scaled(hits):
    if not hits: return {}
    lo, hi = min(s for _, s in hits), max(s for _, s in hits)
    return {h: (s - lo) / (hi - lo) if hi > lo else 1.0 for h, s in hits}

def coverage(text, bm25):
    ceiling = sum(idf(t) for t in set(terms(text)))
    return min(1.0, bm25[0][1] / ceiling) if bm25 and ceiling > 0 else 0.0

def fused(dense, bm25, a, wl=1.0):
    sd, sl = scaled(dense), scaled(bm25)
    score = {h: a * sd.get(h, 0) + (1 - a) * wl * sl.get(h, 0) for h in set(sd) | set(sl)}
    docs, seen = [], set()
    for h in sorted(score, key=lambda h: -score[h]):
        d = h.split("#")[0]
        if d not in seen: seen.add(d); docs.append(d)
    return docs

rules = {f"fixed {a}": (lambda a: lambda c: a)(a) for a in (0.3, 0.5, 0.7, 0.9)}
# Ramps: alpha HI at coverage C0 or less, 0.5 from C1, linear between; the server's default is 0.95 over 0.25-0.35.
for hi in (0.8, 0.9, 0.95, 1.0):
    for c0, c1 in [(0.15, 0.3), (0.2, 0.3), (0.25, 0.35), (0.25, 0.45), (0.3, 0.4), (0.35, 0.65)]:
        rules[f"ramp {hi}-0.5 over c {c0}-{c1}"] = (lambda hi, c0, c1: lambda c: hi - (hi - 0.5) * min(1, max(0, (c - c0) / (c1 - c0))))(hi, c0, c1)

cs = {qid: coverage(text, lists[qid]["bm25"]) for qid, text in queries}
srt = sorted(cs.values())
print(f"{len(queries)} queries; coverage c quartiles {srt[len(srt)//4]:.2f} {srt[len(srt)//2]:.2f} {srt[3*len(srt)//4]:.2f}, min {srt[0]:.2f} max {srt[-1]:.2f}")
for name, rule in rules.items():
    total = sum(ndcg(fused(lists[q]["vector"], lists[q]["bm25"], rule(cs[q])), qrels[q]) for q, _ in queries)
    print(f"{name:34s} nDCG@10 {total / len(queries):.4f}")
