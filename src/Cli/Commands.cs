using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Querying;
using Spectre.Console;

namespace RagCluster.Cli;

public static partial class Commands
{
    private const int MaxBatch = RagCluster.Grains.Interfaces.Documents.DocumentLimits.MaxDocuments;
    private const long BatchBytes = 8L * 1024 * 1024;

    /// <summary>Sends of one document answered 503 before it is reported failed (waits of Retry-After, doubling, at most 30 s).</summary>
    private const int SendAttempts = 6;

    /// <summary>The wait before send <paramref name="attempt"/> + 1: the API's Retry-After, doubled each time, at most 30 s.</summary>
    private static TimeSpan Backoff(int retryAfter, int attempt) => TimeSpan.FromSeconds(Math.Min(retryAfter << (attempt - 1), 30));

    private static bool IsSubmitError(Exception e) => e is CliException or IOException or UnauthorizedAccessException or ArgumentException
        or Orleans.Runtime.OrleansException or TimeoutException or Orleans.Storage.InconsistentStateException;

    /// <summary>
    /// Ingests every file in batches (one request per 1,000 documents, statuses followed for the oldest waiting, as
    /// many as have been finishing, so a large folder stays far inside the API's rate limit); a bad file is listed and
    /// skipped, never the end of the batch.
    /// </summary>
    public static async Task<int> Ingest(IRagBackend backend, string collection, string[] paths, string[] tagArgs, CancellationToken ct, string? accessField = null)
    {
        var textTags = ParseTags(tagArgs);
        var files = new List<(string Path, string Id)>();
        var errors = new List<(string, string)>();
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
                files.AddRange(Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Order().Select(f => (f, DocumentId(Path.GetRelativePath(p, f)))));
            else if (File.Exists(p)) files.Add((p, DocumentId(Path.GetFileName(p))));
            else errors.Add((p, "no such file or folder"));
        }
        // Vector files (.npy, .jsonl) go to a collection that brings its own vectors, created with their dimension if new.
        var dimensions = files.FirstOrDefault(f => VectorFiles.IsVectorFile(f.Path)) is { Path: { } first } ? VectorFiles.Dimensions(first) : (int?)null;
        if (await backend.EnsureCollectionAsync(collection, dimensions, ct, accessField))
            Console.WriteLine($"created collection '{collection}'{(accessField is null ? "" : $" (readers by the groups in tag '{accessField}')")}");
        var tags = textTags.Count == 0 ? [] : StoredTags(textTags, (await backend.CollectionAsync(collection, ct)).Settings.Fields);
        if (dimensions is not null)
            dimensions = (await backend.CollectionAsync(collection, ct)).Settings.Dimensions
                         ?? throw new CliException($"collection '{collection}' embeds text with the cluster's model; load vectors into a collection created with a dimension");
        var total = files.Sum(f => VectorFiles.IsVectorFile(f.Path) ? VectorFiles.Count(f.Path) : 1);
        IEnumerable<(string Path, string Id, Func<IngestRequest> Load)> Sources()
        {
            foreach (var (path, id) in files)
            {
                if (VectorFiles.IsVectorFile(path))
                    foreach (var record in VectorFiles.Read(path, tags, dimensions!.Value)) yield return record;
                else
                    yield return (path, id, () => new IngestRequest(DocumentFormats.Detect(path, null)
                        ?? throw new CliException($"unsupported file type; supported: {string.Join(", ", DocumentFormats.Supported)}, and .npy or .jsonl vectors"),
                        File.ReadAllBytes(path), tags, Path.GetFileName(path)));
            }
        }
        var submitted = new List<(string Path, string Id)>();
        var resent = new List<string>();
        var sw = Stopwatch.StartNew();
        var progress = new IngestProgress(total);
        var interactive = AnsiConsole.Profile.Capabilities.Interactive;
        await AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var send = ctx.AddTask("submitting", maxValue: Math.Max(1, total));
                var index = ctx.AddTask("indexing", maxValue: Math.Max(1, total));
                var submitting = true;
                // Statuses are followed while later batches are still being sent, so the rates are live from the start.
                var follow = Task.Run(async () =>
                {
                    var waiting = new List<(string Path, string Id)>();
                    var window = new RagCluster.Client.StatusWindow();
                    var taken = 0;
                    Stopwatch? lastLine = null;
                    while (!ct.IsCancellationRequested)
                    {
                        bool more;
                        lock (submitted)
                        {
                            waiting.AddRange(submitted.Skip(taken));
                            taken = submitted.Count;
                            more = submitting;
                        }
                        // The oldest waiting documents, one request a round, as many as have been finishing (see
                        // StatusWindow): asking after every waiting one put thousands of status calls a second on the
                        // cluster doing the indexing.
                        var asked = waiting.Take(window.Size).ToArray();
                        var still = new List<(string, string)>();
                        if (asked.Length > 0)
                        {
                            var statuses = await backend.StatusManyAsync(collection, asked.Select(w => w.Item2).ToList(), ct);
                            for (var i = 0; i < asked.Length; i++)
                            {
                                var st = statuses[i];
                                if (st.Status == DocumentStatuses.Pending) { still.Add(asked[i]); continue; }
                                if (st.Status == DocumentStatuses.Failed) lock (errors) errors.Add((asked[i].Item1, st.Error ?? "failed"));
                                progress.Done(st.ChunkCount);
                                index.Increment(1);
                            }
                        }
                        var windowWaits = !window.Took(asked.Length, asked.Length - still.Count);
                        still.AddRange(waiting.Skip(asked.Length));
                        waiting = still;
                        index.Description = $"indexing {progress.Rates(sw.Elapsed)}";
                        // Without a live terminal (a log, CI), the same figures as a line at the first round and every 5 s
                        // after it: an ingest done within 5 s logged no progress line at all.
                        if (!interactive && lastLine is not { Elapsed.TotalSeconds: < 5 })
                        {
                            Console.WriteLine($"indexing: {progress.Line(sw.Elapsed)}");
                            lastLine = Stopwatch.StartNew();
                        }
                        if (!more && waiting.Count == 0) break;
                        if (windowWaits) await Task.Delay(500, ct); // else the next window at once
                    }
                }, ct);
                // Batches of up to 1,000 documents or BatchBytes of content: one request (and one rate-limit token) each.
                var batch = new List<(string Path, string Id, IngestRequest Request)>();
                long batchBytes = 0;
                void Submitted(string path, string id)
                {
                    lock (submitted) submitted.Add((path, id));
                }
                void Failed(string path, string error)
                {
                    lock (errors) errors.Add((path, error));
                    progress.Skipped();
                    index.Increment(1);
                }
                // Documents answered 503 (the whole request, or one document of it) were not kept: exactly those are
                // sent again, after the Retry-After the API gave, up to SendAttempts sends in a row that store none of
                // them, and listed at the end. A send that stores some counts as the first again: a silo whose
                // indexing backlog is full takes documents as fast as it indexes them, however long that takes.
                async Task Flush()
                {
                    if (batch.Count == 0) return;
                    var sending = batch.ToList();
                    for (var attempt = 1; sending.Count > 0; attempt++)
                    {
                        var again = new List<(string Path, string Id, IngestRequest Request)>();
                        var wait = 1;
                        try
                        {
                            var items = await backend.IngestManyAsync(collection, sending.Select(b => (b.Id, b.Request)).ToList(), ct);
                            if (items.Any(item => item.Error is null)) attempt = 1;
                            for (var i = 0; i < sending.Count; i++)
                            {
                                if (items[i].Error is null) Submitted(sending[i].Path, sending[i].Id);
                                else if (items[i].RetryAfter is { } after && attempt < SendAttempts) { again.Add(sending[i]); wait = Math.Max(wait, after); }
                                else Failed(sending[i].Path, items[i].Error!);
                            }
                        }
                        catch (CliUnavailableException e) when (attempt < SendAttempts)
                        {
                            again.AddRange(sending);
                            wait = e.RetryAfter;
                        }
                        catch (Exception e) when (IsSubmitError(e))
                        {
                            foreach (var b in sending) Failed(b.Path, e.Message);
                        }
                        lock (resent) resent.AddRange(again.Select(a => a.Path));
                        if (again.Count > 0) await Task.Delay(Backoff(wait, attempt), ct);
                        sending = again;
                    }
                    send.Increment(batch.Count);
                    batch.Clear();
                    batchBytes = 0;
                }
                try
                {
                    foreach (var (path, id, load) in Sources())
                    {
                        try
                        {
                            var request = load();
                            var size = request.Content.Length;
                            // (Vectors only travel in batches: their collections take no file uploads.)
                            if (size > BatchBytes && request.Format != OwnVectorChunks.Format)
                            {
                                // Too big to share a JSON body (base64 grows it by a third): its own multipart upload.
                                for (var attempt = 1; ; attempt++)
                                {
                                    try
                                    {
                                        await backend.IngestAsync(collection, id, request, ct);
                                        break;
                                    }
                                    catch (CliUnavailableException e) when (attempt < SendAttempts)
                                    {
                                        lock (resent) resent.Add(path);
                                        await Task.Delay(Backoff(e.RetryAfter, attempt), ct);
                                    }
                                }
                                Submitted(path, id);
                                send.Increment(1);
                                continue;
                            }
                            if (batch.Count == MaxBatch || batchBytes + size > BatchBytes) await Flush();
                            batch.Add((path, id, request));
                            batchBytes += size;
                        }
                        catch (Exception e) when (IsSubmitError(e))
                        {
                            Failed(path, e.Message);
                            send.Increment(1);
                        }
                    }
                    await Flush();
                }
                finally
                {
                    lock (submitted) submitting = false;
                }
                await follow;
            });
        var ok = submitted.Count - errors.Count(e => submitted.Any(s => s.Path == e.Item1));
        Console.WriteLine($"{ok} of {total + paths.Count(p => !File.Exists(p) && !Directory.Exists(p))} indexed into '{collection}' in {sw.Elapsed.TotalSeconds:F1} s ({progress.Rates(sw.Elapsed, eta: false)})");
        if (resent.Count > 0)
        {
            // A document may be sent again more than once; each is listed once.
            var distinct = resent.Distinct().ToList();
            Console.WriteLine($"{distinct.Count} document(s) answered 503 (not stored) were sent again ({resent.Count} resends):");
            foreach (var path in distinct) Console.WriteLine($"  resent: {path}");
        }
        foreach (var (path, error) in errors) Console.Error.WriteLine($"  failed: {path}: {error}");
        return errors.Count == 0 ? 0 : 1;
    }

    public static async Task<int> Search(IRagBackend backend, string collection, string query, int topK, string? plan, string? filter,
        (string? GroupBy, int? GroupSize, double? MinScore, int? Offset, string? Fusion, double? Alpha) shape, CancellationToken ct)
    {
        CheckFilter(filter);
        var r = await backend.SearchAsync(collection, new SearchRequest(query, topK, filter, plan)
            { GroupBy = shape.GroupBy, GroupSize = shape.GroupSize, ScoreThreshold = shape.MinScore, Offset = shape.Offset, Fusion = shape.Fusion, Alpha = shape.Alpha }, ct);
        Console.WriteLine($"plan {r.Plan}{(r.Cached ? " (cached)" : "")}, {r.ElapsedMs:F1} ms");
        var i = shape.Offset ?? 0;
        if (r.Groups is { } groups)
            foreach (var g in groups)
            {
                Console.WriteLine($"{++i,3}. {g.Score,8:F4}  {g.DocumentId}");
                foreach (var h in g.Hits) Console.WriteLine($"     {h.Score,8:F4}  [{h.Start}..{h.End}]  {OneLine(h.Text, 100)}");
            }
        else
            foreach (var h in r.Hits)
                Console.WriteLine($"{++i,3}. {h.Score,8:F4}  {h.DocumentId} [{h.Start}..{h.End}]  {OneLine(h.Text, 100)}");
        return 0;
    }

    /// <summary>One question, or with <paramref name="chat"/> a conversation: each further line of standard input is a follow-up (until an empty line or its end).</summary>
    public static async Task<int> Ask(IRagBackend backend, string collection, string question, int topK, string? filter, CancellationToken ct, bool chat = false)
    {
        CheckFilter(filter);
        var turns = new List<(string Question, string Answer)>();
        for (string? next = question; !string.IsNullOrWhiteSpace(next); next = chat ? Console.ReadLine() : null)
        {
            if (next.Length > QueryLimits.MaxQueryChars) throw new CliException($"a question is 1..{QueryLimits.MaxQueryChars} characters");
            var (answer, citations, plan) = await backend.AskAsync(collection, next, topK, filter, ct, turns);
            Console.WriteLine(answer);
            Console.WriteLine();
            foreach (var c in citations) Console.WriteLine($"[{c.Number}] {c.DocumentId} chars {c.Start}..{c.End} (score {c.Score:F4})");
            Console.WriteLine($"plan: {plan}");
            turns.Add((next, answer));
            if (turns.Count > QueryLimits.DefaultHistoryTurns) turns.RemoveAt(0); // the API's default bound on history
            if (chat) Console.WriteLine();
        }
        return 0;
    }

    public static async Task<int> Status(IRagBackend backend, string collection, string? documentId, CancellationToken ct)
    {
        Console.WriteLine(backend.Describe());
        if (documentId is not null)
        {
            var s = await backend.StatusAsync(collection, documentId, ct);
            Console.WriteLine($"{collection}/{documentId}: {s.Status}, version {s.Version}, {s.ChunkCount} chunks{(s.Error is null ? "" : ", error: " + s.Error)}");
            return DocumentStatuses.IsGone(s.Status) ? 1 : 0;
        }
        var info = await backend.CollectionAsync(collection, ct);
        var resharding = info.Resharding is { } r ? $" (resharding to {r.ShardCount}: {r.OldShardsCopied} of {r.OldShards} old shards copied, {r.ChunksCopied} chunks)" : "";
        var documents = info.DocumentCount < 0 ? "documents not counted for this key (access field)" : $"{info.DocumentCount} documents";
        Console.WriteLine($"{collection}: {documents}, {info.Settings.ShardCount} shards{resharding}, version {info.Version}, chunks of {info.Settings.ChunkMaxTokens} tokens");
        return 0;
    }

    public static async Task<int> Drop(IRagBackend backend, string collection, CancellationToken ct)
    {
        await backend.DropCollectionAsync(collection, ct);
        Console.WriteLine($"deleted collection '{collection}' with its documents and chunks");
        return 0;
    }

    public static async Task<int> Backup(IRagBackend backend, string collection, string file, CancellationToken ct)
    {
        var s = await backend.BackupAsync(collection, file, ct);
        Console.WriteLine($"backed up '{collection}': {s.Documents} documents, {s.Chunks} chunks -> {file} ({new FileInfo(file).Length:N0} bytes, checksums verified)");
        if (s.Skipped.Length > 0) Console.WriteLine($"  left out (changing during the backup): {string.Join(", ", s.Skipped)}");
        return 0;
    }

    public static async Task<int> Restore(IRagBackend backend, string collection, string file, CancellationToken ct)
    {
        if (!File.Exists(file)) throw new CliException($"no such file: {file}");
        var s = await backend.RestoreAsync(collection, file, ct);
        Console.WriteLine($"restored {s.Documents} documents, {s.Chunks} chunks into '{collection}'");
        return 0;
    }

    /// <summary>BEIR evaluation: ingest the corpus, run every query per plan, score document rankings.</summary>
    public static async Task<int> Eval(IRagBackend backend, string collection, string folder, string[] plans, int maxQueries, CancellationToken ct, bool ask = false)
    {
        var corpusPath = Path.Combine(folder, "corpus.jsonl");
        var qrelsPath = Directory.Exists(Path.Combine(folder, "qrels")) ? Directory.EnumerateFiles(Path.Combine(folder, "qrels"), "*.tsv").FirstOrDefault() : null;
        if (!File.Exists(corpusPath) || qrelsPath is null || !File.Exists(Path.Combine(folder, "queries.jsonl")))
            throw new CliException($"{folder} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv)");
        var qrels = new Dictionary<string, Dictionary<string, int>>();
        foreach (var line in File.ReadLines(qrelsPath).Skip(1))
        {
            var f = line.Split('\t');
            if (f.Length < 3 || !int.TryParse(f[2], out var grade) || grade <= 0) continue;
            if (!qrels.TryGetValue(f[0], out var rel)) qrels[f[0]] = rel = [];
            rel[DocumentId(f[1])] = grade;
        }
        var queries = File.ReadLines(Path.Combine(folder, "queries.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (Id: e.GetProperty("_id").GetString()!, Text: e.GetProperty("text").GetString()!)).Where(q => qrels.ContainsKey(q.Id)).ToList();
        if (maxQueries > 0) queries = queries.Take(maxQueries).ToList();

        var ready = await IngestCorpusAsync(backend, collection, corpusPath, ct);
        Console.WriteLine($"corpus: {ready.Documents} documents ready in {ready.Elapsed.TotalSeconds:F1} s; {queries.Count} queries");

        Console.WriteLine("| plan | nDCG@10 | recall@100 | mean ms/query |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var plan in plans)
        {
            double ndcg = 0, recall = 0;
            var qsw = Stopwatch.StartNew();
            foreach (var (qid, text) in queries)
            {
                var r = await backend.SearchAsync(collection, Variant(new SearchRequest(text.Length > QueryLimits.MaxQueryChars ? text[..QueryLimits.MaxQueryChars] : text, 100, null, plan)), ct);
                var ranked = r.Hits.Select(h => h.DocumentId).Distinct().ToList();
                var rel = qrels[qid];
                ndcg += Ndcg(ranked, rel, 10);
                recall += ranked.Take(100).Count(rel.ContainsKey) / (double)rel.Count;
            }
            Console.WriteLine($"| {plan} | {ndcg / queries.Count:F4} | {recall / queries.Count:F4} | {qsw.Elapsed.TotalMilliseconds / queries.Count:F1} |");
        }
        if (ask) await AskEvalAsync(backend, collection, queries, qrels, ct);
        return 0;
    }

    /// <summary>A BEIR corpus.jsonl into the collection (made if missing), waited for until no document is pending; a no-op for documents already there with the same content.</summary>
    private static async Task<(int Documents, TimeSpan Elapsed)> IngestCorpusAsync(IRagBackend backend, string collection, string corpusPath, CancellationToken ct)
    {
        await backend.EnsureCollectionAsync(collection, null, ct);
        var sw = Stopwatch.StartNew();
        var ids = new List<string>();
        // In batches, like `ingest`: a corpus of thousands stays inside the API's rate limit.
        foreach (var chunk in File.ReadLines(corpusPath).Chunk(MaxBatch))
        {
            var documents = chunk.Select(line =>
            {
                var e = JsonDocument.Parse(line).RootElement;
                var body = JsonSerializer.SerializeToUtf8Bytes(new { title = e.TryGetProperty("title", out var t) ? t.GetString() : "", text = e.GetProperty("text").GetString() });
                return (Id: DocumentId(e.GetProperty("_id").GetString()!), Request: new IngestRequest("json", body, [], null));
            }).ToList();
            foreach (var item in await backend.IngestManyAsync(collection, documents, ct))
                if (item.Error is { } error) throw new CliException($"corpus document '{item.Id}': {error}");
            ids.AddRange(documents.Select(d => d.Id));
        }
        foreach (var slice in ids.Chunk(MaxBatch))
            while ((await backend.StatusManyAsync(collection, slice, ct)).Any(s => s.Status == DocumentStatuses.Pending)) await Task.Delay(100, ct);
        return (ids.Count, sw.Elapsed);
    }

    public static double Ndcg(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> relevance, int k)
    {
        double dcg = 0;
        for (var i = 0; i < Math.Min(k, ranked.Count); i++)
            if (relevance.TryGetValue(ranked[i], out var g)) dcg += (Math.Pow(2, g) - 1) / Math.Log2(i + 2);
        var ideal = relevance.Values.OrderDescending().Take(k).Select((g, i) => (Math.Pow(2, g) - 1) / Math.Log2(i + 2)).Sum();
        return ideal == 0 ? 0 : dcg / ideal;
    }

    /// <summary>File paths become document ids of [A-Za-z0-9._-] (folders joined with '_').</summary>
    public static string DocumentId(string relativePath)
    {
        var sb = new StringBuilder();
        foreach (var c in relativePath) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        var id = sb.ToString();
        return id.Length > 200 ? id[^200..] : id;
    }

    private static string OneLine(string s, int max)
    {
        var t = string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return t.Length <= max ? t : t[..(max - 1)] + "…";
    }
}

/// <summary>What `ingest` reports while it runs: documents and chunks per second since it began, and the time left at that pace.</summary>
internal sealed class IngestProgress(int total)
{
    private int _documents, _chunks, _skipped;

    public void Done(int chunks)
    {
        Interlocked.Increment(ref _documents);
        Interlocked.Add(ref _chunks, chunks);
    }

    public void Skipped() => Interlocked.Increment(ref _skipped);

    public string Rates(TimeSpan elapsed, bool eta = true)
    {
        var secs = Math.Max(elapsed.TotalSeconds, 1e-3);
        var docsPerSecond = _documents / secs;
        var text = $"{docsPerSecond:F1} docs/s, {_chunks / secs:F1} chunks/s";
        if (!eta) return text;
        var left = total - _documents - _skipped;
        return text + (docsPerSecond > 0 ? $", ETA {Eta(left / docsPerSecond)}" : ", ETA --");
    }

    public string Line(TimeSpan elapsed) => $"{_documents + _skipped} of {total} documents, {Rates(elapsed)}";

    private static string Eta(double seconds) => seconds < 1 ? "0s"
        : TimeSpan.FromSeconds(Math.Ceiling(seconds)) is var t && t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m"
        : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
}

