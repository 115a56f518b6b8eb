using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 21, item 7: a BM25-only bulk ingest (no model on any silo) of the same corpus through each silo count in one
/// run: 1 is the embedded default (SQLite), more are the cluster recipe (docs/cluster.md) (the API silo plus plain silos on
/// PostgreSQL and Redis; see BenchCluster). Each is warmed up first (<see cref="IngestBench.WarmupDocuments"/> documents
/// into a collection of their own). Per document: the whole machine's CPU, grain calls by method (our
/// rc_grain_calls_total, summed over every silo's /metrics) and, on PostgreSQL, transactions (pg_stat_database).
/// </summary>
public static class Bm25IngestBench
{
    public static async Task Run(string binDir, string corpusDir, int docs, int[] siloCounts)
    {
        var corpus = IngestBench.LoadCorpus(corpusDir, docs);
        double? embedded = null;
        foreach (var silos in siloCounts)
        {
            await using var cluster = await BenchCluster.StartAsync(binDir, "", silos);
            await IngestBench.IngestCollectionAsync(cluster.Http, "warmup", corpus.Take(IngestBench.WarmupDocuments).ToList());
            await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(60));
            var (calls0, tx0, busy0) = (await GrainCallsAsync(cluster), await TransactionsAsync(cluster), IngestBench.MachineBusy());
            var (chunks, seconds, submit) = await IngestBench.IngestCollectionAsync(cluster.Http, "bench", corpus);
            var busy = IngestBench.MachineBusy() - busy0;
            var calls1 = await GrainCallsAsync(cluster);
            var calls = calls1.ToDictionary(c => c.Key, c => c.Value - calls0.GetValueOrDefault(c.Key));
            var tx = await TransactionsAsync(cluster) - tx0;
            var rate = corpus.Count / seconds;
            embedded ??= silos == 1 ? rate : null;
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "ingest_bm25", silos, documents = corpus.Count, chunks, seconds, submit_seconds = submit, docs_per_s = rate,
                ratio_to_one_silo = embedded is { } e ? rate / e : (double?)null,
                machine_cpu_ms_per_doc = busy.TotalMilliseconds / corpus.Count,
                grain_calls_per_doc = calls.Values.Sum() / corpus.Count,
                grain_calls_by_method_per_doc = calls.Where(c => c.Value > 0).OrderByDescending(c => c.Value).ToDictionary(c => c.Key, c => Math.Round(c.Value / corpus.Count, 3)),
                pg_transactions_per_doc = tx is { } t ? t / corpus.Count : (double?)null,
            }));
        }
    }

    /// <summary>
    /// Calls to our grains every silo has run so far, by "type.method": our own counter (rc_grain_calls_total, counted by
    /// an incoming-call filter, local and remote calls alike), from each silo's Prometheus text.
    /// </summary>
    private static async Task<Dictionary<string, double>> GrainCallsAsync(BenchCluster cluster)
    {
        var calls = new Dictionary<string, double>();
        foreach (var url in cluster.MetricsUrls)
            foreach (var line in (await cluster.Http.GetStringAsync(url)).Split('\n').Where(l => l.StartsWith("rc_grain_calls_total{")))
            {
                string Label(string name) => System.Text.RegularExpressions.Regex.Match(line, name + "=\"([^\"]*)\"").Groups[1].Value;
                var key = Label("type") + "." + Label("method");
                calls[key] = calls.GetValueOrDefault(key) + double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        return calls;
    }

    /// <summary>
    /// Transactions committed and rolled back in the silos' database so far. PostgreSQL's statistics reach the view up to
    /// 10 s after a backend goes idle (PostgreSQL 15), so this waits 11 s first.
    /// </summary>
    private static async Task<double?> TransactionsAsync(BenchCluster cluster)
    {
        if (cluster.PostgresConnectionString is not { } dsn) return null;
        await Task.Delay(TimeSpan.FromSeconds(11));
        await using var c = new NpgsqlConnection(dsn);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()", c);
        return Convert.ToDouble(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
