using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Faults;

/// <summary>How big a run is: CI runs <see cref="Reduced"/>; bench/run_fault_suite.sh runs <see cref="Full"/> (the issue's sizes).</summary>
/// <param name="AfterKill">How long searches go on after each silo's kill in phase 3 (the window its slowest search is taken over).</param>
public sealed record FaultSuiteSize(string Name, int BulkDocuments, int PhaseDocuments, int BatchSize, int Concurrency, TimeSpan SearchLoad, TimeSpan Quiet,
    TimeSpan AfterKill)
{
    public static FaultSuiteSize Reduced { get; } = new("reduced", 300, 150, 10, 4, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(8));
    public static FaultSuiteSize Full { get; } = new("full", 2000, 1000, 100, 4, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30));
}

/// <summary>One phase's figures, and what in them breaks the promise "acknowledged means durable".</summary>
public sealed record PhaseResult(string Phase, double Seconds, int Sent, int Acknowledged, int Indexed, int Lost, int Stuck, int Resent,
    int Refused, int ShardChunks, int IndexedChunks, int Searches, int FailedSearches, IReadOnlyDictionary<int, int> Statuses,
    int ConnectionErrors, double RecoverySeconds, string Note, bool ApiKilled = false, int Unsettled = 0, bool NothingPendingAtFault = false,
    string? Unspread = null, string? Unreplicated = null, string? Unregistered = null)
{
    public const double RecoveryLimitSeconds = 10;
    /// <summary>Searches after a kill, slowest first (ms), as the client saw them; null where the phase measures none.</summary>
    public double[]? SearchesTook { get; init; }
    /// <summary>The same searches as the API silo timed them (Server-Timing): what waited in the cluster, not on this machine's other processes.</summary>
    public double[]? ServerTook { get; init; }
    /// <summary>The slowest search allowed after a kill (ms, in the cluster): set where every shard has a copy on another silo (issue 60).</summary>
    public double? SlowestAllowedMs { get; init; }
    /// <summary>
    /// Set where a kill leaves shards with no copy elsewhere (one copy a shard): the searches' clients. Until the cluster
    /// declares the silo dead (its probes: seconds, within <see cref="RecoveryLimitSeconds"/>) a search of those shards
    /// is answered 503, so each client is refused about once per Retry-After in that window whatever the phase's search
    /// rate; counted as a share of the phase's searches instead, the same refusals failed the check when the phase ran
    /// few searches (24 of 1,777 at 6.2 s recovery, issue 83).
    /// </summary>
    public int? UncopiedSearchClients { get; init; }
    public int AllowedFailedSearches => Math.Max((Searches - 1) / 100,
        UncopiedSearchClients is { } clients ? clients * ((int)(RecoverySeconds / StorageUnavailableException.RetryAfterSeconds) + 1) : 0);
    public double? SlowestMs => SearchesTook is { Length: > 0 } t ? t[0] : null;
    public double? P99Ms => SearchesTook is { Length: > 0 } t ? t[(int)(t.Length * 0.01)] : null;
    public double? ServerSlowestMs => ServerTook is { Length: > 0 } t ? t[0] : null;
    public double? ServerP99Ms => ServerTook is { Length: > 0 } t ? t[(int)(t.Length * 0.01)] : null;

    public IEnumerable<string> Violations()
    {
        if (Lost > 0) yield return $"{Lost} acknowledged documents lost (read notFound or failed)";
        if (Stuck > 0) yield return $"{Stuck} acknowledged documents still pending";
        if (Unsettled > 0) yield return $"the collection still lists {Unsettled} documents unsettled after the quiet period with no call";
        if (NothingPendingAtFault) yield return "the kill left no document pending, so the phase proved nothing";
        if (Refused > 0) yield return $"{Refused} documents refused with a status other than 503";
        if (ShardChunks != IndexedChunks) yield return $"shards hold {ShardChunks} chunks, the indexed documents {IndexedChunks} (duplicated or missing chunks)";
        var other5xx = Statuses.Where(s => s.Key >= 500 && s.Key != 503).ToList();
        if (other5xx.Count > 0) yield return "HTTP " + string.Join(", ", other5xx.Select(s => $"{s.Key} x{s.Value}"));
        if (ConnectionErrors > 0 && !ApiKilled) yield return $"{ConnectionErrors} requests got no HTTP answer (the API silo was up)";
        if (Searches > 0 && FailedSearches > AllowedFailedSearches)
            yield return $"{FailedSearches} of {Searches} searches failed ({AllowedFailedSearches} allowed: {(UncopiedSearchClients is { } c ? $"{c} clients once per Retry-After in {RecoverySeconds:F1} s, or " : "")}under 1 %)";
        if (RecoverySeconds > RecoveryLimitSeconds) yield return $"recovery took {RecoverySeconds:F1} s ({RecoveryLimitSeconds} s allowed)";
        if (Unspread is not null) yield return Unspread;
        if (Unreplicated is not null) yield return Unreplicated;
        if (Unregistered is not null) yield return Unregistered;
        if (SlowestAllowedMs is { } limit && ServerSlowestMs > limit)
            yield return $"the slowest search after the kill took {ServerSlowestMs:F0} ms in the cluster ({limit:F0} allowed; p99 {ServerP99Ms:F0} ms of {ServerTook!.Length})";
    }
}

/// <summary>
/// Issue 21's fault suite on <see cref="FaultCluster"/>: seven phases (the seventh, a reshard under load, is issue 22's), each followed by the same checks. Every acknowledged
/// document reads indexed (none lost, none pending); the shards hold exactly the chunks the indexed documents count (no
/// duplicate); no HTTP 5xx but 503; under 1 % of searches failed (or, after a kill with no copy, each client refused at
/// most once per Retry-After: <see cref="PhaseResult.UncopiedSearchClients"/>); and requests succeed again within 10 s of the fault.
/// With <paramref name="replicationFactor"/> above 1 (issue 46) every collection keeps that many copies of each shard,
/// and each follower must come to hold what its primary holds.
/// BM25 only (no model on the silos): the faults are about state, not inference.
/// </summary>
public sealed partial class FaultSuite(FaultSuiteSize size, Action<string> log, int replicationFactor = 1)
{
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RegisteredAgainLimit = TimeSpan.FromSeconds(20);
    private FaultCluster _cluster = null!;
    private List<CorpusDocument> _corpus = [];
    private List<string> _queries = [];
    private readonly List<PhaseResult> _results = [];

    public IReadOnlyList<PhaseResult> Results => _results;

    public async Task RunAsync()
    {
        var dir = Path.Combine(RepoPaths.Root, "..", "shared", "eval", "scifact-train");
        _corpus = File.ReadLines(Path.Combine(dir, "corpus.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => new CorpusDocument(e.GetProperty("_id").GetString()!, JsonSerializer.Serialize(new { title = e.GetProperty("title").GetString(), text = e.GetProperty("text").GetString() })))
            .Take(size.BulkDocuments).ToList();
        _queries = File.ReadLines(Path.Combine(dir, "queries.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!).ToList();
        var clock = Stopwatch.StartNew();
        _cluster = await FaultCluster.StartAsync();
        log($"cluster up in {clock.Elapsed.TotalSeconds:F1} s: API silo + {FaultCluster.PlainSilos} silos, {replicationFactor} copies a shard, PostgreSQL max_connections {FaultCluster.MaxConnections}, " +
            $"Silo:StoragePoolSize {FaultCluster.PoolSize}, Ingest:PendingSweepPeriod {FaultCluster.SweepPeriod}");
        try
        {
            // RAGCLUSTER_FAULT_SUITE_PHASES (e.g. "1,2,2,2"): which phases, in which order, repeats allowed; to chase one
            // phase's rare failure without running the rest. Unset: all of them once.
            var phases = Environment.GetEnvironmentVariable("RAGCLUSTER_FAULT_SUITE_PHASES") is { Length: > 0 } chosen
                ? chosen.Split(',').Select(int.Parse).ToArray() : [1, 2, 3, 4, 5, 6, 7];
            var kills = 0;
            foreach (var phase in phases)
                await (phase switch
                {
                    1 => BulkIngestAsync(),
                    2 => KillOneSiloMidIngestAsync(kills++ == 0 ? "kill-ingest" : $"kill-ingest-{kills}"),
                    3 => KillEachSiloUnderSearchAsync(),
                    4 => RestartPostgresAsync(),
                    5 => RestartRedisAsync(),
                    6 => KillEverySiloMidIngestAsync(),
                    7 => ReshardUnderLoadAsync(),
                    _ => throw new ArgumentException($"no fault-suite phase {phase}"),
                });
            // A phase that broke a promise: what the processes logged as failures, so the run says why.
            if (_results.Any(r => r.Violations().Any()))
                log(_cluster.Failures());
        }
        catch
        {
            log(_cluster.Logs());
            throw;
        }
        finally
        {
            // RAGCLUSTER_FAULT_SUITE_LOGS: a folder to keep every process's whole output in.
            if (Environment.GetEnvironmentVariable("RAGCLUSTER_FAULT_SUITE_LOGS") is { Length: > 0 } logs)
            {
                Directory.CreateDirectory(logs);
                var n = 0;
                foreach (var process in _cluster.History)
                    await File.WriteAllTextAsync(Path.Combine(logs, $"{n++}-{process.SiloAddress.Replace(':', '_')}.log"), process.AllOutput);
            }
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>Phase 1: the bulk ingest with no fault; its collection is what later phases search.</summary>
    private async Task BulkIngestAsync()
    {
        var requests = new RequestLog();
        await CreateCollectionAsync("bulk");
        var ingest = new IngestLoad(_cluster.Http, "bulk", requests);
        await ingest.RunAsync(_corpus, size.BatchSize, size.Concurrency, CancellationToken.None);
        var check = await CheckAsync("bulk", ingest, requests);
        var rate = check.Indexed / requests.Clock.Elapsed.TotalSeconds;
        Add(Result("1. bulk ingest, no fault", requests, ingest, null, check, 0, $"{rate:F1} documents/s, submitted to all indexed"));
    }

    /// <summary>Phase 2: a third into an ingest, kill -9 of a plain silo; the rest of the ingest goes on.</summary>
    private async Task KillOneSiloMidIngestAsync(string collection)
    {
        var requests = new RequestLog();
        await CreateCollectionAsync(collection);
        var ingest = new IngestLoad(_cluster.Http, collection, requests);
        var run = ingest.RunAsync(PhaseDocuments(), size.BatchSize, size.Concurrency, CancellationToken.None);
        var fault = await WhenAcknowledgedAsync(ingest, size.PhaseDocuments / 3, run, requests);
        var atKill = ingest.Acknowledged.Count;
        await _cluster.KillSiloAsync(0);
        await run;
        var check = await CheckAsync(collection, ingest, requests);
        Add(Result("2. kill -9 of one silo mid-ingest", requests, ingest, null, check, requests.RecoverySince(fault),
            $"killed when {atKill} were acknowledged"));
        await _cluster.RestartSiloAsync(0);
    }

    /// <summary>Searches of the bulk collection (4 at a time) for the search-load time, with <paramref name="fault"/> a quarter in.</summary>
    private Task<(RequestLog Requests, SearchLoad Search, TimeSpan FaultAt)> SearchThroughAsync(Func<Task> fault) =>
        SearchThroughAsync(fault, size.SearchLoad / 4, size.SearchLoad * 3 / 4);

    /// <summary>How many searches run at a time in the phases that search through a fault.</summary>
    private const int SearchClients = 4;

    /// <summary>Searches of the bulk collection (<see cref="SearchClients"/> at a time): <paramref name="before"/>, then <paramref name="fault"/>, then <paramref name="after"/>.</summary>
    private async Task<(RequestLog Requests, SearchLoad Search, TimeSpan FaultAt)> SearchThroughAsync(Func<Task> fault, TimeSpan before, TimeSpan after)
    {
        var requests = new RequestLog();
        using var stop = new CancellationTokenSource();
        var search = new SearchLoad(_cluster.Http, "bulk", requests);
        var run = search.RunAsync(_queries, SearchClients, stop.Token);
        await Task.Delay(before);
        var at = requests.Clock.Elapsed;
        await fault();
        await Task.Delay(after);
        stop.Cancel();
        await run;
        return (requests, search, at);
    }

    /// <summary>Phase 4: searches and an ingest; a third into the ingest, PostgreSQL shuts down (fast) and is back 2 s later.</summary>
    private async Task RestartPostgresAsync()
    {
        var requests = new RequestLog();
        await CreateCollectionAsync("pg-restart");
        using var stop = new CancellationTokenSource();
        var search = new SearchLoad(_cluster.Http, "bulk", requests);
        var searching = search.RunAsync(_queries, 2, stop.Token);
        var ingest = new IngestLoad(_cluster.Http, "pg-restart", requests);
        var run = ingest.RunAsync(PhaseDocuments(), size.BatchSize, size.Concurrency, CancellationToken.None);
        var fault = await WhenAcknowledgedAsync(ingest, size.PhaseDocuments / 3, run, requests);
        await _cluster.Postgres.RestartAsync(TimeSpan.FromSeconds(2));
        await run;
        stop.Cancel();
        await searching;
        var check = await CheckAsync("pg-restart", ingest, requests);
        Add(Result("4. PostgreSQL restart under search and ingest", requests, ingest, search, check, requests.RecoverySince(fault), "down 2 s (pg_ctl stop -m fast, then start)"));
    }

    /// <summary>Phase 5: searches; a quarter into them, Redis is killed and a new, empty one starts on its port 1 s later.</summary>
    private async Task RestartRedisAsync()
    {
        // Shard activations are registered in Redis (ShardDirectory): the empty Redis must get back the entries of the
        // shards that live on, or a call that misses its cache makes a second activation of one.
        const string Shards = "*/directory/indexshard/*.bulk/*";
        var registered = await _cluster.Redis.KeysAsync(Shards);
        var (requests, search, fault) = await SearchThroughAsync(() => _cluster.Redis.RestartAsync(TimeSpan.FromSeconds(1)));
        var members = await _cluster.ActiveMembersAsync();
        var back = DateTimeOffset.UtcNow;
        var missing = registered.Count;
        while (registered.Count > 0 && DateTimeOffset.UtcNow - back < RegisteredAgainLimit)
        {
            missing = registered.Except(await _cluster.Redis.KeysAsync(Shards)).Count();
            if (missing == 0) break;
            await Task.Delay(250);
        }
        var check = await CheckAsync("bulk", null, requests, BulkIds);
        Add(Result("5. Redis restart (comes back empty)", requests, null, search, check, requests.RecoverySince(fault),
            $"{members} active members afterwards; {registered.Count - missing} of {registered.Count} shard entries back in Redis") with
        {
            Unregistered = registered.Count == 0 ? "no shard activation was registered in Redis before the restart"
                : missing > 0 ? $"{missing} of {registered.Count} shard entries still missing from Redis {RegisteredAgainLimit.TotalSeconds:F0} s after the searches" : null,
        });
    }

    /// <summary>
    /// Phase 6: a third into an ingest, kill -9 of every process (the API silo too); a restart, then no client call at all
    /// for the quiet period. Then, before any call reaches a document: the collection must show none unsettled and its
    /// shards must hold every indexed document's chunks, so the documents the kill left pending resumed by themselves.
    /// </summary>
    private async Task KillEverySiloMidIngestAsync()
    {
        var requests = new RequestLog();
        await CreateCollectionAsync("kill-all");
        var ingest = new IngestLoad(_cluster.Http, "kill-all", requests);
        using var stop = new CancellationTokenSource();
        // The kill must find documents pending, or the phase proves nothing. A third acknowledged was not always enough
        // (one run had indexed all 90 by then), and since batches index in bulk (a few milliseconds a batch here) even a
        // kill at the first unsettled document found none left. So the collection's shards refuse their log writes until
        // the kill: every document acknowledged by then is stored in the registry only, pending, and must be indexed
        // after the restart with no call to it.
        var faults = await InjectedWriteFailures.InstallAsync(_cluster.Storage);
        await faults.FailLogAppends("%kill-all%");
        var run = ingest.RunAsync(PhaseDocuments(), size.BatchSize, size.Concurrency, stop.Token);
        var killedAt = await WhenAcknowledgedAsync(ingest, size.PhaseDocuments / 3, run, requests);
        await _cluster.KillAllAsync();
        stop.Cancel();
        await run;
        await faults.HealAll();
        var acknowledged = ingest.Acknowledged.Count;
        var killed = DateTimeOffset.UtcNow;
        await _cluster.StartAllAsync();
        var backAt = requests.Clock.Elapsed;
        var back = DateTimeOffset.UtcNow;
        log($"phase 6: {acknowledged} acknowledged when every process was killed; all back {(backAt - killedAt).TotalSeconds:F1} s later; quiet for {size.Quiet.TotalSeconds:F0} s");
        await Task.Delay(size.Quiet);

        // Only the collection and its shards are asked first: a call to a document would activate (and so resume) it.
        var info = await GetWithRetryAsync("v1/collections/kill-all", requests);
        var unsettled = info.GetProperty("unsettledCount").GetInt32();
        var shardChunksBeforeAnyDocumentCall = await ShardChunksAsync("kill-all", requests);
        var sweeps = _cluster.History.SelectMany(s => System.Text.RegularExpressions.Regex.Matches(s.AllOutput, @"Sweep of collection \S*kill-all: (\d+) document"))
            .Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Max();
        var check = await CheckAsync("kill-all", ingest, requests);
        // Recovery: from the cluster being back to the last acknowledged document indexed (its own updatedAt).
        var lastIndexed = check.LastIndexed is { } t ? Math.Max(0, (t - back).TotalSeconds) : 0;
        // The documents the kill left pending, indexed after it with no call to them: acknowledged ones, and all (those in
        // flight at the kill may have been stored without their answer reaching the client).
        var resumed = check.IndexedAt.Count(t => t > killed);
        var resumedAll = check.AllIndexedAt.Count(t => t > killed);
        var result = Result("6. kill -9 of every silo mid-ingest, restart, no call", requests, ingest, null, check, lastIndexed,
            $"{acknowledged} acknowledged at the kill; back in {(backAt - killedAt).TotalSeconds:F1} s; after {size.Quiet.TotalSeconds:F0} s quiet: " +
            $"{unsettled} unsettled, {shardChunksBeforeAnyDocumentCall} chunks in the shards; {resumedAll} documents ({resumed} acknowledged) were indexed after the kill " +
            $"(the last {(check.LastIndexed is { } l ? (l - killed).TotalSeconds : 0):F1} s after it); sweeps saw up to {sweeps} unsettled");
        result = result with { ApiKilled = true, Unsettled = unsettled, NothingPendingAtFault = resumedAll == 0 };
        if (shardChunksBeforeAnyDocumentCall != check.IndexedChunks)
            result = result with { ShardChunks = shardChunksBeforeAnyDocumentCall, Note = result.Note + " (chunks came only after documents were called)" };
        Add(result);
    }

    /// <summary>
    /// Phase 7: the bulk collection goes from 4 shards to 8 (PUT shardCount) while it is searched and part of it is
    /// rewritten; the rewrites start first, the reshard a third into them. Every search must answer, the shards must end
    /// holding exactly the indexed documents' chunks at their new versions, and the 8 new shards must sit 2 on each of
    /// the 4 silos.
    /// </summary>
    private async Task ReshardUnderLoadAsync()
    {
        var requests = new RequestLog();
        using var stop = new CancellationTokenSource();
        var search = new SearchLoad(_cluster.Http, "bulk", requests);
        var searching = search.RunAsync(_queries, 4, stop.Token);
        var ingest = new IngestLoad(_cluster.Http, "bulk", requests);
        var rewrites = PhaseDocuments().Select(d => d with { Json = d.Json.Replace("\"title\":\"", "\"title\":\"Revised: ") }).ToList();
        var writing = ingest.RunAsync(rewrites, size.BatchSize, size.Concurrency, CancellationToken.None);
        var startedAt = await WhenAcknowledgedAsync(ingest, size.PhaseDocuments / 3, writing, requests);
        using (var put = await _cluster.Http.PutAsJsonAsync("v1/collections/bulk", new { shardCount = 8 }))
        {
            requests.Status(put.StatusCode);
            if (put.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"reshard: HTTP {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }
        double? switchedAfter = null;
        while (switchedAfter is null)
        {
            var info = await GetWithRetryAsync("v1/collections/bulk", requests);
            if (info.GetProperty("resharding").ValueKind == JsonValueKind.Null && info.GetProperty("settings").GetProperty("shardCount").GetInt32() == 8)
                switchedAfter = (requests.Clock.Elapsed - startedAt).TotalSeconds;
            else if (requests.Clock.Elapsed - startedAt > SettleLimit) throw new InvalidOperationException("the reshard did not finish in time");
            else await Task.Delay(250);
        }
        await writing;
        await Task.Delay(TimeSpan.FromSeconds(8)); // past the old shards' retirement (5 s after the switch), still searching
        stop.Cancel();
        await searching;
        var check = await CheckAsync("bulk", ingest, requests, BulkIds);
        var shards = (await GetWithRetryAsync("v1/collections/bulk/shards", requests)).EnumerateArray().Where(IsPrimary).ToList();
        var perSilo = shards.GroupBy(s => s.GetProperty("silo").GetString()).Select(g => g.Count()).OrderDescending().ToList();
        var spread = string.Join("/", perSilo);
        var result = Result("7. reshard 4 → 8 shards under search load and rewrites", requests, ingest, search, check, 0,
            $"{rewrites.Count} documents rewritten, the reshard begun when {size.PhaseDocuments / 3} were acknowledged; switched after {switchedAfter:F1} s; new shards per silo {spread}");
        if (shards.Count != 8 || perSilo.Count != FaultCluster.PlainSilos + 1 || perSilo[0] > 2)
            result = result with { Unspread = $"{shards.Count} new shards sit {spread} on the silos (2 on each of {FaultCluster.PlainSilos + 1} expected)" };
        Add(result);
    }

    private List<string> BulkIds => _corpus.Select(d => d.Id).ToList();

    private IReadOnlyList<CorpusDocument> PhaseDocuments() => _corpus.Take(size.PhaseDocuments).ToList();

    private void Add(PhaseResult r)
    {
        _results.Add(r);
        log($"{r.Phase}: {r.Seconds:F1} s, {r.Acknowledged}/{r.Sent} acknowledged, {r.Indexed} indexed, lost {r.Lost}, pending {r.Stuck}, resent {r.Resent}, " +
            $"chunks {r.ShardChunks}/{r.IndexedChunks}, searches {r.FailedSearches}/{r.Searches} failed, HTTP {Statuses(r.Statuses)}, " +
            $"connection errors {r.ConnectionErrors}, recovery {r.RecoverySeconds:F1} s" +
            (r.SlowestMs is { } slowest ? $", searches after the kill: slowest {slowest:F0} ms, p99 {r.P99Ms:F0} ms of {r.SearchesTook!.Length}" +
                                          $" (in the API silo: {r.ServerSlowestMs:F0} ms, {r.ServerP99Ms:F0} ms)" : "") + $". {r.Note}");
    }

    private static string Statuses(IReadOnlyDictionary<int, int> s) => string.Join(" ", s.OrderBy(x => x.Key).Select(x => $"{x.Key}x{x.Value}"));

    private PhaseResult Result(string phase, RequestLog requests, IngestLoad? ingest, SearchLoad? search, Check check, double recovery, string note)
    {
        foreach (var (answer, n) in search?.Failures ?? new Dictionary<string, int>()) log($"{phase}: {n} searches answered {answer}");
        foreach (var answer in requests.UnexpectedAnswers) log($"{phase}: answered {answer}");
        return new(phase, requests.Clock.Elapsed.TotalSeconds, ingest?.Sent.Count ?? 0, ingest?.Acknowledged.Count ?? check.Indexed, check.Indexed, check.Lost, check.Stuck,
            ingest?.Resent ?? 0, ingest?.Refusals.Count ?? 0, check.ShardChunks, check.IndexedChunks, search?.Searches ?? 0, search?.Failed ?? 0,
            new Dictionary<int, int>(requests.Statuses), requests.ConnectionErrors, recovery, note) { Unreplicated = check.Unreplicated };
    }

    /// <summary>Waits until <paramref name="count"/> documents are acknowledged; returns the time on the phase's clock.</summary>
    private static async Task<TimeSpan> WhenAcknowledgedAsync(IngestLoad ingest, int count, Task run, RequestLog requests)
    {
        while (ingest.Acknowledged.Count < count && !run.IsCompleted) await Task.Delay(10);
        if (ingest.Acknowledged.Count < count) throw new InvalidOperationException($"the ingest ended with {ingest.Acknowledged.Count} acknowledged, before the fault");
        return requests.Clock.Elapsed;
    }

    /// <summary>What <see cref="CheckAsync"/> found; IndexedAt: when each acknowledged document was indexed, AllIndexedAt: each sent one.</summary>
    private sealed record Check(int Indexed, int Lost, int Stuck, int ShardChunks, int IndexedChunks, List<DateTimeOffset> IndexedAt, List<DateTimeOffset> AllIndexedAt,
        string? Unreplicated)
    {
        public DateTimeOffset? LastIndexed => IndexedAt.Count > 0 ? IndexedAt.Max() : null;
    }

    /// <summary>
    /// Waits until no document sent (or listed) is pending, for at most <see cref="SettleLimit"/>, then counts: acknowledged
    /// documents indexed, lost (notFound, failed) and still pending; the chunks the indexed documents have against the chunks
    /// the shards hold.
    /// </summary>
    private async Task<Check> CheckAsync(string collection, IngestLoad? ingest, RequestLog requests, IReadOnlyList<string>? ids = null)
    {
        ids ??= ingest!.Sent.ToList();
        var acknowledged = ingest?.Acknowledged.Keys.ToHashSet() ?? ids.ToHashSet();
        var statuses = new Dictionary<string, JsonElement>();
        var settle = Stopwatch.StartNew();
        while (true)
        {
            foreach (var window in ids.Chunk(1000))
            {
                var body = await PostWithRetryAsync($"v1/collections/{collection}/documents/statuses", new { ids = window }, requests);
                foreach (var d in body.GetProperty("documents").EnumerateArray()) statuses[d.GetProperty("documentId").GetString()!] = d.Clone();
            }
            if (statuses.Values.All(s => s.GetProperty("status").GetString() != "pending") || settle.Elapsed > SettleLimit) break;
            await Task.Delay(1000);
        }
        string Status(string id) => statuses[id].GetProperty("status").GetString()!;
        var indexed = statuses.Where(s => s.Value.GetProperty("status").GetString() == "indexed").ToList();
        var unreplicated = await FollowersCaughtUpAsync(collection, requests);
        return new Check(
            Indexed: acknowledged.Count(id => Status(id) == "indexed"),
            Lost: acknowledged.Count(id => Status(id) is "notFound" or "failed"),
            Stuck: acknowledged.Count(id => Status(id) == "pending"),
            ShardChunks: await ShardChunksAsync(collection, requests),
            IndexedChunks: indexed.Sum(s => s.Value.GetProperty("chunkCount").GetInt32()),
            IndexedAt: indexed.Where(s => acknowledged.Contains(s.Key)).Select(s => s.Value.GetProperty("updatedAt").GetDateTimeOffset()).ToList(),
            AllIndexedAt: indexed.Select(s => s.Value.GetProperty("updatedAt").GetDateTimeOffset()).ToList(),
            Unreplicated: unreplicated);
    }

    /// <summary>The chunks the primaries hold (each copy lists itself in /shards: copy 0 is the primary).</summary>
    private async Task<int> ShardChunksAsync(string collection, RequestLog requests) =>
        (await GetWithRetryAsync($"v1/collections/{collection}/shards", requests)).EnumerateArray().Where(IsPrimary).Sum(s => s.GetProperty("chunks").GetInt32());

    private static bool IsPrimary(JsonElement copy) => copy.GetProperty("copy").GetInt32() == 0;

    /// <summary>
    /// With copies: waits until each shard has its copies on distinct silos, each holding its primary's chunks, for at
    /// most <see cref="CatchUpLimit"/>; null when they do, else what is still wrong.
    /// </summary>
    private async Task<string?> FollowersCaughtUpAsync(string collection, RequestLog requests)
    {
        if (replicationFactor == 1) return null;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var copies = (await GetWithRetryAsync($"v1/collections/{collection}/shards", requests)).EnumerateArray().ToList();
            var wrong = copies.GroupBy(c => c.GetProperty("shard").GetInt32()).SelectMany(shard =>
            {
                var primary = shard.Single(IsPrimary).GetProperty("chunks").GetInt32();
                var silos = shard.Select(c => c.GetProperty("silo").GetString()).ToList();
                return shard.Where(c => !IsPrimary(c) && c.GetProperty("chunks").GetInt32() != primary)
                    .Select(c => $"shard {shard.Key} copy {c.GetProperty("copy").GetInt32()} holds {c.GetProperty("chunks").GetInt32()} chunks, its primary {primary}")
                    .Concat(shard.Count() != replicationFactor ? [$"shard {shard.Key} has {shard.Count()} copies"] : [])
                    .Concat(silos.Distinct().Count() != silos.Count ? [$"shard {shard.Key} has two copies on one silo"] : []);
            }).ToList();
            if (wrong.Count == 0) return null;
            if (clock.Elapsed > CatchUpLimit) return $"{CatchUpLimit.TotalSeconds:F0} s after settling: {string.Join("; ", wrong.Take(5))}";
            await Task.Delay(500);
        }
    }

    private async Task CreateCollectionAsync(string name)
    {
        using var r = await _cluster.Http.PostAsJsonAsync("v1/collections", new { name, replicationFactor });
        if (r.StatusCode != HttpStatusCode.Created && r.StatusCode != HttpStatusCode.OK)
            throw new InvalidOperationException($"creating {name}: HTTP {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    // The checks' own calls: a 503 (or a refused connection while the cluster restarts) is waited out, and counted.
    private Task<JsonElement> GetWithRetryAsync(string path, RequestLog requests) => WithRetryAsync(() => _cluster.Http.GetAsync(path), requests);

    private Task<JsonElement> PostWithRetryAsync(string path, object body, RequestLog requests) => WithRetryAsync(() => _cluster.Http.PostAsJsonAsync(path, body), requests);

    private static async Task<JsonElement> WithRetryAsync(Func<Task<HttpResponseMessage>> call, RequestLog requests)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var r = await call();
                await requests.StatusAsync(r);
                if (r.IsSuccessStatusCode) return await r.Content.ReadFromJsonAsync<JsonElement>();
                if (r.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 60)
                    throw new InvalidOperationException($"HTTP {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
            }
            catch (HttpRequestException) when (attempt < 60)
            {
                requests.ConnectionError();
            }
            await Task.Delay(1000);
        }
    }

    /// <summary>The results as a markdown table, for a dated run in bench/results/.</summary>
    public string Markdown()
    {
        var s = new StringBuilder();
        s.AppendLine("| phase | s | acknowledged / sent | indexed | lost | pending | resent (503) | shard chunks / indexed chunks | failed searches | slowest / p99 search after the kill, ms | HTTP statuses | recovery s | notes |");
        s.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in _results)
            s.AppendLine($"| {r.Phase} | {r.Seconds:F0} | {r.Acknowledged} / {r.Sent} | {r.Indexed} | {r.Lost} | {r.Stuck} | {r.Resent} | {r.ShardChunks} / {r.IndexedChunks} | " +
                         $"{r.FailedSearches} / {r.Searches} | {(r.SlowestMs is { } slowest ? $"{slowest:F0} / {r.P99Ms:F0} (API silo: {r.ServerSlowestMs:F0} / {r.ServerP99Ms:F0})" : "")} | {Statuses(r.Statuses)}{(r.ConnectionErrors > 0 ? $", {r.ConnectionErrors} refused connections" : "")} | {r.RecoverySeconds:F1} | {r.Note} |");
        return s.ToString();
    }
}
