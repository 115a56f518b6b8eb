using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// Copies of a shard (the collection's replicationFactor): the primary, keyed as the shard, writes the log; each
/// follower ("shard~1", "shard~2", placed on other silos) loaded the primary's snapshot and log and applies what the
/// primary appends after, pushed with each write and read from storage when it missed some. Nothing new is stored.
/// </summary>
public sealed partial class IndexShardGrain
{
    // How often a primary with followers tells them where its log ends (a follower that is behind, or not active,
    // catches up from storage).
    private static readonly TimeSpan LeaderBeat = TimeSpan.FromSeconds(5);
    // The replication factor comes with each change (Replicate); a primary reads it at activation and then every this
    // many beats (a minute), in case that call was lost. Before, every primary read it every beat, even with no copies.
    private const int BeatsPerFactorRead = 12;
    private int _beats;

    private LogFollower? _follower;
    private readonly List<ShardLogEntry> _followed = [];
    private bool _catchUpDue;
    private DateTime _lastHeard = DateTime.UtcNow;
    private int _copies = 1;

    public Task Follow(long firstSeq, byte[][] entries)
    {
        if (_follower is null || _retired) return Task.CompletedTask; // a primary follows no one
        if (firstSeq < 0)
        {
            // Its primary retired: nothing will read this copy again, so its memory goes now, not when Orleans collects it.
            _followed.Clear();
            this.DeactivateOnIdle();
            return Task.CompletedTask;
        }
        _lastHeard = DateTime.UtcNow;
        if (_follower.Accept(firstSeq, entries) is not { } fresh) _catchUpDue = true;
        else _followed.AddRange(fresh.Select(e => ShardLogCodec.Decode(e, serializer)));
        if (_followed.Count > 0 || _catchUpDue) RunWriter();
        return Task.CompletedTask;
    }

    // A follower that has heard nothing from its primary for Shards:FollowerPoll reads the log itself.
    private void StartFollowing()
    {
        var poll = shardSettings.Value.FollowerPoll;
        this.RegisterGrainTimer(() =>
        {
            if (DateTime.UtcNow - _lastHeard >= poll) { _catchUpDue = true; RunWriter(); }
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(poll, poll) { Interleave = true, KeepAlive = false });
    }

    private void StartLeading() => this.RegisterGrainTimer(async () =>
    {
        if (_beats++ % BeatsPerFactorRead == 0)
        {
            try
            {
                var key = this.GetPrimaryKeyString();
                await Replicate((await GrainFactory.GetGrain<ICollectionGrain>(key[..key.IndexOf('/')]).GetSettings()).ReplicationFactor);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.ReplicationFactorUnread(this.GetPrimaryKeyString(), e.Message);
            }
        }
        PushToFollowers(log.LastSeq + 1, []); // wakes them: one that is behind reads the rest
    }, new GrainTimerCreationOptions(TimeSpan.Zero, LeaderBeat) { Interleave = true, KeepAlive = false });

    public Task Replicate(int copies)
    {
        if (_follower is not null || _retired || copies < 1) return Task.CompletedTask;
        // Copies the collection no longer wants (its factor was lowered) let their memory go; new ones are woken (and so
        // activated and loaded) now, not at their first search.
        for (var copy = copies; copy < _copies; copy++) GrainFactory.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(this.GetPrimaryKeyString(), copy)).Follow(-1, []).Ignore();
        var grown = copies > _copies;
        _copies = copies;
        if (grown) PushToFollowers(log.LastSeq + 1, []);
        return Task.CompletedTask;
    }

    /// <summary>Tells the followers that this primary was retired.</summary>
    private void RetireFollowers() => PushToFollowers(-1, []);

    // One-way: a follower that is slow or gone never holds up a write; it catches up from storage later.
    private void PushToFollowers(long firstSeq, byte[][] entries)
    {
        var key = this.GetPrimaryKeyString();
        for (var copy = 1; copy < _copies; copy++)
            GrainFactory.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(key, copy)).Follow(firstSeq, entries).Ignore();
    }

    // In the writer loop, so that entries apply one batch at a time and never beside a compaction's swap.
    private async Task FollowStepAsync()
    {
        if (_catchUpDue)
        {
            _catchUpDue = false;
            try
            {
                if (await _follower!.ReadNewAsync() is not { } read)
                {
                    // A snapshot dropped entries this copy never had: load again, from that snapshot.
                    logger.CopyBehindSnapshot(this.GetPrimaryKeyString());
                    _followed.Clear();
                    this.DeactivateOnIdle();
                    return;
                }
                _followed.AddRange(read.Select(e => ShardLogCodec.Decode(e, serializer)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.CopyCouldNotReadLog(this.GetPrimaryKeyString(), e.Message);
            }
        }
        if (_followed.Count == 0) return;
        var batch = _followed.ToList();
        _followed.Clear();
        try
        {
            await ApplyAllAsync(batch);
        }
        catch (Exception e)
        {
            // Entries this copy dropped would make it differ from its primary for good: it loads again instead.
            logger.CopyCouldNotApply(e, this.GetPrimaryKeyString());
            this.DeactivateOnIdle();
        }
    }

    public Task<bool> Settled() => Task.FromResult(home.IsHere(this.GetGrainId()));

    /// <summary>
    /// A copy leaves its silo (to its new home, after silos came or went) only while another copy of its shard serves:
    /// the primary once every follower answers, a follower once every lower copy is loaded and at home. A silo's death
    /// moves the copies it held and may move live ones too (each shard's copies sit on distinct silos), and a copy that
    /// moves reloads from the store: two of one shard moving at once would leave it no copy to answer (issue 60).
    /// </summary>
    private async Task<bool> MayLeaveAsync()
    {
        var (shard, copy) = ShardLayout.ParseCopy(this.GetPrimaryKeyString());
        var others = copy == 0 ? Enumerable.Range(1, _copies - 1) : Enumerable.Range(0, copy);
        var asked = others.Select(c => GrainFactory.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(shard, c)).Settled()).ToList();
        try
        {
            var answers = await Task.WhenAll(asked).WaitAsync(SiblingPatience);
            return copy == 0 || answers.All(settled => settled);
        }
        catch (Exception e) when (DocumentRefusal.IsTransient(e)) // a timeout among them
        {
            asked.ForEach(a => a.Ignore());
            return false; // a copy loading, moving or on a dead silo: ask again at the next check
        }
    }

    private static readonly TimeSpan SiblingPatience = TimeSpan.FromSeconds(1);
}
