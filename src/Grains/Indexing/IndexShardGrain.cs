using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Vectors;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// One shard of a collection: an HNSW graph for dense search and a BM25 index for lexical search over the same
/// chunks. Every change is appended to the shard's log before it is applied. Writes are group-committed: changes
/// that arrive while a log write is in flight go out together in the next one, and their vectors join the graph in
/// one bulk insert. The log is folded into a paged snapshot (<see cref="ShardSnapshots"/>) once it holds at least
/// <see cref="SnapshotEvery"/> entries and a quarter of the last snapshot's bytes (<c>Shards:SnapshotAtTailShare</c>; so snapshotting costs O(1) per byte
/// written, not O(shard) per 64 entries), and on deactivation; a reactivation on any silo replays the rest in bulk
/// and never re-embeds.
/// Only the writer loop (<see cref="WriteQueuedAsync"/>) changes the shard, one step at a time. Its long CPU work
/// (linking a bulk insert into the graph, writing a snapshot, compacting deleted nodes) runs on other threads
/// while the grain goes on answering searches, which only read.
/// </summary>
[RendezvousPlacement]
[Reentrant] // the writer loop awaits storage and CPU work; searches interleave with it and only read
public sealed partial class IndexShardGrain([PersistentLog("shard")] IPersistentLog log, IOptions<HnswOptions> hnswSettings, IOptions<ShardOptions> shardSettings, Serializer serializer,
    HomeSilo home, IndexingThreads cpu, ShardLoadOrder loadOrder, IGrainLogStore logStore, ILogger<IndexShardGrain> logger)
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
    private readonly LexicalIndexes _lexical = new();
    private ShardTraits _traits = new([], TermAnalyzer.English, VectorEncoding.Float32, VectorMetric.Cosine); // the collection's, read at activation
    // Set once a reshard replaced this shard: writes and searches are refused so callers re-read the collection's layout.
    private bool _retiring, _retired;
    private HnswIndex? _hnsw;
    private List<int> _nodeToSlot = [];

    private double _activationSeconds;
    private string? _activationSplit;
    // A reload's log tail, linked by the writer loop after activation: since when, and how many vectors.
    private System.Diagnostics.Stopwatch? _tailLinking;
    private int _tailVectors;

    // From the key, once: every search answers with them.
    private int _shardNo, _copyNo;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // At a restart the loads a request waits on go before the wake-up's (ShardLoadOrder): this may wait its turn.
        var turnAsked = System.Diagnostics.Stopwatch.StartNew();
        using var turn = await loadOrder.EnterAsync(this.GetPrimaryKeyString(), cancellationToken);
        var waited = turnAsked.Elapsed.TotalSeconds;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (primaryKey, copy) = ShardLayout.ParseCopy(this.GetPrimaryKeyString());
        (_shardNo, _copyNo) = (int.Parse(primaryKey.AsSpan(primaryKey.LastIndexOf('/') + 1)), copy);
        // A follower copy reads its primary's log without owning it (the primary's epoch stays valid).
        if (copy > 0) _follower = new LogFollower(logStore, GrainId.Create(this.GetGrainId().Type, primaryKey).ToString(), "shard");
        var traits = TraitsAsync();
        var (snapshot, entries) = _follower is not null ? await _follower.ReadAsync(cancellationToken) : await log.ReadAsync(cancellationToken);
        _traits = await traits;
        _lexical.Configure(_traits.TextFields, _traits.Analyzer);
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
        await ApplyAllAsync(entries.Select(e => ShardLogCodec.Decode(e, serializer)).ToList(), activating: true);
        _activationSeconds = started.Elapsed.TotalSeconds;
        _activationSplit = FormattableString.Invariant(
            $"{(waited >= 0.01 ? $"waited {waited:F2} s for its turn, then " : "")}read {read:F2} s, decode {decoded - read:F2} s, rebuild {rebuilt - decoded:F2} s, log tail {_activationSeconds - rebuilt:F2} s");
        if (_hnsw is { Count: > 10_000 } || entries.Count > 1000)
            logger.ShardLoaded(this.GetPrimaryKeyString(), _hnsw?.LiveCount ?? 0, _snapshotBytes >> 20, entries.Count, _activationSeconds, _activationSplit);
        home.Follow(this, MayLeaveAsync); // spread onto silos that join, one copy of a shard at a time
        if (_hnsw is { PendingCount: > 0 } tail)
        {
            (_tailLinking, _tailVectors) = (System.Diagnostics.Stopwatch.StartNew(), tail.PendingCount);
            RunWriter();
        }
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

    private void TailLinked(System.Diagnostics.Stopwatch since)
    {
        _tailLinking = null;
        _activationSplit += FormattableString.Invariant($"; then {_tailVectors} vectors of the tail linked in {since.Elapsed.TotalSeconds:F2} s while serving");
        if (_tailVectors >= 1000) logger.ShardTailLinked(this.GetPrimaryKeyString(), _tailVectors, since.Elapsed.TotalSeconds);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating.Cancel(); // a compaction in progress is dropped; the next activation starts one again if due
        if (_writer is { IsCompleted: false } writer) await writer.ContinueWith(_ => { });
        // Not with nodes left unlinked (a link pass that failed): a snapshot refuses them, and the log still holds their entries.
        if (_follower is null && log.EntriesSinceSnapshot > 0 && _hnsw is not { PendingCount: > 0 }) await TakeSnapshotAsync(cancellationToken);
        _hnsw?.Dispose();
    }
}
