using System.Data.Common;

namespace RagCluster.Storage.Schema;

/// <summary>
/// Creates or upgrades the tables RagCluster keeps in its database, idempotently: the ones Orleans' ADO.NET grain
/// storage reads its statements from (OrleansQuery) and writes state to, and the grain-log tables.
/// The Orleans AdoNet packages do not ship their SQL scripts, so we own ours (Schema/PostgreSql.sql, Schema/Sqlite.sql),
/// written for the contract the provider documents: query keys, parameter names and result columns.
/// </summary>
public static class DatabaseSchema
{
    public static string Script(StoreKind kind)
    {
        var name = kind switch
        {
            StoreKind.PostgreSql => "RagCluster.Storage.Schema.PostgreSql.sql",
            StoreKind.Sqlite => "RagCluster.Storage.Schema.Sqlite.sql",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "the memory store has no schema"),
        };
        using var stream = typeof(DatabaseSchema).Assembly.GetManifestResourceStream(name)!;
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Safe when several silos start at once: PostgreSQL serialises the script behind an advisory lock.</summary>
    public static async Task ApplyAsync(StoreLocation store, CancellationToken ct = default)
    {
        if (store.Kind == StoreKind.Memory) return;
        await using var c = await store.OpenAsync(ct);
        if (store.Kind == StoreKind.Sqlite)
        {
            // WAL lets readers run beside the one writer; it is a property of the file, kept once set.
            await ExecAsync(c, null, "PRAGMA journal_mode=WAL;", ct);
        }
        await using var tx = await c.BeginTransactionAsync(ct);
        if (store.Kind == StoreKind.PostgreSql) await ExecAsync(c, tx, "SELECT pg_advisory_xact_lock(7346020117);", ct);
        await ExecAsync(c, tx, Script(store.Kind), ct);
        await tx.CommitAsync(ct);
    }

    private static async Task ExecAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
