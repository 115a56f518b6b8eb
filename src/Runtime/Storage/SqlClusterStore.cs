using System.Data;
using System.Data.Common;
using RagCluster.Runtime.Membership;

namespace RagCluster.Runtime.Storage;

/// <summary>
/// The cluster store over ADO.NET. SQLite and PostgreSQL share every statement; a dialect supplies the
/// clock expression and column types. Times come from the store's clock, so silo clocks may disagree.
/// </summary>
public abstract class SqlClusterStore : IClusterStore
{
    protected SqlClusterStore(string clusterId, string serviceId)
    {
        ClusterId = clusterId;
        ServiceId = serviceId;
    }

    public string ClusterId { get; }
    public string ServiceId { get; }

    /// <summary>SQL expression for the store's current time in Unix milliseconds.</summary>
    protected abstract string NowMs { get; }
    protected abstract string BlobType { get; }
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken ct);
    public abstract string Describe();

    /// <summary>A transaction that sees one consistent state of the table without blocking writers.</summary>
    protected virtual async ValueTask<DbTransaction> BeginReadTransactionAsync(DbConnection c, CancellationToken ct) =>
        await c.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    protected string SchemaSql => $"""
        CREATE TABLE IF NOT EXISTS rc_membership_version (cluster_id TEXT PRIMARY KEY, version BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS rc_membership (
            cluster_id TEXT NOT NULL, silo_id TEXT NOT NULL, address TEXT NOT NULL, status INTEGER NOT NULL,
            start_ms BIGINT NOT NULL, heartbeat_ms BIGINT NOT NULL, PRIMARY KEY (cluster_id, silo_id));
        CREATE TABLE IF NOT EXISTS rc_directory (
            cluster_id TEXT NOT NULL, grain_id TEXT NOT NULL, silo_id TEXT NOT NULL, PRIMARY KEY (cluster_id, grain_id));
        CREATE INDEX IF NOT EXISTS rc_directory_by_silo ON rc_directory (cluster_id, silo_id);
        CREATE TABLE IF NOT EXISTS rc_grain_state (
            service_id TEXT NOT NULL, grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, state_name TEXT NOT NULL,
            etag TEXT NOT NULL, data {BlobType} NOT NULL, updated_ms BIGINT NOT NULL,
            PRIMARY KEY (service_id, grain_type, grain_key, state_name));
        CREATE TABLE IF NOT EXISTS rc_grain_log (
            service_id TEXT NOT NULL, grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, log_name TEXT NOT NULL,
            seq BIGINT NOT NULL, data {BlobType} NOT NULL, PRIMARY KEY (service_id, grain_type, grain_key, log_name, seq));
        CREATE TABLE IF NOT EXISTS rc_grain_snapshot (
            service_id TEXT NOT NULL, grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, log_name TEXT NOT NULL,
            seq BIGINT NOT NULL, data {BlobType} NOT NULL, PRIMARY KEY (service_id, grain_type, grain_key, log_name));
        """;

    public virtual async Task InitializeAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, SchemaSql, ct);
        await ExecAsync(c, null, "INSERT INTO rc_membership_version (cluster_id, version) VALUES (@c, 0) ON CONFLICT (cluster_id) DO NOTHING", ct, ("c", ClusterId));
    }

    public async Task<MembershipSnapshot> ReadAllAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await BeginReadTransactionAsync(c, ct);
        var version = Convert.ToInt64(await ScalarAsync(c, tx, "SELECT version FROM rc_membership_version WHERE cluster_id = @c", ct, ("c", ClusterId)) ?? 0L);
        var entries = new List<MembershipEntry>();
        await using (var cmd = Command(c, tx, $"SELECT silo_id, address, status, start_ms, {NowMs} - heartbeat_ms FROM rc_membership WHERE cluster_id = @c", ("c", ClusterId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                entries.Add(new MembershipEntry(reader.GetString(0), reader.GetString(1), (SiloStatus)reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4)));
        await tx.CommitAsync(ct);
        return new MembershipSnapshot(version, entries);
    }

    public async Task<bool> TryWriteEntryAsync(string siloId, string address, SiloStatus status, long startedMs, long expectedVersion, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var bumped = await ExecAsync(c, tx, "UPDATE rc_membership_version SET version = version + 1 WHERE cluster_id = @c AND version = @v", ct,
            ("c", ClusterId), ("v", expectedVersion));
        if (bumped != 1)
        {
            await tx.RollbackAsync(ct);
            return false;
        }
        await ExecAsync(c, tx, $"""
            INSERT INTO rc_membership (cluster_id, silo_id, address, status, start_ms, heartbeat_ms)
            VALUES (@c, @s, @a, @st, @start, {NowMs})
            ON CONFLICT (cluster_id, silo_id) DO UPDATE SET status = excluded.status, address = excluded.address
            """, ct, ("c", ClusterId), ("s", siloId), ("a", address), ("st", (int)status), ("start", startedMs));
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task HeartbeatAsync(string siloId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, $"UPDATE rc_membership SET heartbeat_ms = {NowMs} WHERE cluster_id = @c AND silo_id = @s", ct, ("c", ClusterId), ("s", siloId));
    }

    public async Task PruneDeadAsync(TimeSpan olderThan, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, $"DELETE FROM rc_membership WHERE cluster_id = @c AND status = @dead AND {NowMs} - heartbeat_ms > @age", ct,
            ("c", ClusterId), ("dead", (int)SiloStatus.Dead), ("age", (long)olderThan.TotalMilliseconds));
    }

    public async Task<string> RegisterAsync(GrainId grain, string siloId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        // The no-op update makes RETURNING give the current holder whether or not our insert won.
        return (string)(await ScalarAsync(c, null, """
            INSERT INTO rc_directory (cluster_id, grain_id, silo_id) VALUES (@c, @g, @s)
            ON CONFLICT (cluster_id, grain_id) DO UPDATE SET silo_id = rc_directory.silo_id
            RETURNING silo_id
            """, ct, ("c", ClusterId), ("g", grain.ToString()), ("s", siloId)))!;
    }

    public async Task<bool> TryTakeOverAsync(GrainId grain, string siloId, string previousSiloId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ExecAsync(c, null, "UPDATE rc_directory SET silo_id = @s WHERE cluster_id = @c AND grain_id = @g AND silo_id = @p", ct,
            ("c", ClusterId), ("g", grain.ToString()), ("s", siloId), ("p", previousSiloId)) == 1;
    }

    public async Task UnregisterAsync(GrainId grain, string siloId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, "DELETE FROM rc_directory WHERE cluster_id = @c AND grain_id = @g AND silo_id = @s", ct,
            ("c", ClusterId), ("g", grain.ToString()), ("s", siloId));
    }

    public async Task RemoveSiloAsync(string siloId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, "DELETE FROM rc_directory WHERE cluster_id = @c AND silo_id = @s", ct, ("c", ClusterId), ("s", siloId));
    }

    public async Task<StoredState?> ReadAsync(GrainId grain, string stateName, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = Command(c, null, "SELECT data, etag FROM rc_grain_state WHERE service_id = @sv AND grain_type = @t AND grain_key = @k AND state_name = @n",
            ("sv", ServiceId), ("t", grain.Type), ("k", grain.Key), ("n", stateName));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new StoredState((byte[])reader.GetValue(0), reader.GetString(1)) : null;
    }

    public async Task<string> WriteAsync(GrainId grain, string stateName, byte[] data, string? expectedETag, CancellationToken ct = default)
    {
        var etag = ETags.New();
        await using var c = await OpenAsync(ct);
        var keys = new (string, object?)[] { ("sv", ServiceId), ("t", grain.Type), ("k", grain.Key), ("n", stateName), ("d", data), ("e", etag), ("old", expectedETag) };
        var rows = expectedETag is null
            ? await ExecAsync(c, null, $"""
                INSERT INTO rc_grain_state (service_id, grain_type, grain_key, state_name, etag, data, updated_ms)
                VALUES (@sv, @t, @k, @n, @e, @d, {NowMs}) ON CONFLICT DO NOTHING
                """, ct, keys)
            : await ExecAsync(c, null, $"""
                UPDATE rc_grain_state SET data = @d, etag = @e, updated_ms = {NowMs}
                WHERE service_id = @sv AND grain_type = @t AND grain_key = @k AND state_name = @n AND etag = @old
                """, ct, keys);
        if (rows != 1) throw ETags.Conflict(grain, stateName, expectedETag);
        return etag;
    }

    public async Task ClearAsync(GrainId grain, string stateName, string? expectedETag, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var keys = new (string, object?)[] { ("sv", ServiceId), ("t", grain.Type), ("k", grain.Key), ("n", stateName), ("old", expectedETag) };
        const string where = "service_id = @sv AND grain_type = @t AND grain_key = @k AND state_name = @n";
        if (expectedETag is null)
        {
            // Clearing what we believe absent: fine if it is, a conflict if someone wrote meanwhile.
            if (await ScalarAsync(c, null, $"SELECT etag FROM rc_grain_state WHERE {where}", ct, keys) is not null and not DBNull)
                throw ETags.Conflict(grain, stateName, expectedETag);
            return;
        }
        if (await ExecAsync(c, null, $"DELETE FROM rc_grain_state WHERE {where} AND etag = @old", ct, keys) != 1)
            throw ETags.Conflict(grain, stateName, expectedETag);
    }

    private const string LogWhere = "service_id = @sv AND grain_type = @t AND grain_key = @k AND log_name = @n";

    private (string, object?)[] LogKeys(GrainId grain, string logName, params (string, object?)[] more) =>
        [("sv", ServiceId), ("t", grain.Type), ("k", grain.Key), ("n", logName), .. more];

    public async Task<(long Seq, byte[] Data)?> ReadSnapshotAsync(GrainId grain, string logName, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = Command(c, null, $"SELECT seq, data FROM rc_grain_snapshot WHERE {LogWhere}", LogKeys(grain, logName));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetInt64(0), (byte[])reader.GetValue(1)) : null;
    }

    public async Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(GrainId grain, string logName, long afterSeq, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = Command(c, null, $"SELECT seq, data FROM rc_grain_log WHERE {LogWhere} AND seq > @after ORDER BY seq",
            LogKeys(grain, logName, ("after", afterSeq)));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(long, byte[])>();
        while (await reader.ReadAsync(ct)) list.Add((reader.GetInt64(0), (byte[])reader.GetValue(1)));
        return list;
    }

    public async Task AppendAsync(GrainId grain, string logName, long seq, byte[] data, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await ExecAsync(c, null, """
            INSERT INTO rc_grain_log (service_id, grain_type, grain_key, log_name, seq, data)
            VALUES (@sv, @t, @k, @n, @seq, @d) ON CONFLICT DO NOTHING
            """, ct, LogKeys(grain, logName, ("seq", seq), ("d", data)));
        if (rows != 1) throw new InconsistentStateException($"log '{logName}' of grain {grain} already has entry {seq}: another activation wrote to it");
    }

    public async Task WriteSnapshotAsync(GrainId grain, string logName, long seq, byte[] data, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var keys = LogKeys(grain, logName, ("seq", seq), ("d", data));
        await ExecAsync(c, tx, """
            INSERT INTO rc_grain_snapshot (service_id, grain_type, grain_key, log_name, seq, data) VALUES (@sv, @t, @k, @n, @seq, @d)
            ON CONFLICT (service_id, grain_type, grain_key, log_name) DO UPDATE SET seq = excluded.seq, data = excluded.data
            """, ct, keys);
        await ExecAsync(c, tx, $"DELETE FROM rc_grain_log WHERE {LogWhere} AND seq <= @seq", ct, keys);
        await tx.CommitAsync(ct);
    }

    protected static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in args)
        {
            // Statements share argument lists; bind only the names this one uses.
            if (!UsesParameter(sql, name)) continue;
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    private static bool UsesParameter(string sql, string name)
    {
        for (var i = sql.IndexOf("@" + name, StringComparison.Ordinal); i >= 0; i = sql.IndexOf("@" + name, i + 1, StringComparison.Ordinal))
        {
            var end = i + 1 + name.Length;
            if (end == sql.Length || !(char.IsLetterOrDigit(sql[end]) || sql[end] == '_')) return true;
        }
        return false;
    }

    protected static async Task<int> ExecAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] args)
    {
        await using var cmd = Command(c, tx, sql, args);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    protected static async Task<object?> ScalarAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] args)
    {
        await using var cmd = Command(c, tx, sql, args);
        return await cmd.ExecuteScalarAsync(ct);
    }
}
