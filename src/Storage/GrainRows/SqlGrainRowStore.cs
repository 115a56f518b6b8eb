using System.Data.Common;

namespace RagCluster.Storage.GrainRows;

/// <summary>
/// Grain row sets in the cluster's database (tables from Schema/*.sql), with the statements SQLite and PostgreSQL
/// share. The owner row is grain logs' (ragcluster_log_owner); PostgreSQL locks it (FOR SHARE) while writing, so a
/// claim waits for a write in flight, and a write of an older epoch cannot slip in after a newer owner read.
/// </summary>
public sealed class SqlGrainRowStore(StoreLocation store, string serviceId) : IGrainRowStore
{
    private string ShareLock => store.Kind == StoreKind.PostgreSql ? "FOR SHARE" : "";
    private const string Key = "service_id = @sv AND grain = @g AND name = @n";
    private const string OwnerKey = "service_id = @sv AND grain = @g AND log_name = @n";
    private const int KeysPerStatement = 256;

    public Task<long> ClaimAsync(string grain, string name, CancellationToken ct = default) =>
        GrainSql.ClaimAsync(store, serviceId, grain, name, ct);

    public async Task<byte[]?> ReadHeadAsync(string grain, string name, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, $"SELECT data FROM ragcluster_row_head WHERE {Key}", grain, name);
        return await cmd.ExecuteScalarAsync(ct) as byte[];
    }

    public async Task<Dictionary<string, long>> CountAsync(string grain, string name, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, $"SELECT set_name, count(*) FROM ragcluster_row WHERE {Key} GROUP BY set_name", grain, name);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var counts = new Dictionary<string, long>();
        while (await r.ReadAsync(ct)) counts[r.GetString(0)] = r.GetInt64(1);
        return counts;
    }

    public async Task<List<(string Key, byte[] Value)>> PageAsync(string grain, string name, string set, string? after, int limit, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, $"""
            SELECT row_key, data FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key > @after ORDER BY row_key LIMIT @limit
            """, grain, name, ("s", set), ("after", after ?? ""), ("limit", limit));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<(string, byte[])>();
        while (await r.ReadAsync(ct)) rows.Add((r.GetString(0), (byte[])r.GetValue(1)));
        return rows;
    }

    public async Task<Dictionary<string, byte[]>> ReadAsync(string grain, string name, string set, IReadOnlyCollection<string> keys, CancellationToken ct = default)
    {
        var found = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (keys.Count == 0) return found;
        await using var c = await store.OpenAsync(ct);
        if (store.Kind == StoreKind.PostgreSql)
        {
            // One index seek a key, whatever the planner believes: with "row_key IN (…)" and a registry filled since the
            // last ANALYZE (every bulk load into a new cluster), PostgreSQL read the whole set and filtered it.
            // LIMIT keeps the subquery from being flattened into a join the planner could turn into a scan.
            await using var pg = Command(c, null, $"""
                SELECT r.row_key, r.data FROM unnest(@keys) AS k(key)
                CROSS JOIN LATERAL (SELECT row_key, data FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key = k.key LIMIT 1) AS r
                """, grain, name, ("s", set), ("keys", keys.Distinct(StringComparer.Ordinal).ToArray()));
            await using var pr = await pg.ExecuteReaderAsync(ct);
            while (await pr.ReadAsync(ct)) found[pr.GetString(0)] = (byte[])pr.GetValue(1);
            return found;
        }
        foreach (var part in keys.Distinct(StringComparer.Ordinal).Chunk(KeysPerStatement))
        {
            var names = string.Join(", ", part.Select((_, i) => $"@k{i}"));
            await using var cmd = Command(c, null, $"SELECT row_key, data FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key IN ({names})", grain, name,
                [("s", set), .. part.Select((k, i) => ($"k{i}", (object)k))]);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) found[r.GetString(0)] = (byte[])r.GetValue(1);
        }
        return found;
    }

    public async Task<Dictionary<string, long>> WriteAsync(string grain, string name, long epoch, byte[] head, IReadOnlyList<RowChange> changes,
        CancellationToken ct = default)
    {
        using var turn = await store.EnterWriteAsync(ct);
        await using var c = await store.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var cmd = Command(c, tx, $"""
            INSERT INTO ragcluster_row_head (service_id, grain, name, data)
            SELECT @sv, @g, @n, @d WHERE EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {OwnerKey} AND epoch = @epoch {ShareLock})
            ON CONFLICT (service_id, grain, name) DO UPDATE SET data = excluded.data
            """, grain, name, ("d", head), ("epoch", epoch)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) != 1) throw RowConflicts.Fenced(grain, name, epoch); // disposing tx rolls back
        }
        var gained = new Dictionary<string, long>();
        void Gain(string set, long n) => gained[set] = gained.GetValueOrDefault(set) + n;

        // A put is a delete then an insert, so the counts come from what each statement touched: first the deletes of
        // puts and plain deletes, then the conditional deletes, then the inserts.
        if (store.Kind == StoreKind.Sqlite) await WriteSqliteRowsAsync(c, tx, grain, name, changes, Gain, ct);
        else await WritePostgresRowsAsync(c, tx, grain, name, changes, Gain, ct);
        await tx.CommitAsync(ct);
        return gained;
    }

    private async Task WritePostgresRowsAsync(DbConnection c, DbTransaction tx, string grain, string name, IReadOnlyList<RowChange> changes,
        Action<string, long> Gain, CancellationToken ct)
    {
        foreach (var bySet in changes.Where(ch => ch.OnlyIf is null).GroupBy(ch => ch.Set))
            foreach (var keys in bySet.Select(ch => ch.Key).Chunk(KeysPerStatement))
            {
                // As in ReadAsync: a seek a key (the rows found by it are deleted by their ctid), never the whole set.
                await using var pg = Command(c, tx, $"""
                    DELETE FROM ragcluster_row AS t USING (SELECT r.ctid FROM unnest(@keys) AS k(key)
                        CROSS JOIN LATERAL (SELECT ctid FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key = k.key LIMIT 1) AS r) AS d
                    WHERE t.ctid = d.ctid
                    """, grain, name, ("s", bySet.Key), ("keys", keys.Distinct(StringComparer.Ordinal).ToArray()));
                Gain(bySet.Key, -await pg.ExecuteNonQueryAsync(ct));
            }
        foreach (var ch in changes.Where(ch => ch.OnlyIf is not null))
        {
            await using var cmd = Command(c, tx, $"DELETE FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key = @k AND data = @v", grain, name,
                ("s", ch.Set), ("k", ch.Key), ("v", ch.OnlyIf!));
            Gain(ch.Set, -await cmd.ExecuteNonQueryAsync(ct));
        }
        foreach (var rows in changes.Where(ch => ch.Value is not null).Chunk(KeysPerStatement))
        {
            // Many rows to a statement: one round trip to the server each.
            var values = string.Join(", ", rows.Select((_, i) => $"(@s{i}, @k{i}, @v{i})"));
            await using var cmd = Command(c, tx, $"""
                INSERT INTO ragcluster_row (service_id, grain, name, set_name, row_key, data)
                SELECT @sv, @g, @n, v.column1, v.column2, v.column3 FROM (VALUES {values}) AS v
                """, grain, name, [.. rows.SelectMany((r, i) => new (string, object)[] { ($"s{i}", r.Set), ($"k{i}", r.Key), ($"v{i}", r.Value!) })]);
            await cmd.ExecuteNonQueryAsync(ct);
            foreach (var r in rows) Gain(r.Set, 1);
        }
    }

    /// <summary>
    /// SQLite runs in this process, so a statement a row costs microseconds once prepared: one prepared statement a kind
    /// of change, bound again for each row, rather than a statement of many rows' values parsed and bound every time.
    /// </summary>
    private async Task WriteSqliteRowsAsync(DbConnection c, DbTransaction tx, string grain, string name, IReadOnlyList<RowChange> changes,
        Action<string, long> Gain, CancellationToken ct)
    {
        await using var delete = Command(c, tx, $"DELETE FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key = @k", grain, name, ("s", ""), ("k", ""));
        foreach (var ch in changes.Where(ch => ch.OnlyIf is null))
            Gain(ch.Set, -await Run(delete, ("@s", ch.Set), ("@k", ch.Key)));
        await using var deleteIf = Command(c, tx, $"DELETE FROM ragcluster_row WHERE {Key} AND set_name = @s AND row_key = @k AND data = @v", grain, name,
            ("s", ""), ("k", ""), ("v", Array.Empty<byte>()));
        foreach (var ch in changes.Where(ch => ch.OnlyIf is not null))
            Gain(ch.Set, -await Run(deleteIf, ("@s", ch.Set), ("@k", ch.Key), ("@v", ch.OnlyIf!)));
        await using var insert = Command(c, tx, "INSERT INTO ragcluster_row (service_id, grain, name, set_name, row_key, data) VALUES (@sv, @g, @n, @s, @k, @v)",
            grain, name, ("s", ""), ("k", ""), ("v", Array.Empty<byte>()));
        foreach (var ch in changes.Where(ch => ch.Value is not null))
            Gain(ch.Set, await Run(insert, ("@s", ch.Set), ("@k", ch.Key), ("@v", ch.Value!)));

        Task<int> Run(DbCommand cmd, params (string Name, object Value)[] values)
        {
            foreach (var (parameter, value) in values) cmd.Parameters[parameter].Value = value;
            return cmd.ExecuteNonQueryAsync(ct);
        }
    }

    private DbCommand Command(DbConnection c, DbTransaction? tx, string sql, string grain, string name, params (string Name, object Value)[] more) =>
        GrainSql.Command(c, tx, sql, [("sv", serviceId), ("g", grain), ("n", name), .. more]);
}
