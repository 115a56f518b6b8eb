# Where a bulk load's time went, from two scrapes of one API's /metrics (before and after the load): seconds the SQLite
# writer was held by site, seconds in each step of the bulk text path (rc_ingest_batch_step_duration_seconds, summed
# over batches, so overlapping batches add up past the wall time), grain calls of the ingest path and HTTP routes.
#   python3 bench/gpu/metrics_diff.py BEFORE AFTER   (prints one JSON object)
import json, re, sys

GRAIN_METHODS = ("BeginBulk", "EndBulk", "UpsertMany", "BulkRecords")

def read(path):
    try: text = open(path).read()
    except OSError: return {}
    found = {}
    for m in re.finditer(r'^(\w+)\{(.*)\} (\S+)$', text, re.M):
        name, labels, value = m[1], dict(re.findall(r'(\w+)="([^"]*)"', m[2])), float(m[3])
        if name == "rc_store_sqlite_write_held_seconds_total": key = ("writer_held_s", labels.get("site", "?"))
        elif name == "rc_ingest_batch_step_duration_seconds_sum": key = ("steps_s", labels.get("step", "?"))
        elif name == "rc_grain_call_duration_seconds_sum" and labels.get("method") in GRAIN_METHODS: key = ("grain_calls_s", labels["method"])
        elif name == "http_server_request_duration_seconds_sum" and labels.get("http_route", "").startswith("/v1/collections/{collection}/documents"):
            key = ("http_s", labels["http_request_method"] + " " + labels["http_route"])
        else: continue
        found[key] = found.get(key, 0.0) + value
    return found

before, after = read(sys.argv[1]), read(sys.argv[2])
out = {}
for (group, name), value in sorted(after.items()):
    delta = value - before.get((group, name), 0.0)
    if delta > 0.0005: out.setdefault(group, {})[name] = round(delta, 3)
out["writer_held_total_s"] = round(sum(out.get("writer_held_s", {}).values()), 3)
print(json.dumps(out))
