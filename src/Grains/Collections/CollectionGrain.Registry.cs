using RagCluster.Storage.GrainRows;

namespace RagCluster.Grains.Collections;

// The registry writer: changes to the head and the document rows queue and share one store write a turn.
public sealed partial class CollectionGrain
{
    /// <summary>
    /// The row changes of one batch of changes, one per set and key (the last wins). A change records into its own
    /// list, merged only if it returns, so a change refused by its check leaves nothing behind.
    /// </summary>
    private sealed class RowEdits
    {
        private readonly Dictionary<(string Set, string Key), RowChange> _batch;
        private readonly Dictionary<(string Set, string Key), byte[]> _stored;
        private readonly List<RowChange> _mine = [];

        public RowEdits(Dictionary<(string, string), RowChange> batch, Dictionary<(string, string), byte[]> stored) => (_batch, _stored) = (batch, stored);

        /// <summary>
        /// The row as this batch leaves it so far (this change's edits included), or as stored: only rows the change named
        /// when it was queued were read (null: no such row).
        /// </summary>
        public byte[]? Read(string set, string key)
        {
            for (var i = _mine.Count - 1; i >= 0; i--)
                if (_mine[i].Set == set && _mine[i].Key == key && _mine[i].OnlyIf is null) return _mine[i].Value;
            var stored = _stored.GetValueOrDefault((set, key));
            if (!_batch.TryGetValue((set, key), out var earlier)) return stored;
            if (earlier.OnlyIf is null) return earlier.Value;
            // A conditional delete earlier in the batch removes the row if it still holds that value.
            return stored is not null && stored.AsSpan().SequenceEqual(earlier.OnlyIf) ? null : stored;
        }

        public void Put(string set, string key, byte[] value) => _mine.Add(new RowChange(set, key, value));
        public void Delete(string set, string key) => _mine.Add(new RowChange(set, key, null));

        /// <summary>Deletes the row only if it still holds <paramref name="value"/>, in storage or in this batch.</summary>
        public void DeleteIf(string set, string key, byte[] value)
        {
            if (_batch.TryGetValue((set, key), out var earlier))
            {
                if (earlier.Value is not null && earlier.Value.AsSpan().SequenceEqual(value)) _mine.Add(new RowChange(set, key, null));
                return; // put with another value, or deleted already
            }
            _mine.Add(new RowChange(set, key, null, OnlyIf: value));
        }

        /// <summary>Whether an earlier change of this batch adds rows to <paramref name="set"/> (the stored counts do not show them yet).</summary>
        public bool Adds(string set) => _batch.Values.Any(c => c.Set == set && c.Value is not null);

        public void Commit()
        {
            foreach (var change in _mine) _batch[(change.Set, change.Key)] = change;
        }
    }

    // Group commit: a change that finds no write in flight is written at once; those that arrive while one is in flight
    // share the next, which starts as soon as it ends. So a lone change waits for one transaction, and under a bulk
    // ingest (documents finishing one by one) a write takes everything that queued during the one before.
    // A change refused by its check fails alone; a failed write fails every change in it.
    private readonly List<(Func<CollectionHead, RowEdits, CollectionHead> Change, TaskCompletionSource<long> Done, IReadOnlyList<(string, string)>? Reads)> _queued = [];
    private Task? _writer;

    /// <summary>
    /// Queues a change (which checks before it changes anything) and completes with the version that stored it. The rows
    /// it names in <paramref name="reads"/> are read (in one query a set for the whole batch) before it runs, so it may
    /// decide on them (<see cref="RowEdits.Read"/>): nothing else writes them between that read and this write.
    /// </summary>
    private Task<long> Change(Func<CollectionHead, RowEdits, CollectionHead> change, IReadOnlyList<(string Set, string Key)>? reads = null)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queued.Add((change, done, reads));
        if (_writer is null or { IsCompleted: true }) _writer = WriteQueuedAsync();
        return done.Task;
    }

    private async Task WriteQueuedAsync()
    {
        while (_queued.Count > 0)
        {
            var batch = _queued.ToList();
            _queued.Clear();
            var stored = new Dictionary<(string, string), byte[]>();
            try
            {
                foreach (var set in batch.Where(b => b.Reads is not null).SelectMany(b => b.Reads!).GroupBy(r => r.Item1))
                    foreach (var (key, value) in await rows.ReadAsync(set.Key, set.Select(r => r.Item2).ToList()))
                        stored[(set.Key, key)] = value;
            }
            catch (Exception e)
            {
                foreach (var (_, done, _) in batch) done.TrySetException(e); // nothing written: the next batch may go on
                continue;
            }
            var head = _head;
            var edits = new Dictionary<(string, string), RowChange>();
            var applied = new List<(TaskCompletionSource<long> Done, long Version)>();
            foreach (var (change, done, _) in batch)
            {
                try
                {
                    var mine = new RowEdits(edits, stored);
                    head = change(head, mine) with { Version = head.Version + 1 };
                    mine.Commit();
                    applied.Add((done, head.Version));
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }
            if (applied.Count == 0) continue;
            try
            {
                var gained = await rows.WriteAsync(serializer.SerializeToArray(head), edits.Values.ToList());
                _head = head;
                _documentCount += gained.GetValueOrDefault(Registered);
                _unsettledCount += gained.GetValueOrDefault(Unsettled);
                _retireCount += gained.GetValueOrDefault(RetireSet);
            }
            catch (Exception e)
            {
                // Nothing of this batch is kept in memory, and the activation goes: a write whose connection broke may have
                // committed after all, and the next activation reads which. What queued meanwhile fails too; callers retry.
                this.DeactivateOnIdle();
                foreach (var (done, _) in applied) done.TrySetException(e);
                foreach (var (_, done, _) in _queued) done.TrySetException(e);
                _queued.Clear();
                return;
            }
            foreach (var (done, version) in applied) done.TrySetResult(version);
        }
    }
}
