#!/usr/bin/env bash
# Microsoft's VectorData conformance suite against the connector, over a real API process (the embedded default), from
# a scratch folder outside the repository: the suite's sources are read from SUITE_DIR and never come in here.
#   mkdir -p /tmp/suite && git --git-dir /work/.mirror/dotnet+extensions/repo archive 5862342c9a src/Libraries/Microsoft.Extensions.VectorData.ConformanceTests \
#     | tar x -C /tmp/suite --strip-components=3          # the suite as dotnet/extensions has it (fetch github:dotnet/extensions)
#   dotnet build RagCluster.sln -c Release && bench/conformance/run.sh /tmp/suite [OUT_XML]
# Prints passed/total per class of the suite and the failures' first lines.
set -euo pipefail
suite=$(cd "$1" && pwd) out=${2:-/tmp/rc-conformance.xml}
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/rc-conformance.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp "$repo"/bench/conformance/*.cs "$repo"/bench/conformance/*.csproj "$scratch"/
dotnet build "$scratch" -c Release -p:SuiteDir="$suite" -p:RepoDir="$repo" -v q 2>&1 | grep -E " error |rror\(s\)" || true
RC_API="$repo/src/Api/bin/Release/net10.0/RagCluster.Api.dll" "$scratch"/bin/Release/net10.0/RagCluster.ConformanceTests -xml "$out" > "$scratch/run.log" 2>&1 || true
grep -a "Total:" "$scratch/run.log" | tail -1
python3 - "$out" <<'PY'
import collections, sys, xml.etree.ElementTree as ET
passed, total, failures = collections.Counter(), collections.Counter(), collections.Counter()
for test in ET.parse(sys.argv[1]).iter("test"):
    name = test.get("type").split(".")[-1].removeprefix("RagCluster")
    total[name] += 1
    if test.get("result") == "Pass": passed[name] += 1
    else: failures[(name, (test.findtext("failure/message") or "?").splitlines()[0][:150])] += 1
for name in sorted(total): print(f"{name}: {passed[name]}/{total[name]}")
print(f"all: {sum(passed.values())}/{sum(total.values())}")
for (name, message), n in failures.most_common(): print(f"  {name} x{n}: {message}")
PY
