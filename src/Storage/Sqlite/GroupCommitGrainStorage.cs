using System.Data.Common;
using System.Globalization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace RagCluster.Storage.Sqlite;

/// <summary>
/// Orleans grain storage over the SQLite file's <c>ragcluster_state</c> table (the rows Orleans' ADO.NET provider reads and
/// writes through Schema/Sqlite.sql's statements, keyed, versioned and serialized the same way, so a store written by
/// either reads in the other), with the writes that overlap committed together: the next transaction starts when the
/// previous one ends and takes every write queued meanwhile.
/// Why not Orleans' provider: it commits each write alone, and SQLite has one writer, which a text ingest (two writes
/// a document) then keeps busy while cores idle (docs/benchmarks/choices.md, "Figures behind the code").
/// </summary>
public sealed class GroupCommitGrainStorage(StoreLocation store, string serviceId, IGrainStorageSerializer serializer, IActivatorProvider activators)
    : IGrainStorage
{
    /// <summary>One queued write or clear; <see cref="Done"/> gives the new version, or null when the ETag was stale.</summary>
    private sealed record Pending(string Type, (long N0, long N1, string Key) Id, long? Expected, byte[]? Payload)
    {
        public readonly TaskCompletionSource<long?> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Lock _lock = new();
    private List<Pending> _queue = [];
    private bool _draining;

    /// <summary>Transactions committed so far (tests compare it with the writes they made).</summary>
    public long Commits => Interlocked.Read(ref _commits);
    private long _commits;

    private const string Where = "service_id = @sv AND grain_type = @t AND grain_n0 = @n0 AND grain_n1 = @n1 AND grain_key = @k";

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var c = await store.OpenAsync();
        await using var cmd = Command(c, null, $"SELECT payload, version FROM ragcluster_state WHERE {Where}", stateName, KeyOf(grainId));
        await using var r = await cmd.ExecuteReaderAsync();
        var found = await r.ReadAsync();
        var payload = found && !r.IsDBNull(0) ? (byte[])r.GetValue(0) : null;
        grainState.State = payload is not null ? serializer.Deserialize<T>(new BinaryData(payload)) : activators.GetActivator<T>().Create();
        grainState.ETag = found ? r.GetInt64(1).ToString(CultureInfo.InvariantCulture) : null;
        grainState.RecordExists = payload is not null;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var payload = serializer.Serialize(grainState.State).ToArray();
        grainState.ETag = await CommitAsync(new Pending(stateName, KeyOf(grainId), Version(grainState.ETag), payload), grainId, grainState.ETag);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // As Orleans' provider: a grain that never read its state reads it first; nothing stored, nothing to clear.
        if (!grainState.RecordExists && string.IsNullOrWhiteSpace(grainState.ETag))
        {
            await ReadStateAsync(stateName, grainId, grainState);
            if (grainState.ETag is null) return;
        }
        grainState.ETag = await CommitAsync(new Pending(stateName, KeyOf(grainId), Version(grainState.ETag), null), grainId, grainState.ETag);
        grainState.RecordExists = false;
        grainState.State = activators.GetActivator<T>().Create();
    }

    private async Task<string> CommitAsync(Pending write, GrainId grainId, string? etag)
    {
        bool lead;
        lock (_lock)
        {
            _queue.Add(write);
            lead = !_draining;
            _draining = true;
        }
        if (lead) _ = Task.Run(DrainAsync);
        var version = await write.Done.Task;
        return version?.ToString(CultureInfo.InvariantCulture)
            ?? throw new InconsistentStateException($"Version conflict: state '{write.Type}' of {grainId} was written by another activation since version {etag ?? "(none)"}", etag, (string?)null);
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            List<Pending> group;
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    _draining = false;
                    return;
                }
                group = _queue;
                _queue = [];
            }
            try
            {
                await ApplyAsync(group);
            }
            catch when (group.Count > 1)
            {
                // A failure rolled the whole group back. Each write is tried alone, so one write the database refuses
                // fails by itself, and an unavailable database fails every one of them with its own error.
                foreach (var write in group)
                {
                    try { await ApplyAsync([write]); }
                    catch (Exception e) { write.Done.TrySetException(e); }
                }
            }
            catch (Exception e)
            {
                group[0].Done.TrySetException(e);
            }
        }
    }

    /// <summary>Every write of <paramref name="group"/> in one transaction; each learns its outcome only once it committed.</summary>
    private async Task ApplyAsync(List<Pending> group)
    {
        var versions = new long?[group.Count];
        using (await store.EnterWriteAsync())
        {
            await using var c = await store.OpenAsync();
            await using var tx = await c.BeginTransactionAsync();
            // One command per statement, reused for every write of the group (SQLite keeps it prepared).
            await using var update = Command(c, tx, $"""
                UPDATE ragcluster_state SET payload = @p, version = version + 1, modified_at = datetime('now') WHERE {Where} AND version = @v
                """, "", default, ("p", DBNull.Value), ("v", 0L));
            await using var insert = Command(c, tx, """
                INSERT INTO ragcluster_state (service_id, grain_type, grain_n0, grain_n1, grain_key, payload, version, modified_at)
                VALUES (@sv, @t, @n0, @n1, @k, @p, 1, datetime('now')) ON CONFLICT DO NOTHING
                """, "", default, ("p", DBNull.Value));
            for (var i = 0; i < group.Count; i++)
            {
                var w = group[i];
                var cmd = w.Expected is null ? insert : update;
                Bind(cmd, w.Type, w.Id);
                cmd.Parameters["@p"].Value = (object?)w.Payload ?? DBNull.Value;
                if (w.Expected is { } v) cmd.Parameters["@v"].Value = v;
                // A stale ETag changes no row: that write alone is refused, the others go on.
                versions[i] = await cmd.ExecuteNonQueryAsync() == 1 ? (w.Expected ?? 0) + 1 : null;
            }
            await tx.CommitAsync();
            Interlocked.Increment(ref _commits);
            for (var i = 0; i < group.Count; i++) group[i].Done.TrySetResult(versions[i]);
        }
    }

    private static long? Version(string? etag) =>
        string.IsNullOrWhiteSpace(etag) ? null : long.Parse(etag, CultureInfo.InvariantCulture);

    /// <summary>The key columns as Orleans' ADO.NET provider fills them (its AdoGrainKey): a Guid or integer key with its extension, else the whole key.</summary>
    internal static (long N0, long N1, string Key) KeyOf(GrainId id)
    {
        if (id.TryGetGuidKey(out var guid, out var extension))
        {
            var bytes = guid.ToByteArray();
            return (BitConverter.ToInt64(bytes, 0), BitConverter.ToInt64(bytes, 8), extension ?? "");
        }
        if (id.TryGetIntegerKey(out var integer, out extension)) return (0, integer, extension ?? "");
        return (0, 0, id.Key.ToString());
    }

    private DbCommand Command(DbConnection c, DbTransaction? tx, string sql, string type, (long N0, long N1, string Key) id, params (string Name, object Value)[] more) =>
        GrainSql.Command(c, tx, sql, [("sv", serviceId), ("t", type), ("n0", id.N0), ("n1", id.N1), ("k", id.Key), .. more]);

    private static void Bind(DbCommand cmd, string type, (long N0, long N1, string Key) id)
    {
        cmd.Parameters["@t"].Value = type;
        cmd.Parameters["@n0"].Value = id.N0;
        cmd.Parameters["@n1"].Value = id.N1;
        cmd.Parameters["@k"].Value = id.Key;
    }
}
