using System.Text.Json;

namespace RagCluster.Client;

/// <summary>Where a bulk load is: documents read and sent, accepted, refused for good, and sends repeated after a Retry-After.</summary>
public sealed record BulkProgress(int Submitted, int Accepted, int Rejected, int Retried);

/// <summary>A bulk load's end: how many documents the API accepted, and each refused one with its reason.</summary>
public sealed record BulkResult(int Accepted, IReadOnlyList<BatchItem> Rejected);

/// <summary>Where waiting for indexing is: documents asked about, settled (indexed, failed or not found), and still pending.</summary>
public sealed record IndexingProgress(int Documents, int Indexed, int Failed, int Pending);

public sealed partial class RagClusterClient
{
    /// <inheritdoc cref="IngestManyAsync(string, IAsyncEnumerable{DocumentInput}, IProgress{BulkProgress}?, BulkOptions?, CancellationToken)"/>
    public Task<BulkResult> IngestManyAsync(string collection, IEnumerable<DocumentInput> documents, IProgress<BulkProgress>? progress = null,
        BulkOptions? options = null, CancellationToken ct = default) => IngestManyAsync(collection, documents.ToAsyncEnumerable(), progress, options, ct);

    /// <summary>
    /// Loads any number of documents, read as they come, in batch requests of <see cref="BulkOptions.BatchSize"/> and
    /// <see cref="BulkOptions.MaxBatchBytes"/>. Documents the API refuses for now (its backlog is full; nothing of them
    /// was kept) are sent again after the Retry-After it named; documents refused for good (a bad id, a bad file) are
    /// in the result with their reasons. Progress is reported after every request; cancellation stops between requests
    /// (what was accepted stays accepted).
    /// </summary>
    public async Task<BulkResult> IngestManyAsync(string collection, IAsyncEnumerable<DocumentInput> documents, IProgress<BulkProgress>? progress = null,
        BulkOptions? options = null, CancellationToken ct = default)
    {
        options ??= new BulkOptions();
        if (options.BatchSize is < 1 or > MaxBatchDocuments) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be 1..{MaxBatchDocuments}");
        int submitted = 0, accepted = 0, retried = 0;
        var rejected = new List<BatchItem>();
        var batch = new List<DocumentInput>();
        long batchBytes = 0;

        async Task FlushAsync()
        {
            var pending = batch.ToList();
            batch.Clear();
            batchBytes = 0;
            for (var attempt = 0; pending.Count > 0; attempt++)
            {
                var reply = await IngestBatchAsync(collection, pending, ct).ConfigureAwait(false);
                var again = new List<DocumentInput>();
                TimeSpan wait = TimeSpan.Zero;
                for (var i = 0; i < reply.Documents.Length; i++)
                {
                    var item = reply.Documents[i];
                    if (item.Error is null) accepted++;
                    else if (item.Error.RetryAfter is { } seconds && attempt < options.MaxRetriesPerDocument)
                    {
                        again.Add(pending[i]);
                        wait = TimeSpan.FromSeconds(Math.Max(wait.TotalSeconds, seconds));
                    }
                    else rejected.Add(item);
                }
                progress?.Report(new BulkProgress(submitted, accepted, rejected.Count, retried));
                if (again.Count == 0) break;
                retried += again.Count;
                await Task.Delay(wait, ct).ConfigureAwait(false);
                pending = again;
            }
        }

        await foreach (var document in documents.WithCancellation(ct).ConfigureAwait(false))
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(document, Json).LongLength;
            if (batch.Count > 0 && (batch.Count >= options.BatchSize || batchBytes + bytes > options.MaxBatchBytes)) await FlushAsync().ConfigureAwait(false);
            batch.Add(document);
            batchBytes += bytes;
            submitted++;
        }
        if (batch.Count > 0) await FlushAsync().ConfigureAwait(false);
        return new BulkResult(accepted, rejected);
    }

    /// <summary>
    /// Waits until every one of <paramref name="ids"/> has settled (indexed, failed or not found), asking for their
    /// statuses 1,000 at a time every <paramref name="pollInterval"/> (default 500 ms); returns the last status of each.
    /// Cancel it to stop waiting (a timeout, say): the documents go on being indexed.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, DocumentStatusReply>> WaitForIndexedAsync(string collection, IEnumerable<string> ids,
        IProgress<IndexingProgress>? progress = null, TimeSpan? pollInterval = null, CancellationToken ct = default)
    {
        var last = new Dictionary<string, DocumentStatusReply>(StringComparer.Ordinal);
        var waiting = ids.Distinct(StringComparer.Ordinal).ToList();
        var total = waiting.Count;
        while (true)
        {
            var still = new List<string>();
            foreach (var page in waiting.Chunk(1000))
                foreach (var status in await GetDocumentStatusesAsync(collection, page, ct).ConfigureAwait(false))
                {
                    last[status.DocumentId] = status;
                    if (status.Status is "accepted" or "pending") still.Add(status.DocumentId);
                }
            waiting = still;
            progress?.Report(new IndexingProgress(total, last.Values.Count(s => s.Status == "indexed"), last.Values.Count(s => s.Status == "failed"), waiting.Count));
            if (waiting.Count == 0) return last;
            await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
        }
    }
}
