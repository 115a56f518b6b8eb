using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;

namespace RagCluster.Grains.Documents;

/// <summary>Many documents submitted at once: the API's batch form and the embedded CLI both store them this way.</summary>
public static class DocumentBatch
{
    /// <summary>
    /// Documents that need no pipeline of their own take a bulk path: one chunk with its vector (<see cref="BulkAsync"/>), or,
    /// given a <paramref name="texts"/> indexer, a small text (<see cref="TextBulkAsync"/>). The rest, and those the
    /// collection sends back (their grain owns them), are stored by their grains (<see cref="ByGrainAsync"/>).
    /// A document whose call fails gets its refusal; the rest of the batch goes on. Given <paramref name="sizes"/>, the
    /// batch first takes its place in the tenant's share, whole (see TenantShare), and each document counts in its
    /// collection's share as it is accepted.
    /// </summary>
    /// <paramref name="writer"/> is the caller, for the access wall: a document whose id holds one it cannot see is refused
    /// (409, <see cref="DocumentWrites.Taken"/>) and nothing of it changes; <see cref="ReadAccess.All"/> for an operator's.
    /// <exception cref="TenantLimitExceededException">The batch would pass a limit of its tenant: nothing of it was accepted.</exception>
    /// <exception cref="IngestBacklogFullException">
    /// <paramref name="slots"/> (this silo's backlog) had no room for the documents that need the grain path within its
    /// admission hold: nothing of the batch was accepted.
    /// </exception>
    public static async Task<(DocumentStatus? Status, DocumentRefusal? Refusal)[]> IngestAsync(IGrainFactory grains, string collectionKey,
        IReadOnlyList<(string Id, IngestRequest Request)> documents, ReadAccess writer, CancellationToken ct, IndexingSlots? slots = null, BulkTextIndexer? texts = null,
        DocumentSizes? sizes = null)
    {
        documents = documents.Select(d => (d.Id, d.Request with { Writer = writer })).ToList();
        var results = new (DocumentStatus?, DocumentRefusal?)[documents.Count];
        var bulk = new List<(int Index, OwnVectorChunk Chunk)>();
        var bulkTexts = new List<(int Index, Extraction.ExtractedText Text)>();
        var extracted = new Extraction.ExtractedText?[documents.Count];
        var byGrain = new List<int>();
        var settings = texts is not null && documents.Any(d => texts.Candidate(d.Request))
            ? await grains.GetGrain<ICollectionGrain>(collectionKey).GetSettings() : null;
        for (var i = 0; i < documents.Count; i++)
        {
            var request = documents[i].Request;
            if (request.Format == OwnVectorChunks.Format && SingleChunk(request.Content) is { } chunk) bulk.Add((i, chunk));
            else if (settings is not null && texts!.Extract(request, settings) is { } text) bulkTexts.Add((i, extracted[i] = text));
            else byGrain.Add(i);
        }
        StoredUsage[]? measured = null;
        var cuts = new DocumentChunks.Cutting?[documents.Count];
        if (sizes is not null && documents.Count > 0)
        {
            settings ??= await grains.GetGrain<ICollectionGrain>(collectionKey).GetSettings();
            if (settings.Dimensions is null) await sizes.TokenizerLoaded.WaitAsync(ct); // awaited here, not blocking a thread in Measure
            var decoded = bulk.ToDictionary(b => b.Index, b => b.Chunk); // decoded once already
            measured = documents.Select((d, i) => decoded.TryGetValue(i, out var one)
                ? new StoredUsage(1, 1, DocumentSizes.Chunk(one.Text, one.Vector))
                : sizes.Measure(d.Request, settings, extracted[i], out cuts[i])).ToArray();
        }
        await using var share = measured is null ? null
            : await TenantShare.ReserveAsync(grains, collectionKey, documents.Select(d => d.Id).ToArray(), measured);
        var waiting = byGrain.Concat(bulkTexts.Select(t => t.Index)).ToList();
        if (slots is not null && waiting.Count > 0 && !await AdmittedAsync(slots, waiting.Count, waiting.Sum(i => (long)documents[i].Request.Content.Length), ct))
            throw new IngestBacklogFullException($"this silo holds {slots.QueuedDocuments} document(s) waiting to be indexed and had no room for " +
                $"{waiting.Count} more within {slots.AdmissionHold.TotalSeconds:0.#} s; nothing of the request was accepted, send it again later");
        if (bulk.Count > 0) byGrain.AddRange(await BulkAsync(grains, collectionKey, documents, bulk, results, measured, ct));
        if (bulkTexts.Count > 0) byGrain.AddRange(await TextBulkAsync(grains, collectionKey, documents, bulkTexts, results, texts!, measured, cuts, ct));
        if (byGrain.Count > 0)
        {
            var grainResults = await ByGrainAsync(grains, collectionKey, byGrain.Select(i => documents[i]).ToList(), ct, measured is null ? null : [.. byGrain.Select(i => measured[i])]);
            for (var k = 0; k < byGrain.Count; k++) results[byGrain[k]] = grainResults[k];
        }
        return results;
    }

    private static async Task<bool> AdmittedAsync(IndexingSlots slots, int count, long bytes, CancellationToken ct)
    {
        var asked = System.Diagnostics.Stopwatch.GetTimestamp();
        var admitted = await slots.WaitForRoomAsync(count, bytes, ct);
        RagMetrics.BatchStep("admission", asked);
        return admitted;
    }

    // Every failure of a document's call is its refusal, but the request's own cancellation (the client went away). A
    // cancelled call inside the cluster (a message that expired before its grain could be placed, after a silo died)
    // is one more transient refusal: answered 500 before.
    private static bool Refusable(Exception e, CancellationToken ct) => e is not OperationCanceledException || !ct.IsCancellationRequested;

    private static OwnVectorChunk? SingleChunk(byte[] content)
    {
        try { return OwnVectorChunks.Decode(content).Chunks is [{ Vector: not null } only] ? only : null; } // a vector-less chunk takes the grain path
        catch (InvalidRequestException) { return null; } // the grain path fails it with the reason
    }

    /// <summary>
    /// One-chunk documents with their vectors: the collection notes them in flight (one registry write) and gives each a
    /// version, each shard takes its share in one call (one log write and one bulk graph insert a shard), and the
    /// collection registers them (one write). Acknowledged here means in the shard's log and registered; the answer is
    /// "indexed". Returns the documents the collection sent to the grain path instead.
    /// </summary>
    private static async Task<List<int>> BulkAsync(IGrainFactory grains, string collectionKey, IReadOnlyList<(string Id, IngestRequest Request)> documents,
        List<(int Index, OwnVectorChunk Chunk)> bulk, (DocumentStatus?, DocumentRefusal?)[] results, StoredUsage[]? sizes, CancellationToken ct)
    {
        var collection = grains.GetGrain<ICollectionRegistryGrain>(collectionKey);
        var toGrain = new List<int>();
        BulkAcceptance acceptance;
        try
        {
            // Checked against the collection here as the grain path checks it where it indexes: a mismatch is the sender's.
            var dimensions = (await collection.GetSettings()).Dimensions;
            bulk = bulk.Where(b =>
            {
                var problem = dimensions is { } d ? OwnVectorChunks.Problem(b.Chunk.Vector!, d) : "cannot be taken: the collection embeds text with the cluster's model";
                if (problem is not null) results[b.Index] = (null, new DocumentRefusal(400, "Invalid document", $"chunk 0's vector {problem}"));
                return problem is null;
            }).ToList();
            if (bulk.Count == 0) return toGrain;
            var asked = System.Diagnostics.Stopwatch.GetTimestamp();
            acceptance = await collection.BeginBulk(bulk.Select(b =>
            {
                var r = documents[b.Index].Request;
                return new BulkEntry(documents[b.Index].Id, DocumentGrain.Hash(r), 1, r.Tags, r.Format) { Size = sizes?[b.Index], Writer = r.Writer };
            }).ToArray());
            RagMetrics.BatchStep("accepting", asked);
        }
        catch (Exception e) when (Refusable(e, ct))
        {
            foreach (var b in bulk) results[b.Index] = (null, DocumentRefusal.Of(e));
            return toGrain;
        }
        var writes = new List<BulkWrite>();
        for (var k = 0; k < bulk.Count; k++)
        {
            var (index, own) = bulk[k];
            var id = documents[index].Id;
            switch (acceptance.Records[k])
            {
                case null when acceptance.Hidden is { } hidden && hidden[k]: results[index] = (null, DocumentRefusal.Of(DocumentWrites.Taken(id))); break;
                case null: toGrain.Add(index); break;
                case var held when acceptance.Unchanged[k]: results[index] = (Status(collectionKey, id, held), null); break;
                case var record:
                    // One chunk, routed by the document's id: an earlier version's chunk sits on the same shard.
                    writes.Add(new BulkWrite(index, id, record, [new ChunkRecord($"{id}#0", id, 0, 0, own.Text.Length, own.Text, [], record.Tags,
                        Vectors.VectorMetrics.Prepared(own.Vector!, acceptance.Settings.Distance))], Replaces: false));
                    break;
            }
        }
        if (writes.Count == 0) return toGrain;
        var stored = await BulkShardWrites.WriteAsync(grains, collectionKey, acceptance.Settings, writes, e => Refusable(e, ct));
        foreach (var w in writes)
            results[w.Index] = stored.GetValueOrDefault(w.Index) is { } e
                ? (null, DocumentRefusal.Of(e))
                : (Status(collectionKey, w.Id, w.Record with { Pending = false }), null);
        return toGrain;
    }

    /// <summary>
    /// Text documents that need no pipeline of their own (small txt, md, html or json; see BulkTextIndexer): the collection
    /// notes them with their content in one registry write, which is the durable acceptance (answer "pending"); this
    /// silo's <paramref name="indexer"/> then chunks, embeds and writes them a batch and a shard at a time. Returns the
    /// documents the collection sent to the grain path instead.
    /// </summary>
    private static async Task<List<int>> TextBulkAsync(IGrainFactory grains, string collectionKey, IReadOnlyList<(string Id, IngestRequest Request)> documents,
        List<(int Index, Extraction.ExtractedText Text)> texts, (DocumentStatus?, DocumentRefusal?)[] results, BulkTextIndexer indexer, StoredUsage[]? sizes, DocumentChunks.Cutting?[] cuts, CancellationToken ct)
    {
        var toGrain = new List<int>();
        BulkAcceptance acceptance;
        try
        {
            var asked = System.Diagnostics.Stopwatch.GetTimestamp();
            acceptance = await grains.GetGrain<ICollectionRegistryGrain>(collectionKey).BeginBulk(texts.Select(t =>
            {
                var r = documents[t.Index].Request;
                return new BulkEntry(documents[t.Index].Id, DocumentGrain.Hash(r), 0, r.Tags, r.Format) { Content = r.Content, Silo = indexer.Silo, Size = sizes?[t.Index], Writer = r.Writer };
            }).ToArray());
            RagMetrics.BatchStep("accepting", asked);
        }
        catch (Exception e) when (Refusable(e, ct))
        {
            foreach (var t in texts) results[t.Index] = (null, DocumentRefusal.Of(e));
            return toGrain;
        }
        var accepted = new List<BulkTextIndexer.Text>();
        for (var k = 0; k < texts.Count; k++)
        {
            var (index, text) = texts[k];
            var id = documents[index].Id;
            // Its chunks, cut to measure it, go to the indexer in place of its text: held once while it waits, cut once.
            var (extractedText, cut) = (cuts[index] is null ? text : null, cuts[index]);
            switch (acceptance.Records[k])
            {
                case null when acceptance.Hidden is { } hidden && hidden[k]: results[index] = (null, DocumentRefusal.Of(DocumentWrites.Taken(id))); break;
                case null: toGrain.Add(index); break;
                case var held when acceptance.Unchanged[k]:
                    results[index] = (Status(collectionKey, id, held), null);
                    // The same text sent again while still pending (its first answer may have been lost before it reached an
                    // indexer): this silo indexes it unless it is doing so already; done twice, it is stored once.
                    if (held.Pending)
                        accepted.Add(new BulkTextIndexer.Text(id, held, documents[index].Request.Content, Replaces: true) { Extracted = extractedText, Cut = cut, Incarnation = acceptance.Settings.Incarnation });
                    break;
                case var record:
                    results[index] = (Status(collectionKey, id, record with { Pending = true }), null);
                    accepted.Add(new BulkTextIndexer.Text(id, record, documents[index].Request.Content, acceptance.Replaces?[k] ?? true)
                        { Extracted = extractedText, Cut = cut, Incarnation = acceptance.Settings.Incarnation });
                    break;
            }
        }
        if (accepted.Count > 0) indexer.Accept(collectionKey, accepted);
        return toGrain;
    }

    /// <summary>
    /// Many documents' statuses: those written in bulk from the collection's registry in one call, the rest from their
    /// grains. (A status poll of a bulk load used to activate every document's grain, each reading its own state and the
    /// registry; the registration of the batches still indexing waited behind those reads.)
    /// </summary>
    public static async Task<DocumentStatus[]> StatusesAsync(IGrainFactory grains, string collectionKey, IReadOnlyList<string> ids)
    {
        var records = await grains.GetGrain<ICollectionRegistryGrain>(collectionKey).BulkRecords(ids.ToArray());
        return await Task.WhenAll(ids.Select((id, i) => records[i] is { } r
            ? Task.FromResult(Status(collectionKey, id, r))
            : grains.Document(collectionKey, id).GetStatus()));
    }

    private static DocumentStatus Status(string collectionKey, string id, DocumentRecord r) =>
        new(collectionKey, id, r.Pending ? DocumentStatuses.Pending : DocumentStatuses.Indexed, r.Version, r.ChunkCount, null, r.ContentHash, r.UpdatedAt) { Tags = r.Tags };

    /// <summary>
    /// The collection notes every document of the batch as accepted in one write (not a transaction per document);
    /// then each document is
    /// stored by its own grain (durably, then indexed in the background), 32 at a time so one batch cannot flood the
    /// store. A document whose call fails gets its refusal; the rest of the batch goes on.
    /// </summary>
    private static async Task<(DocumentStatus? Status, DocumentRefusal? Refusal)[]> ByGrainAsync(IGrainFactory grains, string collectionKey,
        IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct, StoredUsage[]? sizes)
    {
        var results = new (DocumentStatus?, DocumentRefusal?)[documents.Count];
        if (documents.Count == 0) return results;
        Acceptance acceptance;
        try
        {
            acceptance = await grains.GetGrain<ICollectionRegistryGrain>(collectionKey).DocumentsAccepted(documents.Select(d => d.Id).ToArray(), sizes);
        }
        catch (Exception e) when (Refusable(e, ct))
        {
            var refusal = DocumentRefusal.Of(e);
            Array.Fill(results, (null, refusal));
            return results;
        }
        var busy = acceptance.Busy.ToHashSet(StringComparer.Ordinal);
        documents = documents.Select((d, i) => (d.Id, d.Request with
        {
            AcceptedAt = acceptance.Stamp, VersionFloor = acceptance.VersionFloor, RegistryRead = true, Registry = acceptance.Records[i],
            Incarnation = acceptance.Incarnation,
        })).ToList();
        await Parallel.ForEachAsync(Enumerable.Range(0, documents.Count), new ParallelOptions { MaxDegreeOfParallelism = int.Parse(Environment.GetEnvironmentVariable("RC_PAR") ?? "32"), CancellationToken = ct }, async (i, _) =>
        {
            if (busy.Contains(documents[i].Id))
            {
                results[i] = (null, DocumentRefusal.Of(new DocumentBusyException($"document '{documents[i].Id}' is being written by another bulk request; nothing was stored, send it again shortly")));
                return;
            }
            try
            {
                results[i] = (await grains.Document(collectionKey, documents[i].Id).Ingest(documents[i].Request), null);
            }
            catch (Exception e) when (Refusable(e, ct))
            {
                results[i] = (null, DocumentRefusal.Of(e));
            }
        });
        return results;
    }
}
