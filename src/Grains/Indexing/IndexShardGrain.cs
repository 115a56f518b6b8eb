using Microsoft.Extensions.Options;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Vectors;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Errors;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>A change to a shard, as appended to its log.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardLogEntry")]
public sealed record ShardLogEntry(string DocumentId, long Version, ChunkRecord[] Chunks, bool Removed)
{
    /// <summary>Adds to the same version's chunks instead of replacing them (see <see cref="IIndexShardGrain.Merge"/>).</summary>
    [Id(4)] public bool Merge { get; init; }
}

/// <summary>
/// One shard of a collection: an HNSW graph for dense search and a BM25 index for lexical search over the same
/// chunks. Every change is appended to the shard's log before it is applied. Writes are group-committed: changes
/// that arrive while a log write is in flight go out together in the next one, and their vectors join the graph in
/// one bulk insert. The log is folded into a paged snapshot (<see cref="ShardSnapshots"/>) once it holds at least
/// <see cref="SnapshotEvery"/> entries and half the last snapshot's bytes (so snapshotting costs O(1) per byte
/// written, not O(shard) per 64 entries), and on deactivation; a reactivation on any silo replays the rest in bulk
/// and never re-embeds.
/// Only the writer loop (<see cref="WriteQueuedAsync"/>) changes the shard, one step at a time. Its long CPU work
/// (linking a bulk insert into the graph, writing a snapshot, compacting deleted nodes) runs on other threads
/// while the grain goes on answering searches, which only read.
/// </summary>
[RendezvousPlacement]
[Reentrant] // the writer loop awaits storage and CPU work; searches interleave with it and only read
public sealed partial class IndexShardGrain([PersistentLog("shard")] IPersistentLog log, IOptions<HnswOptions> hnswSettings, IOptions<ShardOptions> shardSettings, Serializer serializer,
    HomeSilo home, IndexingThreads cpu, IGrainLogStore logStore, ILogger<IndexShardGrain> logger)
    : Grain, IIndexShardGrain
{
    private const int SnapshotEvery = 64;
    // A shard whose snapshots keep failing refuses writes once its log tail passes this (and twice the last
    // snapshot): the tail is replayed on every activation, so letting it grow would trade an error now for a slow,
    // unbounded restart later.
    private const long MaxTailBytesWithoutSnapshot = 256L << 20;
    private long _snapshotBytes;
    private int _snapshotFailures;
    private string? _lastSnapshotError;
    private DateTime _nextSnapshotAttempt;
    private IGrainTimer? _snapshotRetry;
    private readonly List<(ShardLogEntry Entry, TaskCompletionSource Done)> _queued = [];
    private Task? _writer;
    private Task<(HnswIndex Index, int[] OldNodes)>? _compaction;
    private readonly CancellationTokenSource _deactivating = new();
    // A shard quiet this long with a log tail folds it into a snapshot, so a crash after a load has ended reloads
    // from the snapshot alone: replaying a tail re-links its vectors into the graph, which is most of a reload's time.
    private static readonly TimeSpan IdleSnapshotAfter = TimeSpan.FromSeconds(10);
    private DateTime _lastWrite;
    private bool _idleSnapshotDue;

    private readonly ShardChunks _chunks = new();
    private readonly Dictionary<string, DocumentSlots> _documents = new(StringComparer.Ordinal);
    private readonly Tombstones _tombstones = new(shardSettings.Value.TombstoneRetention, TimeProvider.System);
    private readonly HnswOptions hnswOptions = hnswSettings.Value;
    private Bm25Index _bm25 = new();
    // Set once a reshard replaced this shard: writes and searches are refused so callers re-read the collection's layout.
    private bool _retiring, _retired;
    private HnswIndex? _hnsw;
    private List<int> _nodeToSlot = [];

    private double _activationSeconds;
    private string? _activationSplit;

    // From the key, once: every search answers with them.
    private int _shardNo, _copyNo;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (primaryKey, copy) = ShardLayout.ParseCopy(this.GetPrimaryKeyString());
        (_shardNo, _copyNo) = (int.Parse(primaryKey.AsSpan(primaryKey.LastIndexOf('/') + 1)), copy);
        // A follower copy reads its primary's log without owning it (the primary's epoch stays valid).
        if (copy > 0) _follower = new LogFollower(logStore, GrainId.Create(this.GetGrainId().Type, primaryKey).ToString(), "shard");
        var (snapshot, entries) = _follower is not null ? await _follower.ReadAsync(cancellationToken) : await log.ReadAsync(cancellationToken);
        var (read, decoded, rebuilt) = (started.Elapsed.TotalSeconds, 0.0, 0.0);
        if (snapshot is not null)
        {
            // Seconds of CPU for a large shard: on a thread of its own, not a pool thread the silo's other grains need.
            // Nothing else touches this activation until it has activated.
            await Task.Factory.StartNew(() =>
            {
                var content = ShardSnapshots.Read(snapshot, serializer, hnswOptions);
                decoded = started.Elapsed.TotalSeconds;
                Restore(content);
                rebuilt = started.Elapsed.TotalSeconds;
            }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (_retired) return; // a tombstone: nothing to load, nothing to follow
            _snapshotBytes = snapshot.Sum(p => (long)p.Length);
        }
        else (decoded, rebuilt) = (read, read);
        await ApplyAllAsync(entries.Select(e => serializer.Deserialize<ShardLogEntry>(e)!).ToList(), activating: true);
        _activationSeconds = started.Elapsed.TotalSeconds;
        _activationSplit = FormattableString.Invariant(
            $"read {read:F2} s, decode {decoded - read:F2} s, rebuild {rebuilt - decoded:F2} s, log tail {_activationSeconds - rebuilt:F2} s");
        if (_hnsw is { Count: > 10_000 } || entries.Count > 1000)
            logger.LogInformation("Shard {Shard}: loaded {Vectors} vectors ({SnapshotMiB} MiB snapshot, {Entries} log entries) in {Seconds:F2} s: {Split}",
                this.GetPrimaryKeyString(), _hnsw?.LiveCount ?? 0, _snapshotBytes >> 20, entries.Count, _activationSeconds, _activationSplit);
        home.Follow(this); // spread onto silos that join
        if (_follower is not null) { StartFollowing(); return; }
        StartLeading();
        this.RegisterGrainTimer(() =>
        {
            if (log.EntriesSinceSnapshot > 0 && DateTime.UtcNow - _lastWrite >= IdleSnapshotAfter && _writer is null or { IsCompleted: true })
            {
                _idleSnapshotDue = true;
                RunWriter();
            }
            return Task.CompletedTask;
        }, IdleSnapshotAfter, IdleSnapshotAfter);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating.Cancel(); // a compaction in progress is dropped; the next activation starts one again if due
        if (_writer is { IsCompleted: false } writer) await writer.ContinueWith(_ => { });
        if (_follower is null && log.EntriesSinceSnapshot > 0) await TakeSnapshotAsync(cancellationToken);
        _hnsw?.Dispose();
    }

    public Task Upsert(string documentId, long version, ChunkRecord[] chunks) =>
        IsStale(documentId, version) ? Task.CompletedTask // a retry or an older version arriving late
            : Record([new ShardLogEntry(documentId, version, chunks, Removed: false)]);

    public Task UpsertMany(ShardUpsert[] documents, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Record(documents.Where(d => !IsStale(d.DocumentId, d.Version)).Select(d => new ShardLogEntry(d.DocumentId, d.Version, d.Chunks, Removed: false)).ToList());

    public Task Merge(ShardUpsert[] documents) =>
        Record(documents.Select(d => new ShardLogEntry(d.DocumentId, d.Version, d.Chunks, Removed: false) { Merge = true })
            .Where(e => !IsStale(e)).ToList());

    public Task RemoveDocument(string documentId, long version) =>
        IsStale(documentId, version) ? Task.CompletedTask : Record([new ShardLogEntry(documentId, version, [], Removed: true)]);

    public Task<Dictionary<string, long>> Versions(string[] documentIds)
    {
        var held = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var id in documentIds)
            if (_documents.TryGetValue(id, out var d)) held[id] = d.Version;
            else if (_tombstones.TryGet(id, out var r)) held[id] = r;
        return Task.FromResult(held);
    }

    private bool IsStale(string documentId, long version) =>
        (_documents.TryGetValue(documentId, out var d) && d.Version >= version) ||
        (_tombstones.TryGet(documentId, out var r) && r >= version);

    // A merge of the version held is not stale: it may bring chunks this shard lacks.
    private bool IsStale(ShardLogEntry e) => e.Merge
        ? (_documents.TryGetValue(e.DocumentId, out var d) && d.Version > e.Version) || (_tombstones.TryGet(e.DocumentId, out var r) && r >= e.Version)
        : IsStale(e.DocumentId, e.Version);

    private Task Record(IReadOnlyList<ShardLogEntry> entries)
    {
        if (_retiring || _retired) throw Replaced();
        if (_follower is not null) throw new InvalidRequestException($"{this.GetPrimaryKeyString()} is a follower copy and takes no writes; write to its primary");
        if (entries.Count == 0) return Task.CompletedTask;
        if (_snapshotFailures > 0 && log.BytesSinceSnapshot > Math.Max(MaxTailBytesWithoutSnapshot, 2 * _snapshotBytes))
            throw new StorageUnavailableException($"shard {this.GetPrimaryKeyString()} takes no writes until a snapshot succeeds " +
                $"({_snapshotFailures} failed; its log holds {log.BytesSinceSnapshot >> 20} MiB since the last one): {_lastSnapshotError}");
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var e in entries) _queued.Add((e, done));
        RunWriter();
        return done.Task;
    }

    private void RunWriter()
    {
        if (!_retiring && _writer is null or { IsCompleted: true }) _writer = WriteQueuedAsync();
    }

    private ShardLayoutChangedException Replaced() => new($"shard {this.GetPrimaryKeyString()} was retired (a reshard replaced it, or its collection was deleted); read the collection's layout again");

    public async Task Retire()
    {
        if (_retired) return;
        _retiring = true; // refuses writes from now on, and stops the writer loop from starting again
        _deactivating.Cancel(); // drops a compaction in progress
        if (_writer is { IsCompleted: false } writer) await writer.ContinueWith(_ => { });
        foreach (var (_, done) in _queued) done.TrySetException(Replaced());
        _queued.Clear();
        var tombstone = new ShardContent
        {
            LiveSlots = [], Chunks = [], DocumentVersions = new Dictionary<string, long>(), NodeToSlot = [], Retired = true,
        };
        var bytes = new MemoryStream();
        ShardSnapshots.Write(tombstone, serializer, bytes);
        await log.SnapshotAsync([bytes.ToArray()]); // the log goes with the content
        _chunks.Clear();
        _documents.Clear();
        _tombstones.Clear();
        _nodeToSlot = [];
        _bm25 = new Bm25Index();
        _hnsw?.Dispose();
        _hnsw = null;
        _snapshotBytes = 0;
        _retired = true;
        RetireFollowers();
        logger.LogInformation("Shard {Shard}: retired (a reshard replaced it, or its collection was deleted)", this.GetPrimaryKeyString());
        this.DeactivateOnIdle();
    }

    // The one place the shard changes. Group commit: one log write (one transaction) for everything queued, then one
    // bulk apply; then a snapshot or a compaction step when one is due.
    private async Task WriteQueuedAsync()
    {
        do
        {
            if (_follower is not null) await FollowStepAsync();
            if (_queued.Count > 0)
            {
                var batch = _queued.ToList();
                _queued.Clear();
                try
                {
                    // Two versions of one document in a batch: only the newest is written.
                    var newest = new Dictionary<string, long>(StringComparer.Ordinal);
                    foreach (var (e, _) in batch) newest[e.DocumentId] = Math.Max(newest.GetValueOrDefault(e.DocumentId), e.Version);
                    // One replacement a document, but every merge of its version (each may bring other chunks).
                    var replaced = new HashSet<string>(StringComparer.Ordinal);
                    var fresh = batch.Select(b => b.Entry).Where(e => e.Version == newest[e.DocumentId] && !IsStale(e) && (e.Merge || replaced.Add(e.DocumentId)))
                        .ToList();
                    _lastWrite = DateTime.UtcNow;
                    // Everything that can fail comes before the first change in memory: a vector this shard cannot hold
                    // fails its own write (with the reason, for its document), a new graph's encoding is asked for,
                    // then the entries are made durable. A failure up to here leaves memory as it was, so a retry applies.
                    var refused = Unfit(fresh);
                    if (refused.Count > 0)
                    {
                        foreach (var (e, done) in batch.Where(b => refused.ContainsKey(b.Entry)))
                            done.TrySetException(new InvalidRequestException(refused[e]));
                        fresh.RemoveAll(refused.ContainsKey);
                        batch.RemoveAll(b => refused.ContainsKey(b.Entry));
                    }
                    var encoding = _hnsw is null && fresh.Any(HasVectors) ? await EncodingAsync() : (VectorEncoding?)null;
                    var stored = fresh.Select(e => serializer.SerializeToArray(e)).ToArray();
                    await log.AppendAsync(stored); // durable first: a crash after this replays it
                    await ApplyAllAsync(fresh, encoding: encoding);
                    PushToFollowers(log.LastSeq - stored.Length + 1, stored);
                    foreach (var (_, done) in batch) done.TrySetResult();
                }
                catch (Exception e)
                {
                    foreach (var (_, done) in batch) done.TrySetException(e);
                    if (e is InconsistentStateException) { Fenced(e); return; }
                    continue;
                }
            }
            // Nodes a link pass that failed left out (their entries are durable and applied): linked again before a
            // snapshot, which refuses unlinked nodes. Retried on every round, the idle one included, until it succeeds.
            if (_hnsw is { PendingCount: > 0 } graph)
            {
                try { await cpu.Run(() => graph.LinkPending(cpu.Count, beside: true)); }
                catch (Exception e) { logger.LogWarning("Shard {Shard}: linking {Pending} vector(s) failed, will retry: {Error}", this.GetPrimaryKeyString(), graph.PendingCount, e.Message); }
            }
            if (!await SnapshotIfDueAsync()) return;
            if (_compaction is { IsCompleted: true }) await FinishCompactionAsync();
            else if (_compaction is null) StartCompactionIfDue();
        }
        while (_queued.Count > 0 || (_follower is not null && (_followed.Count > 0 || _catchUpDue)));
    }

    private async Task<bool> SnapshotIfDueAsync()
    {
        if (_follower is not null) return true; // the primary owns the log and its snapshots
        var due = _idleSnapshotDue ? log.EntriesSinceSnapshot > 0 : log.EntriesSinceSnapshot >= SnapshotEvery && log.BytesSinceSnapshot * 2 >= _snapshotBytes;
        _idleSnapshotDue = false;
        if (!due || DateTime.UtcNow < _nextSnapshotAttempt) return true;
        try
        {
            await TakeSnapshotAsync();
            if (_snapshotFailures > 0) logger.LogInformation("Shard {Shard}: a snapshot succeeded after {Failures} failures", this.GetPrimaryKeyString(), _snapshotFailures);
            (_snapshotFailures, _lastSnapshotError, _nextSnapshotAttempt) = (0, null, default);
            return true;
        }
        catch (InconsistentStateException e)
        {
            Fenced(e);
            return false;
        }
        catch (Exception e)
        {
            // The entries are durable, so nothing is lost, but the tail a restart replays keeps growing: say so, and
            // try again after a backoff even if no write comes to trigger it (Record refuses writes past a bound).
            _snapshotFailures++;
            _lastSnapshotError = $"{e.GetType().Name}: {e.Message}";
            var backoff = TimeSpan.FromSeconds(Math.Min(60, 1 << Math.Min(_snapshotFailures - 1, 6)));
            _nextSnapshotAttempt = DateTime.UtcNow + backoff;
            RagMetrics.ShardSnapshotFailures.Add(1);
            logger.LogWarning(e, "Shard {Shard}: snapshot failed ({Failures} in a row; {TailMiB} MiB of log since the last); retrying in {Backoff}",
                this.GetPrimaryKeyString(), _snapshotFailures, log.BytesSinceSnapshot >> 20, backoff);
            _snapshotRetry?.Dispose();
            _snapshotRetry = this.RegisterGrainTimer(() => { RunWriter(); return Task.CompletedTask; }, backoff, Timeout.InfiniteTimeSpan);
            return true;
        }
    }

    // Deleted nodes are compacted away once they are a quarter of the graph: a new graph of the live nodes is built
    // on a thread of its own while this one keeps serving and taking writes; the writer loop then catches it up and swaps.
    private void StartCompactionIfDue()
    {
        if (_hnsw is not { } graph || graph.DeletedCount < Math.Max(hnswOptions.CompactMinDeleted, graph.Count / 4)) return;
        logger.LogInformation("Shard {Shard}: compacting {Deleted} deleted of {Count} graph nodes", this.GetPrimaryKeyString(), graph.DeletedCount, graph.Count);
        var token = _deactivating.Token;
        // Its own thread, one core: a build of minutes must not hold up other shards' inserts queued on the indexing threads.
        _compaction = Task.Factory.StartNew(() => graph.Compacted(1, token), token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _ = WhenCompactedAsync(_compaction);
    }

    private async Task WhenCompactedAsync(Task compaction)
    {
        await compaction.ContinueWith(_ => { }); // resumes in the grain's context
        RunWriter();
    }

    private async Task FinishCompactionAsync()
    {
        var compaction = _compaction!;
        _compaction = null;
        if (!compaction.IsCompletedSuccessfully || _hnsw is not { } old)
        {
            if (compaction.Exception is { } e) logger.LogWarning(e, "Shard {Shard}: compaction failed; the graph keeps its deleted nodes", this.GetPrimaryKeyString());
            if (compaction.IsCompletedSuccessfully) compaction.Result.Index.Dispose();
            return;
        }
        var (index, oldNodes) = compaction.Result;
        // Catch up with what changed while it was built: nodes added since, and nodes deleted since.
        var mapped = new bool[old.Count];
        foreach (var n in oldNodes) mapped[n] = true;
        var added = Enumerable.Range(0, old.Count).Where(n => !mapped[n] && !old.IsDeleted(n)).ToList();
        index.AppendRange(added.Select(n => old.Vector(n).ToArray()).ToList());
        await cpu.Run(() => index.LinkPending(cpu.Count));
        var nodeToSlot = new List<int>(index.Count);
        nodeToSlot.AddRange(oldNodes.Select(n => _nodeToSlot[n]));
        nodeToSlot.AddRange(added.Select(n => _nodeToSlot[n]));
        for (var node = 0; node < oldNodes.Length; node++)
            if (old.IsDeleted(oldNodes[node])) index.Delete(node);
        for (var node = 0; node < nodeToSlot.Count; node++)
            if (!index.IsDeleted(node)) _chunks.SetNode(nodeToSlot[node], node);
        (_hnsw, _nodeToSlot) = (index, nodeToSlot);
        old.Dispose(); // an int8 graph's full-precision file; nothing reads the old graph after the swap (searches run in turns)
        logger.LogInformation("Shard {Shard}: compacted the graph to {Count} nodes", this.GetPrimaryKeyString(), index.Count);
    }

    // Another activation owns the log now: refuse what is queued (callers retry, and reach the owner) and go away.
    private void Fenced(Exception e)
    {
        foreach (var (_, done) in _queued) done.TrySetException(e);
        _queued.Clear();
        this.DeactivateOnIdle();
    }

    // Applies entries in order; their vectors join the graph in one bulk insert at the end. The nodes are appended
    // and mapped to slots here, in the turn, and linked on the silo's indexing threads: a search may find a node as soon as a
    // link to it exists, and then already knows its slot.
    private static bool HasVectors(ShardLogEntry e) => e.Chunks.Any(c => c.Vector is { Length: > 0 });

    /// <summary>
    /// Entries whose vectors this shard cannot hold, with the reason: a dimension other than its graph's (or, with no
    /// graph yet, than the batch's first vector), which the graph would refuse after the entry was already applied.
    /// </summary>
    private Dictionary<ShardLogEntry, string> Unfit(IReadOnlyList<ShardLogEntry> entries)
    {
        var dimensions = _hnsw?.Dimensions ?? entries.SelectMany(e => e.Chunks).FirstOrDefault(c => c.Vector is { Length: > 0 })?.Vector!.Length ?? 0;
        var unfit = new Dictionary<ShardLogEntry, string>(ReferenceEqualityComparer.Instance);
        foreach (var e in entries)
            if (e.Chunks.FirstOrDefault(c => c.Vector is { Length: > 0 } v && v.Length != dimensions) is { } bad)
                unfit[e] = $"chunk {bad.ChunkId} has a vector of {bad.Vector!.Length} dimensions; shard {this.GetPrimaryKeyString()} holds {dimensions}";
        return unfit;
    }

    private async Task ApplyAllAsync(IReadOnlyList<ShardLogEntry> entries, bool activating = false, VectorEncoding? encoding = null)
    {
        // Asked before anything changes (a replay on activation asks here: nothing searches yet, and a failure fails the activation).
        if (_hnsw is null && encoding is null && entries.Any(HasVectors)) encoding = await EncodingAsync();
        var vectors = new List<(int Slot, float[] Vector)>();
        _tombstones.Rotate(); // old tombstones go as writes come, removals or not
        foreach (var entry in entries) Apply(entry, vectors);
        vectors.RemoveAll(v => !_chunks.IsLive(v.Slot)); // replaced again later in the same batch
        if (vectors.Count == 0) return;
        _hnsw ??= new HnswIndex(vectors[0].Vector.Length, hnswOptions, encoding: encoding ?? VectorEncoding.Float32);
        // A replayed log written before writes were checked may still hold one: skipped, and said.
        if (vectors.RemoveAll(v => v.Vector.Length != _hnsw.Dimensions) is > 0 and var skipped)
            logger.LogWarning("Shard {Shard}: {Skipped} vector(s) of another dimension than {Dimensions} skipped", this.GetPrimaryKeyString(), skipped, _hnsw.Dimensions);
        var graph = _hnsw;
        var first = graph.AppendRange(vectors.Select(v => v.Vector).ToList());
        for (var i = 0; i < vectors.Count; i++)
        {
            _nodeToSlot.Add(vectors[i].Slot);
            _chunks.SetNode(vectors[i].Slot, first + i);
        }
        if (vectors.Count < 64) graph.LinkPending(); // a few links: cheaper here than a hop to another thread
        // A log tail replayed on activation: nothing searches yet, and the shard is down until it is linked, so every
        // core, on a thread of its own rather than behind other shards' inserts.
        else if (activating)
            await Task.Factory.StartNew(() => graph.LinkPending(Environment.ProcessorCount), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        else await cpu.Run(() => graph.LinkPending(cpu.Count, beside: true));
    }

    // A new graph takes the collection's quantization; a restored one keeps the encoding its snapshot has.
    private async Task<VectorEncoding> EncodingAsync()
    {
        var key = this.GetPrimaryKeyString();
        var settings = await GrainFactory.GetGrain<ICollectionGrain>(key[..key.IndexOf('/')]).GetSettings();
        return Quantizations.Encoding(settings.Quantization);
    }

    private void Apply(ShardLogEntry entry, List<(int Slot, float[] Vector)> vectors)
    {
        // Checked again against the entries before it in the batch: a merge adds to its version however it arrived; a
        // replacement of a version already held is skipped, as outside a batch.
        if (IsStale(entry)) return;
        if (entry.Merge && _documents.TryGetValue(entry.DocumentId, out var held) && held.Version == entry.Version)
        {
            var have = held.Slots.Select(_chunks.ChunkId).ToHashSet(StringComparer.Ordinal);
            var added = entry.Chunks.Where(c => have.Add(c.ChunkId)).Select(c => AddSlot(entry.DocumentId, c, vectors)).ToList();
            ref var merged = ref _documents.Entry(entry.DocumentId, entry.Version);
            foreach (var slot in added) merged.Add(slot);
            return;
        }
        if (_documents.Remove(entry.DocumentId, out var old))
            foreach (var slot in old.Slots) RemoveSlot(slot);
        if (entry.Removed)
        {
            _tombstones.Set(entry.DocumentId, entry.Version);
            return;
        }
        _tombstones.Remove(entry.DocumentId);
        var slots = new DocumentSlots(entry.Version);
        foreach (var chunk in entry.Chunks) slots.Add(AddSlot(entry.DocumentId, chunk, vectors));
        _documents[entry.DocumentId] = slots;
    }

    private int AddSlot(string documentId, ChunkRecord chunk, List<(int Slot, float[] Vector)> vectors)
    {
        var slot = _chunks.Add(documentId, chunk);
        _bm25.Add(slot, chunk.Text); // a chunk without words costs the lexical index nothing
        if (chunk.Vector is { Length: > 0 } v) vectors.Add((slot, v));
        return slot;
    }

    private void RemoveSlot(int slot)
    {
        _bm25.Remove(slot);
        if (_chunks.NodeOf(slot) is var node and >= 0) _hnsw!.Delete(node);
        _chunks.Remove(slot);
    }

    public Task<ShardResult> Search(ShardQuery query)
    {
        if (_retired) throw Replaced();
        if (query.MinVersions is { Count: > 0 } wanted && wanted.FirstOrDefault(w => !IsStale(w.Key, w.Value)) is { Key: not null } missing)
            throw new NotYetReadableException($"copy {_copyNo} of shard {_shardNo} does not hold document '{missing.Key}' at version {missing.Value} yet");
        var filter = query.Filter;
        Func<int, bool>? acceptSlot = filter.Count == 0 ? null : slot => _chunks.Matches(slot, filter);
        var dense = Array.Empty<ShardHit>();
        var exact = false;
        if (query.Vector is { Length: > 0 } qv && _hnsw is not null && qv.Length == _hnsw.Dimensions && query.K > 0)
        {
            // A selective filter: the few chunks it leaves, compared exactly; a graph smaller than what a walk would
            // measure anyway: every vector, exactly; otherwise the graph walk, skipping what the filter excludes.
            var few = filter.Count == 0 ? null : _chunks.Candidates(filter);
            var threshold = hnswOptions.ExactSearchThreshold;
            var scanAll = few is null && _hnsw.ScanIsCheaperThanWalk(query.K, query.Ef, threshold);
            exact = scanAll || (few is not null && few.Count <= threshold);
            var found = scanAll ? _hnsw.SearchExact(qv, query.K)
                : exact ? _hnsw.SearchExact(qv, query.K, few!.Where(slot => _chunks.Matches(slot, filter)).Select(_chunks.NodeOf).Where(node => node >= 0))
                : _hnsw.Search(qv, query.K, query.Ef, acceptSlot is null ? null : node => acceptSlot(_nodeToSlot[node]));
            dense = found.Select(r => Hit(_nodeToSlot[r.Node], 1f - r.Distance)).ToArray();
        }
        var lexical = string.IsNullOrWhiteSpace(query.Text) || query.K <= 0
            ? []
            : _bm25.Search(query.Text, query.K, acceptSlot).Select(r => Hit(r.Doc, r.Score)).ToArray();
        return Task.FromResult(new ShardResult(_shardNo, dense, lexical) { ExactScan = exact, Copy = _copyNo });
    }

    private ShardHit Hit(int slot, float score) => _chunks.Hit(slot, score);

    public Task<ShardStats> GetStats() => Task.FromResult(new ShardStats(_shardNo, _chunks.LiveCount, _documents.Count,
        _hnsw?.LiveCount ?? 0, _hnsw?.DeletedCount ?? 0, _hnsw?.MemoryBytes ?? 0, log.EntriesSinceSnapshot, RuntimeIdentity)
    {
        SnapshotBytes = _snapshotBytes,
        SnapshotFailures = _snapshotFailures,
        LastSnapshotError = _lastSnapshotError,
        Compacting = _compaction is not null,
        ActivationSeconds = _activationSeconds,
        ActivationSplit = _activationSplit,
        Quantization = _hnsw is null ? null : Quantizations.Name(_hnsw.Encoding),
        Tombstones = _tombstones.Count,
        Copy = _copyNo,
        LogPosition = _follower?.Position ?? log.LastSeq,
    });

    public Task<Dictionary<string, int>> ChunkCounts() =>
        Task.FromResult(_documents.ToDictionary(d => d.Key, d => d.Value.Count, StringComparer.Ordinal));

    public Task<ShardExportPage> Documents(string[] documentIds, bool includeVectors)
    {
        if (documentIds.Length > 1000) throw new ArgumentException("at most 1000 document ids");
        if (_retired) throw Replaced();
        var chunks = new List<ChunkRecord>();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var id in documentIds.Distinct(StringComparer.Ordinal))
        {
            if (!_documents.TryGetValue(id, out var held)) continue;
            versions[id] = held.Version;
            foreach (var slot in held.Slots)
            {
                var node = _chunks.NodeOf(slot);
                chunks.Add(_chunks.Record(slot, includeVectors && node >= 0 ? _hnsw!.Vector(node).ToArray() : null));
            }
        }
        return Task.FromResult(new ShardExportPage(chunks.ToArray(), versions, -1));
    }

    public Task<ShardExportPage> Export(int cursor, int maxChunks)
    {
        if (cursor < 0 || maxChunks is < 1 or > 10_000) throw new ArgumentException("cursor must be >= 0 and maxChunks 1..10000");
        if (_retired) throw Replaced();
        var chunks = new List<ChunkRecord>();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var slot = cursor;
        for (; slot < _chunks.SlotCount && chunks.Count < maxChunks; slot++)
        {
            if (!_chunks.IsLive(slot)) continue;
            var node = _chunks.NodeOf(slot);
            var c = _chunks.Record(slot, node >= 0 ? _hnsw!.Vector(node).ToArray() : null);
            chunks.Add(c);
            versions[c.DocumentId] = _documents[c.DocumentId].Version;
        }
        return Task.FromResult(new ShardExportPage(chunks.ToArray(), versions, slot < _chunks.SlotCount ? slot : -1));
    }

    // Written on an indexing thread while searches read beside it, and stored page by page as it is written;
    // nothing changes the shard meanwhile (the writer loop waits).
    private async Task TakeSnapshotAsync(CancellationToken cancellationToken = default) =>
        _snapshotBytes = await SnapshotPipe.RunAsync(cpu.Run, WriteSnapshot, pages => log.SnapshotAsync(pages, cancellationToken));

    private void WriteSnapshot(Stream output)
    {
        var live = new List<int>(_chunks.LiveCount);
        for (var i = 0; i < _chunks.SlotCount; i++) if (_chunks.IsLive(i)) live.Add(i);
        var versions = _documents.ToDictionary(d => d.Key, d => d.Value.Version, StringComparer.Ordinal);
        foreach (var (doc, v) in _tombstones.All) versions[doc] = -v; // negative: removed at that version
        ShardSnapshots.Write(new ShardContent
        {
            SlotCount = _chunks.SlotCount, LiveSlots = live, Chunks = new LazyList<ChunkRecord>(live.Count, i => _chunks.Record(live[i])),
            DocumentVersions = versions, Graph = _hnsw, NodeToSlot = _nodeToSlot,
        }, serializer, output);
    }

    private void Restore(ShardContent s)
    {
        _retired = s.Retired;
        _chunks.Reserve(s.SlotCount);
        for (var i = 0; i < s.LiveSlots.Count; i++)
        {
            var slot = s.LiveSlots[i];
            var chunk = s.Chunks[i];
            ref var d = ref _documents.Entry(chunk.DocumentId, s.DocumentVersions.GetValueOrDefault(chunk.DocumentId));
            d.Add(slot);
            _chunks.Put(slot, chunk.DocumentId, chunk);
            _bm25.Add(slot, chunk.Text);
        }
        foreach (var (doc, v) in s.DocumentVersions)
        {
            if (v < 0) _tombstones.Set(doc, -v);
            else if (!_documents.ContainsKey(doc)) _documents[doc] = new DocumentSlots(v); // a document with no chunks in this shard
        }
        if (s.Graph is { } graph)
        {
            _hnsw = graph;
            _nodeToSlot.AddRange(s.NodeToSlot);
            for (var node = 0; node < s.NodeToSlot.Count; node++)
                if (!graph.IsDeleted(node)) _chunks.SetNode(s.NodeToSlot[node], node);
        }
    }
}
