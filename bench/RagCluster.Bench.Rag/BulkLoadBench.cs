using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Vectors;
using RagCluster.Grains.Indexing;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 34, items 2 to 4: one-vector documents loaded through the API beside the same index alone, in one run. First
/// the index alone: the vectors go into as many HNSW graphs as the collection has shards (each vector to the shard its
/// document's chunk lands in), a batch's share at a time, linked on as many threads as a silo's indexing threads
/// (cores - 1). Then the same vectors as documents of one chunk each, through the embedded default (one silo, SQLite)
/// over HTTP: requests of BATCH documents, IN_FLIGHT at a time, their bodies encoded before the clock starts; a refused
/// document is sent again after the Retry-After the response names. Memory: the silo's RSS after the load less before
/// it, as the collector left it and after a full blocking GC, per vector (summed over the silos). With more than one
/// silo the API side runs on the cluster recipe (BenchCluster: the API silo and the others on PostgreSQL and Redis).
/// </summary>
public static class BulkLoadBench
{
    public static async Task Run(string binDir, string dataDir, string[] quantizations, int batch, int inFlight, int shards, bool indexAlone = true, int[]? siloCounts = null)
    {
        siloCounts ??= [1];
        var shape = File.ReadAllText(Path.Combine(dataDir, "shape.txt")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var (n, dim) = (shape[0], shape[1]);
        var data = ScaleBench.Read<float>(Path.Combine(dataDir, "data.f32"));
        var threads = new Grains.Indexing.IndexingThreads().Count;
        foreach (var quantization in quantizations)
        {
            var indexRate = indexAlone ? IndexAlone(data, n, dim, Quantizations.Encoding(quantization), batch, shards, threads) : double.NaN;
            foreach (var silos in siloCounts)
            {
                var (apiRate, refused, requests, memory, written) = await ThroughApiAsync(binDir, data, n, dim, quantization, batch, inFlight, shards, silos);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "bulk_load", silos, quantization, vectors = n, dim, shards, batch, in_flight = inFlight, indexing_threads = threads,
                    index_alone_vectors_per_s = indexAlone ? Math.Round(indexRate) : (double?)null, api_vectors_per_s = Math.Round(apiRate),
                    ratio = indexAlone ? Math.Round(apiRate / indexRate, 3) : (double?)null, gc = GcMode(),
                    refused_documents = refused, refused_share = (double)refused / n, requests,
                    rss_bytes_per_vector_lazy = memory.Lazy, rss_bytes_per_vector_after_full_gc = memory.Full,
                    rss_file_backed_bytes_per_vector = memory.File, managed_heap_bytes_per_vector = memory.Heap,
                    heap_fragmentation_bytes_per_vector = memory.Fragmentation, // free space inside the heap after the full GC (part of the heap figure)
                    // Bytes written a vector (/proc/PID/io): handed to write calls by the last acknowledgement and once the
                    // snapshots are done, and sent to the device by then; a float32 vector of 384 is 1,536 bytes of its own.
                    written_bytes_per_vector_at_ack = written.AtAck, written_bytes_per_vector_settled = written.Settled,
                    device_written_bytes_per_vector_settled = written.DeviceSettled,
                }));
            }
        }
    }

    // The silo inherits this process' environment: DOTNET_gcServer=1 makes it server GC, DOTNET_GCConserveMemory
    // and DOTNET_GCDynamicAdaptationMode (DATAS, on by default with server GC since .NET 9) tune it.
    private static string GcMode() => string.Join(" ", new[] { "DOTNET_gcServer", "DOTNET_GCConserveMemory", "DOTNET_GCDynamicAdaptationMode", "DOTNET_GCHeapAffinitizeMask", "DOTNET_GCHeapCount" }
        .Select(v => (v, Environment.GetEnvironmentVariable(v))).Where(e => e.Item2 is { Length: > 0 }).Select(e => $"{e.v}={e.Item2}")
        .DefaultIfEmpty("default (workstation GC: the hosts' projects set it)"));

    private static double IndexAlone(float[] data, int n, int dim, VectorEncoding encoding, int batch, int shards, int threads)
    {
        var options = new HnswOptions();
        var indexes = Enumerable.Range(0, shards).Select(_ => new HnswIndex(dim, options, encoding: encoding)).ToArray();
        var shardOf = Enumerable.Range(0, n).Select(i => ShardRouting.ShardOf($"{Id(i)}#0", shards)).ToArray();
        var sw = Stopwatch.StartNew();
        for (var first = 0; first < n; first += batch)
        {
            var parts = Enumerable.Range(0, shards).Select(_ => new List<float[]>()).ToArray();
            for (var i = first; i < Math.Min(n, first + batch); i++) parts[shardOf[i]].Add(data.AsSpan(i * dim, dim).ToArray());
            for (var s = 0; s < shards; s++)
                if (parts[s].Count > 0)
                {
                    indexes[s].AppendRange(parts[s]);
                    indexes[s].LinkPending(threads);
                }
        }
        var rate = n / sw.Elapsed.TotalSeconds;
        foreach (var index in indexes) index.Dispose();
        return rate;
    }

    private static string Id(int i) => $"v{i:D7}";

    private static async Task<(double Rate, long Refused, long Requests, (double Lazy, double Full, double File, double Heap, double Fragmentation) Memory,
        (double AtAck, double Settled, double DeviceSettled) Written)> ThroughApiAsync(
        string binDir, float[] data, int n, int dim, string quantization, int batch, int inFlight, int shards, int silos)
    {
        await using var cluster = await BenchCluster.StartAsync(binDir, "", silos);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "bulk", dimensions = dim, shardCount = shards, quantization })).EnsureSuccessStatusCode();
        // BENCH_TENANT_LIMITS='{"documents":1000000}': the load under a tenant's limits (each batch reserves and releases its share).
        if (Environment.GetEnvironmentVariable("BENCH_TENANT_LIMITS") is { Length: > 0 } limits)
            (await http.PutAsync("v1/admin/tenants/default/limits", new StringContent(limits, System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(30));
        ScaleBench.FullGc(cluster);
        var (rssBefore, fileBefore, heapBefore) = (ScaleBench.Rss(cluster), ScaleBench.Rss(cluster, "RssFile:"), await HeapAsync(http));
        var (writtenBefore, deviceBefore) = (ScaleBench.Written(cluster), ScaleBench.Written(cluster, "write_bytes:"));

        var pending = new Queue<int[]>(Enumerable.Range(0, (n + batch - 1) / batch).Select(r => Enumerable.Range(r * batch, Math.Min(batch, n - r * batch)).ToArray()));
        var bodies = pending.ToDictionary(ids => ids[0], ids => Body(data, dim, ids));
        long refused = 0, requests = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
        {
            while (true)
            {
                int[] ids;
                lock (pending) if (!pending.TryDequeue(out ids!)) return;
                var body = bodies.Remove(ids[0], out var encoded) ? encoded : Body(data, dim, ids);
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                var response = await http.PostAsync("v1/collections/bulk/documents", content);
                Interlocked.Increment(ref requests);
                var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Add(ref refused, ids.Length);
                    await Task.Delay(wait);
                    lock (pending) pending.Enqueue(ids);
                    continue;
                }
                if (response.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                var again = new List<int>();
                var k = 0;
                foreach (var d in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray())
                {
                    var status = d.GetProperty("status").GetString();
                    if (status == "rejected")
                    {
                        if (d.GetProperty("error").GetProperty("status").GetInt32() != 503) throw new InvalidOperationException(d.ToString());
                        again.Add(ids[k]);
                    }
                    k++;
                }
                if (again.Count == 0) continue;
                Interlocked.Add(ref refused, again.Count);
                await Task.Delay(wait); // a refused document stored nothing: send it again when told
                lock (pending) pending.Enqueue(again.ToArray());
            }
        }));
        var rate = n / sw.Elapsed.TotalSeconds;
        var writtenAtAck = ScaleBench.Written(cluster) - writtenBefore; // what the acknowledgements cost on disk (issue 84, item 4)
        var count = (await http.GetFromJsonAsync<JsonElement>("v1/collections/bulk")).GetProperty("documentCount").GetInt32();
        if (count != n) throw new InvalidOperationException($"{count} documents registered, {n} sent");
        bodies.Clear();

        // Read once the silo is done with the load.
        var settled = await cluster.WaitForSnapshotsAsync("bulk");
        Console.Error.WriteLine($"snapshots done and the silo quiet {settled:F0} s after the load");
        var (writtenSettled, deviceSettled) = (ScaleBench.Written(cluster) - writtenBefore, ScaleBench.Written(cluster, "write_bytes:") - deviceBefore);
        var lazy = (ScaleBench.Rss(cluster) - rssBefore) / (double)n;
        ScaleBench.FullGc(cluster);
        var full = (ScaleBench.Rss(cluster) - rssBefore) / (double)n;
        var file = (ScaleBench.Rss(cluster, "RssFile:") - fileBefore) / (double)n;
        var heap = (await HeapAsync(http) - heapBefore) / n;
        var fragmentation = ScaleBench.Metric(await http.GetStringAsync("metrics"), "dotnet_gc_last_collection_heap_fragmentation_size_bytes") / n;
        return (rate, refused, requests, (Math.Round(lazy), Math.Round(full), Math.Round(file), Math.Round(heap), Math.Round(fragmentation)),
            (Math.Round((double)writtenAtAck / n), Math.Round((double)writtenSettled / n), Math.Round((double)deviceSettled / n)));
    }

    private static byte[] Body(float[] data, int dim, int[] ids) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        documents = ids.Select(i => new { id = Id(i), chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(data.AsSpan(i * dim, dim)) } } }),
    });

    private static async Task<double> HeapAsync(HttpClient http) =>
        ScaleBench.Metric(await http.GetStringAsync("metrics"), "dotnet_gc_last_collection_heap_size_bytes");
}
