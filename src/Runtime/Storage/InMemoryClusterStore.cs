using System.Diagnostics;
using RagCluster.Runtime.Membership;

namespace RagCluster.Runtime.Storage;

/// <summary>Process-local store for tests and single-process clusters. Share one instance between in-process silos.</summary>
public sealed class InMemoryClusterStore : IClusterStore
{
    private readonly Lock _lock = new();
    private long _version;
    private readonly Dictionary<string, (string Address, SiloStatus Status, long Started, long Heartbeat)> _silos = new();
    private readonly Dictionary<GrainId, string> _directory = new();
    private readonly Dictionary<(GrainId, string), StoredState> _states = new();
    private static long Now => Stopwatch.GetTimestamp() * 1000 / Stopwatch.Frequency;

    public Task InitializeAsync(CancellationToken ct = default) => Task.CompletedTask;
    public string Describe() => "in-memory";
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public Task<MembershipSnapshot> ReadAllAsync(CancellationToken ct = default)
    {
        lock (_lock)
        {
            var now = Now;
            var entries = _silos.Select(s => new MembershipEntry(s.Key, s.Value.Address, s.Value.Status, s.Value.Started, now - s.Value.Heartbeat)).ToList();
            return Task.FromResult(new MembershipSnapshot(_version, entries));
        }
    }

    public Task<bool> TryWriteEntryAsync(string siloId, string address, SiloStatus status, long startedMs, long expectedVersion, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (_version != expectedVersion) return Task.FromResult(false);
            _version++;
            var heartbeat = _silos.TryGetValue(siloId, out var existing) ? existing.Heartbeat : Now;
            _silos[siloId] = (address, status, startedMs, heartbeat);
            return Task.FromResult(true);
        }
    }

    public Task HeartbeatAsync(string siloId, CancellationToken ct = default)
    {
        lock (_lock)
            if (_silos.TryGetValue(siloId, out var e)) _silos[siloId] = e with { Heartbeat = Now };
        return Task.CompletedTask;
    }

    public Task PruneDeadAsync(TimeSpan olderThan, CancellationToken ct = default)
    {
        lock (_lock)
            foreach (var (id, e) in _silos.ToList())
                if (e.Status == SiloStatus.Dead && Now - e.Heartbeat > olderThan.TotalMilliseconds) _silos.Remove(id);
        return Task.CompletedTask;
    }

    public Task<string> RegisterAsync(GrainId grain, string siloId, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_directory.TryGetValue(grain, out var holder)) _directory[grain] = holder = siloId;
            return Task.FromResult(holder);
        }
    }

    public Task<bool> TryTakeOverAsync(GrainId grain, string siloId, string previousSiloId, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_directory.TryGetValue(grain, out var holder) || holder != previousSiloId) return Task.FromResult(false);
            _directory[grain] = siloId;
            return Task.FromResult(true);
        }
    }

    public Task UnregisterAsync(GrainId grain, string siloId, CancellationToken ct = default)
    {
        lock (_lock)
            if (_directory.TryGetValue(grain, out var holder) && holder == siloId) _directory.Remove(grain);
        return Task.CompletedTask;
    }

    public Task RemoveSiloAsync(string siloId, CancellationToken ct = default)
    {
        lock (_lock)
            foreach (var (grain, holder) in _directory.ToList())
                if (holder == siloId) _directory.Remove(grain);
        return Task.CompletedTask;
    }

    public Task<StoredState?> ReadAsync(GrainId grain, string stateName, CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult(_states.GetValueOrDefault((grain, stateName)));
    }

    public Task<string> WriteAsync(GrainId grain, string stateName, byte[] data, string? expectedETag, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var current = _states.GetValueOrDefault((grain, stateName));
            if (current?.ETag != expectedETag) throw ETags.Conflict(grain, stateName, expectedETag);
            var etag = ETags.New();
            _states[(grain, stateName)] = new StoredState(data.ToArray(), etag);
            return Task.FromResult(etag);
        }
    }

    public Task ClearAsync(GrainId grain, string stateName, string? expectedETag, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var current = _states.GetValueOrDefault((grain, stateName));
            if (current?.ETag != expectedETag) throw ETags.Conflict(grain, stateName, expectedETag);
            _states.Remove((grain, stateName));
        }
        return Task.CompletedTask;
    }

    private readonly Dictionary<(GrainId, string), SortedDictionary<long, byte[]>> _logs = [];
    private readonly Dictionary<(GrainId, string), (long, byte[])> _snapshots = [];

    public Task<(long Seq, byte[] Data)?> ReadSnapshotAsync(GrainId grain, string logName, CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult<(long, byte[])?>(_snapshots.TryGetValue((grain, logName), out var s) ? s : null);
    }

    public Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(GrainId grain, string logName, long afterSeq, CancellationToken ct = default)
    {
        lock (_lock)
            return Task.FromResult(_logs.TryGetValue((grain, logName), out var log)
                ? log.Where(e => e.Key > afterSeq).Select(e => (e.Key, e.Value)).ToList()
                : []);
    }

    public Task AppendAsync(GrainId grain, string logName, long seq, byte[] data, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_logs.TryGetValue((grain, logName), out var log)) _logs[(grain, logName)] = log = new SortedDictionary<long, byte[]>();
            if (!log.TryAdd(seq, data.ToArray()))
                throw new InconsistentStateException($"log '{logName}' of grain {grain} already has entry {seq}: another activation wrote to it");
        }
        return Task.CompletedTask;
    }

    public Task WriteSnapshotAsync(GrainId grain, string logName, long seq, byte[] data, CancellationToken ct = default)
    {
        lock (_lock)
        {
            _snapshots[(grain, logName)] = (seq, data.ToArray());
            if (_logs.TryGetValue((grain, logName), out var log))
                foreach (var k in log.Keys.Where(k => k <= seq).ToList()) log.Remove(k);
        }
        return Task.CompletedTask;
    }
}
