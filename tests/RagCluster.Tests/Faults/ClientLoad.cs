using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Tests.Faults;

/// <summary>One SciFact document as the suite sends it (the batch form's "json" format: title and text).</summary>
public sealed record CorpusDocument(string Id, string Json);

/// <summary>What every request of a phase got: HTTP statuses, failed connections, and when requests failed.</summary>
public sealed class RequestLog
{
    private readonly ConcurrentDictionary<int, int> _statuses = new();
    private readonly ConcurrentQueue<(TimeSpan At, bool Ok)> _outcomes = new();
    private int _connectionErrors;

    public Stopwatch Clock { get; } = Stopwatch.StartNew();
    public IReadOnlyDictionary<int, int> Statuses => _statuses;
    public int ConnectionErrors => _connectionErrors;

    public void Status(HttpStatusCode status) => _statuses.AddOrUpdate((int)status, 1, (_, n) => n + 1);

    private readonly ConcurrentQueue<string> _unexpected = new();

    /// <summary>What the API answered with a 5xx other than 503 (the first few), so a failed phase says why.</summary>
    public IReadOnlyCollection<string> UnexpectedAnswers => _unexpected;

    public async Task StatusAsync(HttpResponseMessage response)
    {
        Status(response.StatusCode);
        if ((int)response.StatusCode >= 500 && response.StatusCode != HttpStatusCode.ServiceUnavailable && _unexpected.Count < 5)
            _unexpected.Enqueue($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri?.AbsolutePath}: {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
    }
    public void ConnectionError() => Interlocked.Increment(ref _connectionErrors);
    public void Outcome(bool ok) => _outcomes.Enqueue((Clock.Elapsed, ok));

    /// <summary>Server errors other than 503 (a 503 says "not now, send again" and is allowed).</summary>
    public int Unexpected5xx => _statuses.Where(s => s.Key >= 500 && s.Key != 503).Sum(s => s.Value);

    /// <summary>
    /// Seconds from <paramref name="fault"/> until the end of the last request that failed after it (0 if none did):
    /// every request that ended later succeeded.
    /// </summary>
    public double RecoverySince(TimeSpan fault)
    {
        var failures = _outcomes.Where(o => !o.Ok && o.At >= fault).Select(o => o.At).ToList();
        return failures.Count == 0 ? 0 : (failures.Max() - fault).TotalSeconds;
    }
}

/// <summary>
/// A bulk ingest as `ragcluster ingest` does it: batches of documents, several requests at a time, and every document
/// answered 503 (a whole batch, or one document inside a batch) sent again after Retry-After. A document is
/// <em>acknowledged</em> when the API answered it pending or indexed.
/// </summary>
public sealed class IngestLoad(HttpClient http, string collection, RequestLog log)
{
    private readonly ConcurrentDictionary<string, long> _acknowledged = new();
    private readonly ConcurrentDictionary<string, byte> _sent = new();
    private readonly ConcurrentQueue<string> _refusals = new();
    private int _resent;

    /// <summary>Acknowledged documents and the version the API gave each.</summary>
    public IReadOnlyDictionary<string, long> Acknowledged => _acknowledged;
    /// <summary>Every document sent at least once (whatever came of it).</summary>
    public ICollection<string> Sent => _sent.Keys;
    /// <summary>Documents refused for good (not 503): none is expected.</summary>
    public IReadOnlyCollection<string> Refusals => _refusals;
    /// <summary>Documents sent again because they were answered with a server error (503 is the one allowed).</summary>
    public int Resent => _resent;

    /// <summary>Sends <paramref name="documents"/> until each is acknowledged or <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(IReadOnlyList<CorpusDocument> documents, int batchSize, int concurrency, CancellationToken stop)
    {
        var queue = new ConcurrentQueue<CorpusDocument[]>(documents.Chunk(batchSize));
        var inFlight = 0;
        async Task Worker()
        {
            while (!stop.IsCancellationRequested)
            {
                if (!queue.TryDequeue(out var batch))
                {
                    if (Volatile.Read(ref inFlight) == 0) return;
                    await Task.Delay(50, CancellationToken.None);
                    continue;
                }
                Interlocked.Increment(ref inFlight);
                try
                {
                    var (again, wait) = await SendAsync(batch, stop);
                    if (again.Length > 0)
                    {
                        await Task.Delay(wait, stop).ContinueWith(_ => { });
                        queue.Enqueue(again);
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
    }

    private CorpusDocument[] Resend(CorpusDocument[] documents)
    {
        Interlocked.Add(ref _resent, documents.Length);
        return documents;
    }

    /// <summary>One request; returns the documents to send again and how long to wait first.</summary>
    private async Task<(CorpusDocument[] Again, TimeSpan Wait)> SendAsync(CorpusDocument[] batch, CancellationToken stop)
    {
        foreach (var d in batch) _sent.TryAdd(d.Id, 0);
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsJsonAsync($"v1/collections/{collection}/documents",
                new { documents = batch.Select(d => new { id = d.Id, format = "json", text = d.Json }) }, stop);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            if (stop.IsCancellationRequested) return ([], TimeSpan.Zero); // cut off on purpose (every silo killed): not acknowledged
            log.ConnectionError();
            log.Outcome(false);
            return (batch, TimeSpan.FromSeconds(1));
        }
        using (response)
        {
            await log.StatusAsync(response);
            var retryAfter = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                log.Outcome(false);
                if ((int)response.StatusCode >= 500) return (Resend(batch), retryAfter);
                foreach (var d in batch) _refusals.Enqueue($"{d.Id}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                return ([], TimeSpan.Zero);
            }
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(CancellationToken.None);
            var again = new List<CorpusDocument>();
            var byId = batch.ToDictionary(d => d.Id);
            foreach (var d in body.GetProperty("documents").EnumerateArray())
            {
                var id = d.GetProperty("documentId").GetString()!;
                var status = d.GetProperty("status").GetString();
                if (status is "pending" or "indexed") _acknowledged[id] = d.GetProperty("version").GetInt64();
                else if (d.GetProperty("error").GetProperty("status").GetInt32() == 503) again.Add(byId[id]);
                else _refusals.Enqueue($"{id}: {d.GetProperty("error")}");
            }
            log.Outcome(again.Count == 0);
            return (Resend(again.ToArray()), retryAfter);
        }
    }
}

/// <summary>
/// Searches of one collection, several at a time, until stopped; each counts as failed unless answered 200. A search
/// answered 503 waits for Retry-After before the next, as a client should.
/// </summary>
public sealed class SearchLoad(HttpClient http, string collection, RequestLog log)
{
    private int _searches, _failed;
    private readonly ConcurrentDictionary<string, int> _failures = new();
    private readonly ConcurrentQueue<(TimeSpan Start, TimeSpan Took, double? ServerMs)> _timings = new();
    public int Searches => _searches;
    public int Failed => _failed;
    /// <summary>What failed searches were answered, each answer with its count.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures;

    /// <summary>
    /// How long the searches that were running at <paramref name="from"/> or began in the <paramref name="window"/> after it
    /// took to be answered (failed ones too), in milliseconds, slowest first: as this client saw it, and as the API silo
    /// did (its Server-Timing header: from the request's arrival to the answer's start).
    /// </summary>
    public (double[] Client, double[] Server) TookSince(TimeSpan from, TimeSpan window)
    {
        var during = _timings.Where(t => t.Start + t.Took >= from && t.Start < from + window).ToList();
        return ([.. during.Select(t => t.Took.TotalMilliseconds).OrderDescending()], [.. during.Select(t => t.ServerMs ?? 0).OrderDescending()]);
    }

    // "app;dur=12.3"
    private static double? ServerMs(HttpResponseMessage r) =>
        r.Headers.TryGetValues("Server-Timing", out var values) && values.FirstOrDefault() is { } v && v.Split("dur=") is [_, var ms]
            ? double.Parse(ms, System.Globalization.CultureInfo.InvariantCulture) : null;

    public async Task RunAsync(IReadOnlyList<string> queries, int concurrency, CancellationToken stop)
    {
        var next = -1;
        async Task Worker()
        {
            while (!stop.IsCancellationRequested)
            {
                // Past the first round each query gets a round number, so answers come from the shards, not the query cache.
                var n = (uint)Interlocked.Increment(ref next);
                var query = queries[(int)(n % queries.Count)] + (n < queries.Count ? "" : $" {n / queries.Count}");
                bool ok;
                var start = log.Clock.Elapsed;
                try
                {
                    using var r = await http.PostAsJsonAsync($"v1/collections/{collection}/search", new { query, topK = 10 }, stop);
                    await log.StatusAsync(r);
                    ok = r.StatusCode == HttpStatusCode.OK;
                    _timings.Enqueue((start, log.Clock.Elapsed - start, ServerMs(r)));
                    if (!ok) _failures.AddOrUpdate($"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync(CancellationToken.None)}", 1, (_, k) => k + 1);
                    if (!ok) await Task.Delay(r.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(200), stop).ContinueWith(_ => { });
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // The phase ended while this one ran: not counted as failed, but timed as lasting at least until
                    // then (in the cluster too), so a search that hangs past the phase is the slowest, not unseen.
                    if (stop.IsCancellationRequested)
                    {
                        var waited = log.Clock.Elapsed - start;
                        _timings.Enqueue((start, waited, waited.TotalMilliseconds));
                        return;
                    }
                    log.ConnectionError();
                    ok = false;
                }
                Interlocked.Increment(ref _searches);
                if (!ok) Interlocked.Increment(ref _failed);
                log.Outcome(ok);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
    }
}
