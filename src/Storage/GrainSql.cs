using System.Data.Common;

namespace RagCluster.Storage;

/// <summary>What grain logs and grain rows share in SQL: the owner row whose epoch fences stale writers, and commands.</summary>
internal static class GrainSql
{
    /// <summary>Makes the caller the owner of (grain, name): a new epoch, higher than any before it.</summary>
    public static async Task<long> ClaimAsync(StoreLocation store, string serviceId, string grain, string name, CancellationToken ct)
    {
        using var turn = await store.EnterWriteAsync(ct);
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, """
            INSERT INTO ragcluster_log_owner (service_id, grain, log_name, epoch) VALUES (@sv, @g, @n, 1)
            ON CONFLICT (service_id, grain, log_name) DO UPDATE SET epoch = ragcluster_log_owner.epoch + 1
            RETURNING epoch
            """, [("sv", serviceId), ("g", grain), ("n", name)]);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
    }

    public static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, IEnumerable<(string Name, object Value)> parameters)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            // SQLite finds a parameter by its name as written ("@k0") in a list, one compare per name; an unprefixed name
            // misses there, then is tried with each prefix, so a 768-parameter statement did about 3.5 x 768 x 768 compares
            // (strncmp was 7 % of an ingest's CPU). Npgsql's names stay bare, as before.
            p.ParameterName = c is Microsoft.Data.Sqlite.SqliteConnection ? "@" + name : name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }
}
