using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Vectors;
using RagCluster.Metadata;
using RagCluster.Storage.GrainRows;

namespace RagCluster.Grains.Collections;

/// <summary>
/// A collection's settings, document registry and version (which cache keys include). The registry is two row sets
/// (see IPersistentRows), so one change writes a few small rows and nothing the collection does grows with its size:
/// <c>documents</c>, those registered (indexed at least once and not deleted), and <c>unsettled</c>, those accepted and
/// perhaps not yet indexed, with when they were (last) accepted (stored before a document's own state, forgotten when a
/// sweep finds the document settled or when it is deleted: a superset is harmless; a missing id could strand one).
/// Every change, from any caller, is applied in one order and stored, with the head, before its caller hears back, so a
/// drop cannot interleave with a registration, and a failed write leaves nothing in memory.
/// While it has unsettled documents it holds an Orleans reminder, which fires on whichever silo owns it even after every
/// silo restarted: each tick activates those documents, and a pending document resumes indexing when it activates.
/// </summary>
public sealed partial class CollectionGrain(
    [PersistentRows("registry")] IPersistentRows rows, [PersistentState("collection")] IPersistentState<CollectionState> legacy,
    Serializer serializer, IOptions<CollectionDefaults> defaultOptions, IOptions<IngestOptions> ingestOptions, IOptions<ReshardOptions> reshardOptions, IOptions<BackupOptions> backupOptions,
    IClusterMembershipService membership, ILogger<CollectionGrain> log)
    : Grain, ICollectionRegistryGrain, ICollectionRestoreGrain, IRemindable
{
    private readonly CollectionDefaults _defaults = defaultOptions.Value;
    private readonly IngestOptions _ingest = ingestOptions.Value;
    private readonly ReshardOptions _reshard = reshardOptions.Value;
    private readonly BackupOptions _backup = backupOptions.Value;
    private const string SweepReminder = "unsettled-documents";
    private const string Registered = "documents", Unsettled = "unsettled";
    private const int SweepPage = 1024;

    private CollectionHead _head = new(null, 0, false);
    private long _documentCount, _unsettledCount;
    private long _lastAcceptance; // the last acceptance stamp this activation gave (see DocumentsAccepted)

    private CollectionSettings Settings =>
        _head.Settings ?? new CollectionSettings(_defaults.ShardCount, _defaults.ChunkMaxTokens, _defaults.ChunkOverlapTokens);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (head, counts) = await rows.ReadAsync(cancellationToken);
        if (head is not null) _head = serializer.Deserialize<CollectionHead>(head)!;
        _documentCount = counts.GetValueOrDefault(Registered);
        _unsettledCount = counts.GetValueOrDefault(Unsettled);
        _retireCount = counts.GetValueOrDefault(RetireSet);
        // (An old collection's sweep reminder, if it held one, is keyed by the same grain and keeps firing.)
        if (head is null && legacy.RecordExists) await MoveIntoRowsAsync(cancellationToken);
        ResumeReshardWork(); // a reshard (or the retirement of old shards) that a crash or a move interrupted goes on
        WatchRestoreLease(); // a restore whose silo died is given up once its lease lapses
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _stopping.Cancel(); // the copy stops at its next step; the next activation resumes it from the stored progress
        return Task.CompletedTask;
    }

    // A collection stored by an older version: its registry becomes rows in one write, then the old record goes. If the
    // clear fails, the head exists now and the old record is never read again.
    private async Task MoveIntoRowsAsync(CancellationToken cancellationToken)
    {
        var old = legacy.State;
        var head = new CollectionHead(old.Settings, old.Version, old.Deleting);
        var changes = old.Documents.Select(id => new RowChange(Registered, id, []))
            .Concat(old.Unsettled.Select(u => new RowChange(Unsettled, u.Key, Ticks(u.Value)))).ToList();
        var gained = await rows.WriteAsync(serializer.SerializeToArray(head), changes, cancellationToken);
        _head = head;
        _documentCount += gained.GetValueOrDefault(Registered);
        _unsettledCount += gained.GetValueOrDefault(Unsettled);
        log.MovedIntoRows(this.GetPrimaryKeyString(), _documentCount);
        try
        {
            await legacy.ClearStateAsync();
        }
        catch (Exception e)
        {
            log.OldStateStays(this.GetPrimaryKeyString(), e.Message);
        }
    }

    public Task<CollectionInfo> GetInfo() => Task.FromResult(new CollectionInfo(this.GetPrimaryKeyString(), Settings, _head.Version,
        (int)_documentCount) { UnsettledCount = (int)_unsettledCount, Resharding = Progress() });

    public Task<CollectionSettings> GetSettings() => Task.FromResult(Settings);

    public Task<bool> Exists() => Task.FromResult(_head.Settings is not null && _head.RestoringUntil == 0);

    public Task<bool> IsDeleting() => Task.FromResult(_head.Deleting);

    public async Task<DocumentPage> ListDocuments(string? after, int limit)
    {
        if (limit is < 1 or > 10_000) throw new InvalidRequestException("limit must be 1..10000");
        var page = await rows.PageAsync(Registered, after, limit);
        return new DocumentPage(page.Select(r => r.Key).ToArray(), page.Count == limit ? page[^1].Key : null);
    }

    public async Task<CollectionSettings> Create(CollectionSettings settings)
    {
        settings = WithAccessFieldDeclared(settings);
        Validate(settings);
        var created = settings;
        await Change((h, _) =>
        {
            (h, created) = NewIncarnation(h, settings);
            return h;
        });
        return created;
    }

    // A collection created again under a name used before is a new incarnation, on a generation of shards never
    // written: nothing the old one owned (a document in flight, a shard's rows) can reach it. A first one starts at
    // generation 1, whose keys name the shard count, so placement spreads its shards evenly (16 on 4 silos: 4 each;
    // generation 0's bare keys were hashed alone and sat 7, 5, 2 and 2 in the scaling bench).
    private static (CollectionHead Head, CollectionSettings Created) NewIncarnation(CollectionHead h, CollectionSettings settings)
    {
        RequireNoRestore(h);
        if (h.Settings is not null) throw new ConflictException(h.Deleting ? "the collection is being deleted" : "the collection already exists");
        var generation = h.HighestGeneration + 1;
        var created = settings with { LayoutGeneration = generation, ReshardingTo = null, Incarnation = h.Version + 1 };
        return (h with { Settings = created, HighestGeneration = generation, Held = null }, created);
    }

    public async Task<CollectionSettings> Configure(CollectionSettings settings)
    {
        settings = WithAccessFieldDeclared(settings);
        Validate(settings);
        CollectionSettings? configured = null;
        var replicationBefore = Settings.ReplicationFactor;
        if (settings.ReplicationFactor != replicationBefore && CollectionCreationGrain.CopiesProblem(settings.ReplicationFactor, membership) is { } tooMany) throw tooMany;
        await Change((h, edits) =>
        {
            if (h.Deleting) throw new CollectionGoneException("the collection is being deleted");
            RequireNoRestore(h);
            var current = h.Settings ?? Settings;
            if (settings.Dimensions != current.Dimensions)
                throw new ConflictException("dimensions are fixed when a collection is created");
            if (Quantizations.Normalize(settings.Quantization) != Quantizations.Normalize(current.Quantization))
                throw new ConflictException("quantization is fixed when a collection is created");
            if (settings.Flat != current.Flat)
                throw new ConflictException("indexKind is fixed when a collection is created");
            if (VectorMetrics.Parse(settings.Distance) != VectorMetrics.Parse(current.Distance))
                throw new ConflictException("distance is fixed when a collection is created");
            if ((settings.Language ?? TermAnalyzers.English) != (current.Language ?? TermAnalyzers.English))
                throw new ConflictException("language is fixed when a collection is created (its shards' BM25 terms are cut by it); to change it, create a new collection and write its documents again");
            // Shards index a text field's values as documents arrive: one added later would miss the documents already held.
            if (!TagRules.TextFields(settings.Fields).SequenceEqual(TagRules.TextFields(current.Fields)))
                throw new ConflictException("text fields are fixed when a collection is created; to change them, create a new collection and write its documents again");
            if (!(settings.GraphLinks ?? []).Order(StringComparer.Ordinal).SequenceEqual((current.GraphLinks ?? []).Order(StringComparer.Ordinal)))
                throw new ConflictException("graphLinks are fixed when a collection is created (each shard links the values as documents arrive); to change them, create a new collection and write its documents again");
            var next = current with { ChunkMaxTokens = settings.ChunkMaxTokens, ChunkOverlapTokens = settings.ChunkOverlapTokens, ReplicationFactor = settings.ReplicationFactor, Fields = settings.Fields, AccessField = settings.AccessField };
            var wanted = current.ReshardingTo?.ShardCount ?? current.ShardCount;
            if (settings.ShardCount != wanted)
            {
                if (current.ReshardingTo is { } running)
                    throw new ConflictException($"a reshard to {running.ShardCount} shards is in progress; change the count again once it ends");
                var layout = new ShardLayout(Math.Max(h.HighestGeneration, current.LayoutGeneration) + 1, settings.ShardCount);
                h = h with { HighestGeneration = layout.Generation };
                if (_documentCount == 0 && _unsettledCount == 0 && !edits.Adds(Registered) && !edits.Adds(Unsettled))
                {
                    // Nothing to copy: the new layout serves at once; the old shards (which may hold removals) retire.
                    foreach (var key in current.Layout.ShardKeys(this.GetPrimaryKeyString())) edits.Put(RetireSet, key, []);
                    next = next with { ShardCount = layout.ShardCount, LayoutGeneration = layout.Generation };
                }
                else next = next with { ReshardingTo = layout };
            }
            configured = next;
            return h with { Settings = next };
        });
        ResumeReshardWork();
        if (configured!.ReplicationFactor != replicationBefore)
            foreach (var shard in configured.WriteLayouts.SelectMany(l => l.ShardKeys(this.GetPrimaryKeyString())))
                GrainFactory.GetGrain<IIndexShardGrain>(shard).Replicate(configured.ReplicationFactor).Ignore(); // one way; the shards read it again within a minute
        return configured!;
    }

    // A collection that only ever existed implicitly (documents without Create) is deleted too.
    public Task BeginDelete() => Change((h, _) => RequireNoRestore(h) with { Settings = h.Settings ?? (_documentCount > 0 ? Settings : throw new NotFoundException("no such collection")), Deleting = true });

    // The version moves on (every change does) and is never reused: a re-created collection's cache keys cannot meet the old ones.
    // Its shards retire (their rows go, and a write still on its way to one is refused), in the background and after a
    // crash too (the retire set is stored with the drop; see Resharding).
    public async Task Drop()
    {
        await Change((h, edits) =>
        {
            if (_documentCount > 0) throw new ConflictException($"{_documentCount} document(s) remain; delete them first");
            if (h.Settings is { } s)
                foreach (var key in s.WriteLayouts.SelectMany(l => l.ShardKeys(this.GetPrimaryKeyString()))) edits.Put(RetireSet, key, []);
            return h with { Settings = null, Deleting = false, Held = null }; // what failed documents held goes with the collection
        });
        ResumeReshardWork();
    }

    public Task<long> DocumentChanged(string documentId, bool present, int[] wroteLayouts, long incarnation = 0) => Change((h, edits) =>
    {
        if (!present)
        {
            if (!Owns(h, incarnation)) return h; // another creation's document: nothing of it is registered here
            RequireWritten(h, wroteLayouts);
            edits.Delete(Registered, documentId);
            edits.Delete(Unsettled, documentId);
            return Hold(h, edits, documentId, null);
        }
        // Gone before stale: a collection being deleted refuses the registration whatever layout it was written to.
        h = RequireOpen(h, incarnation);
        RequireWritten(h, wroteLayouts);
        // Still unsettled: the document's own "indexed" write comes after this, and a crash may fall between them.
        edits.Put(Registered, documentId, []);
        return h;
    }, present ? null : [.. HeldRows([documentId])]);

    public Task<long> DocumentsAdded(string[] documentIds, int wroteLayout, long incarnation = 0) => Change((h, edits) =>
    {
        h = RequireOpen(h, incarnation);
        RequireWritten(h, [wroteLayout]);
        foreach (var id in documentIds) edits.Put(Registered, id, []);
        return h;
    });

    public async Task<Acceptance> DocumentsAccepted(string[] documentIds, StoredUsage[]? sizes = null)
    {
        // A stamp no other acceptance of this activation shares, so a settled notice never removes a later one's record.
        var stamp = _lastAcceptance = Math.Max(DateTime.UtcNow.Ticks, _lastAcceptance + 1);
        var now = Ticks(stamp);
        var busy = new List<string>();
        var records = new DocumentRecord?[documentIds.Length];
        long floor = 0, incarnation = 0;
        await Change((h, edits) =>
        {
            h = RequireOpen(h);
            (floor, incarnation) = (h.LastBulkVersion, h.Settings!.Incarnation);
            for (var i = 0; i < documentIds.Length; i++)
            {
                var id = documentIds[i];
                records[i] = RegisteredRecord(edits.Read(Registered, id));
                if (BulkMarker(edits.Read(Unsettled, id)) is not null) busy.Add(id); // a bulk write of it is in flight
                else
                {
                    edits.Put(Unsettled, id, now);
                    if (sizes is not null) h = Hold(h, edits, id, sizes[i]);
                }
            }
            return h;
        }, [.. documentIds.SelectMany(id => new[] { (Unsettled, id), (Registered, id) }), .. sizes is null ? [] : HeldRows(documentIds)]);
        if (busy.Count < documentIds.Length) await EnsureSweepReminderAsync();
        return new Acceptance(stamp, busy.ToArray(), records, floor) { Incarnation = incarnation };
    }

    public Task DocumentSettled(string documentId, long[] acceptedAt) => Change((h, edits) =>
    {
        foreach (var at in acceptedAt) edits.DeleteIf(Unsettled, documentId, Ticks(at));
        return h;
    });

    // Documents may register with a collection that was never created (data from before explicit creation): that pins
    // the settings it was indexed with. One that was deleted, or is being deleted, takes none.
    private CollectionHead RequireOpen(CollectionHead h, long incarnation = 0)
    {
        if (h.Deleting || (h.Settings is null && h.Version > 0)) throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' was deleted");
        if (h.RestoringUntil != 0) throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' is being restored and takes no documents until it is");
        if (!Owns(h, incarnation))
            throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' was deleted and created again since the document was accepted");
        return h.Settings is null ? h with { Settings = Settings with { Incarnation = h.Version + 1 } } : h;
    }

    /// <summary>Whether a document accepted by <paramref name="incarnation"/> (0: before incarnations were kept) belongs to this creation of the collection.</summary>
    private static bool Owns(CollectionHead h, long incarnation) => incarnation == 0 || h.Settings is null || h.Settings.Incarnation == incarnation;

    private static void Validate(CollectionSettings settings)
    {
        if (settings.ShardCount is < 1 or > 256) throw new InvalidRequestException("shardCount must be 1..256");
        if (settings.ReplicationFactor > 16) throw new InvalidRequestException("replicationFactor must be 1..16");
        if (settings.ChunkMaxTokens is < 16 or > 8192) throw new InvalidRequestException("chunkMaxTokens must be 16..8192");
        if (settings.ChunkOverlapTokens < 0 || settings.ChunkOverlapTokens >= settings.ChunkMaxTokens / 2)
            throw new InvalidRequestException("chunkOverlapTokens must be 0..chunkMaxTokens/2");
        if (settings.Dimensions is < 0 or > OwnVectorChunks.MaxDimensions)
            throw new InvalidRequestException($"dimensions must be 1..{OwnVectorChunks.MaxDimensions}, or 0 for a collection of text without vectors (filters and BM25)");
        Quantizations.Encoding(settings.Quantization); // throws InvalidRequestException for a value it does not know
        if (settings.IndexKind is not (null or "hnsw" or "flat")) throw new InvalidRequestException("indexKind must be \"hnsw\" (the default) or \"flat\"");
        // int8 shards keep full precision in a file for the few candidates they rescore: a scan of every vector would read it whole.
        if (settings.Flat && Quantizations.Normalize(settings.Quantization) == "int8") throw new InvalidRequestException("indexKind \"flat\" compares float32 vectors; leave quantization out");
        if (TagRules.DeclarationProblem(settings.Fields) is { } badFields) throw new InvalidRequestException(badFields);
        if (TagRules.GraphLinksProblem(settings.GraphLinks, settings.Fields, settings.AccessField) is { } badLinks) throw new InvalidRequestException(badLinks);
        if (TermAnalyzers.Problem(settings.Language) is { } badLanguage) throw new InvalidRequestException(badLanguage);
        // The built-in model's vectors are made for cosine; int8 codes are of unit vectors.
        if (VectorMetrics.Parse(settings.Distance) != VectorMetric.Cosine && settings.Dimensions is null)
            throw new InvalidRequestException("distance \"dot\" or \"l2\" is for collections of own vectors (give dimensions); the built-in model's vectors compare by cosine");
        if (VectorMetrics.Parse(settings.Distance) != VectorMetric.Cosine && Quantizations.Normalize(settings.Quantization) == "int8")
            throw new InvalidRequestException("quantization \"int8\" compares by cosine; leave it out for distance \"dot\" or \"l2\"");
    }

    /// <summary>
    /// The access field declared string[] (so a document's value of another type is refused with a 400 naming it), or
    /// the problem: a name no tag can have, or a field the settings declare with another type.
    /// </summary>
    private static CollectionSettings WithAccessFieldDeclared(CollectionSettings settings)
    {
        if (settings.AccessField is not { } field) return settings;
        if (TagRules.KeyProblem(field) is { } bad) throw new InvalidRequestException("accessField: " + bad);
        var arrays = TagRules.TypeName(TagKind.StringArray);
        if (settings.Fields?.GetValueOrDefault(field) is { } declared && declared != arrays)
            throw new InvalidRequestException($"accessField: '{field}' is declared {declared} in fields; an access field is {arrays} (its documents' groups)");
        return settings with { Fields = new Dictionary<string, string>(settings.Fields ?? [], StringComparer.Ordinal) { [field] = arrays } };
    }

    private static byte[] Ticks(DateTime at) => Ticks(at.Ticks);
    private static byte[] Ticks(long ticks) => BitConverter.GetBytes(ticks);
}
