using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Online resharding: the shard count changes while the collection serves. Configure stores the target layout (a new
/// generation of shards, with keys of their own); from then on every write reaches both layouts, and a registration
/// from a writer that missed one is refused, so it writes again (see <see cref="RequireWritten"/>). Meanwhile each old
/// shard is read a page at a time and its chunks are merged into the new shards, where versions decide: a copy of an
/// older version than a write already brought is ignored, and a version's chunks arriving from several old shards add up.
/// When every old shard is copied the collection switches (one stored change that moves its version on, so searches
/// go to the new shards from the next one), and after <see cref="ReshardOptions.RetireAfter"/> the old shards retire.
/// Progress is stored as it goes; a reminder resumes the work after a crash.
/// </summary>
public sealed partial class CollectionGrain
{
    private const string ReshardReminder = "reshard";
    private const string CopiedSet = "reshard-copied", RetireSet = "reshard-retire";
    private readonly CancellationTokenSource _stopping = new();
    private Task? _reshardWork;
    private long _retireCount;
    // Per old shard: the next slot to read (-1: copied in full) and the chunks copied so far.
    private Dictionary<int, (int Cursor, long Copied)> _copied = [];
    private DateTime _progressSaved;

    private ReshardProgress? Progress() => _head.Settings is { ReshardingTo: { } to } s
        ? new ReshardProgress(to.ShardCount, _copied.Values.Count(c => c.Cursor < 0), s.ShardCount, _copied.Values.Sum(c => c.Copied))
        : null;

    /// <summary>A registration counts only if its shard writes reached every layout the collection writes now.</summary>
    private static void RequireWritten(CollectionHead h, int[] wroteLayouts)
    {
        if (h.Settings is not { } s) return;
        if (s.WriteLayouts.All(l => wroteLayouts.Contains(l.Generation))) return;
        throw new ShardLayoutChangedException($"the collection's shards changed (serving generation {s.LayoutGeneration}" +
            (s.ReshardingTo is { } t ? $", building generation {t.Generation}" : "") + "); write again");
    }

    public Task ResumeResharding()
    {
        ResumeReshardWork();
        return Task.CompletedTask;
    }

    private void ResumeReshardWork()
    {
        if (_stopping.IsCancellationRequested || _reshardWork is { IsCompleted: false }) return;
        if (_head.Settings?.ReshardingTo is null && _retireCount == 0) return;
        _reshardWork = ReshardWorkAsync();
    }

    private async Task OnReshardReminderAsync()
    {
        ResumeReshardWork();
        if (_reshardWork is { IsCompleted: false }) return;
        if (_head.Settings?.ReshardingTo is null && _retireCount == 0) await ReminderCalls.UnregisterAsync(this, ReshardReminder);
    }

    private async Task ReshardWorkAsync()
    {
        var key = this.GetPrimaryKeyString();
        try
        {
            await ReminderCalls.Run(() => this.RegisterOrUpdateReminder(ReshardReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)));
            if (_head is { Deleting: false, Settings: { ReshardingTo: { } to } settings }) await CopyAndSwitchAsync(key, settings.Layout, to);
            if (_retireCount > 0)
            {
                await Task.Delay(_reshard.RetireAfter, _stopping.Token);
                await RetireOldShardsAsync();
            }
            if (_head.Settings?.ReshardingTo is null && _retireCount == 0) await ReminderCalls.UnregisterAsync(this, ReshardReminder);
        }
        catch (Exception e) when (_stopping.IsCancellationRequested || e is OperationCanceledException)
        {
            // Deactivating, or the collection moved on (deleted, another change): the next activation or tick decides again.
        }
        catch (Exception e)
        {
            log.ReshardStepFailed(key, e.Message);
            this.RegisterGrainTimer(() => { ResumeReshardWork(); return Task.CompletedTask; },
                new GrainTimerCreationOptions(TimeSpan.FromSeconds(5), Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
    }

    private async Task CopyAndSwitchAsync(string key, ShardLayout from, ShardLayout to)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        _copied = (await rows.PageAsync(CopiedSet, null, 10_000))
            .ToDictionary(r => int.Parse(r.Key, System.Globalization.CultureInfo.InvariantCulture), r => (BitConverter.ToInt32(r.Value), BitConverter.ToInt64(r.Value, 4)));
        log.ReshardCopying(key, from.ShardCount, to.ShardCount, to.Generation, _copied.Values.Sum(c => c.Copied));
        _progressSaved = DateTime.UtcNow;
        using var turns = new SemaphoreSlim(_reshard.ParallelShards);
        await Task.WhenAll(Enumerable.Range(0, from.ShardCount).Select(async shard =>
        {
            await turns.WaitAsync(_stopping.Token);
            try
            {
                await CopyShardAsync(key, from, to, shard);
            }
            finally
            {
                turns.Release();
            }
        }));
        await Change((h, edits) =>
        {
            if (h.Deleting || h.Settings?.ReshardingTo != to) throw new OperationCanceledException("the reshard was overtaken");
            for (var shard = 0; shard < from.ShardCount; shard++) edits.Delete(CopiedSet, Row(shard));
            foreach (var old in from.ShardKeys(key)) edits.Put(RetireSet, old, []);
            return h with { Settings = h.Settings with { ShardCount = to.ShardCount, LayoutGeneration = to.Generation, ReshardingTo = null } };
        });
        log.ReshardDone(key, to.ShardCount, to.Generation, _copied.Values.Sum(c => c.Copied), started.Elapsed.TotalSeconds);
        _copied = [];
    }

    private async Task CopyShardAsync(string key, ShardLayout from, ShardLayout to, int shard)
    {
        var (cursor, copied) = _copied.GetValueOrDefault(shard);
        var source = GrainFactory.GetGrain<IIndexShardGrain>(from.ShardKey(key, shard));
        while (cursor >= 0)
        {
            _stopping.Token.ThrowIfCancellationRequested();
            var page = await source.Export(cursor, _reshard.PageChunks);
            var byShard = new Dictionary<int, Dictionary<string, List<ChunkRecord>>>();
            foreach (var chunk in page.Chunks)
            {
                var target = ShardRouting.ShardOf(chunk.ChunkId, to.ShardCount);
                if (!byShard.TryGetValue(target, out var documents)) byShard[target] = documents = new(StringComparer.Ordinal);
                if (!documents.TryGetValue(chunk.DocumentId, out var chunks)) documents[chunk.DocumentId] = chunks = [];
                chunks.Add(chunk);
            }
            await Task.WhenAll(byShard.Select(t => GrainFactory.GetGrain<IIndexShardGrain>(to.ShardKey(key, t.Key))
                .Merge(t.Value.Select(d => new ShardUpsert(d.Key, page.DocumentVersions[d.Key], d.Value.ToArray())).ToArray())));
            (cursor, copied) = (page.NextCursor, copied + page.Chunks.Length);
            _copied[shard] = (cursor, copied);
            if (DateTime.UtcNow - _progressSaved >= _reshard.ProgressEvery || cursor < 0) await SaveProgressAsync(to);
        }
    }

    private Task SaveProgressAsync(ShardLayout to)
    {
        _progressSaved = DateTime.UtcNow;
        var progress = _copied.ToList();
        return Change((h, edits) =>
        {
            if (h.Deleting || h.Settings?.ReshardingTo != to) throw new OperationCanceledException("the reshard was overtaken");
            foreach (var (shard, (cursor, copied)) in progress)
                edits.Put(CopiedSet, Row(shard), [.. BitConverter.GetBytes(cursor), .. BitConverter.GetBytes(copied)]);
            return h;
        });
    }

    private static string Row(int shard) => shard.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    // Old shards drop their content and refuse further calls; each is forgotten once it has.
    private async Task RetireOldShardsAsync()
    {
        var retired = new List<string>();
        foreach (var batch in (await rows.PageAsync(RetireSet, null, 10_000)).Chunk(16))
            await Task.WhenAll(batch.Select(async row =>
            {
                await GrainFactory.GetGrain<IIndexShardGrain>(row.Key).Retire();
                retired.Add(row.Key);
            }));
        if (retired.Count > 0)
            await Change((h, edits) =>
            {
                foreach (var shard in retired) edits.Delete(RetireSet, shard);
                return h;
            });
    }
}
