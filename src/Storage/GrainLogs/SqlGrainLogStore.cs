using System.Data.Common;

namespace RagCluster.Storage.GrainLogs;

/// <summary>
/// Grain logs in the cluster's database (tables from Schema/*.sql). SQLite and PostgreSQL share every statement;
/// PostgreSQL additionally locks the owner row (FOR SHARE) while appending, so a claim waits for an append in
/// flight and then sees it, and a write of an older epoch can never slip in after a newer owner read the log.
/// </summary>
public sealed class SqlGrainLogStore(StoreLocation store, string serviceId) : IGrainLogStore
{
    private string ShareLock => store.Kind == StoreKind.PostgreSql ? "FOR SHARE" : "";
    private const string Key = "service_id = @sv AND grain = @g AND log_name = @n";

    public Task<long> ClaimAsync(string grain, string logName, CancellationToken ct = default) =>
        GrainSql.ClaimAsync(store, serviceId, grain, logName, ct);

    // The snapshot row holds the sequence number; its pages are rows of ragcluster_log_snapshot_page in one of two
    // page sets (page_no from 0, or from SecondPageSet), and the row's data says which: empty for the first, the
    // set's first page_no (8 bytes, Descriptor) for the second. A new snapshot is written into the set not in use,
    // page by page, and only its last step switches the row over, so a snapshot never has to be whole in memory or
    // in one transaction, and one that dies part-way leaves the previous one intact. A snapshot written whole by an
    // older version has its bytes in the row's data (never 8 bytes starting with Descriptor).
    // No transaction: a reader has claimed the log first, and the claim waits for any older owner's write in flight.
    public async Task<(long Seq, IReadOnlyList<byte[]> Pages)?> ReadSnapshotAsync(string grain, string logName, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        return await ReadSnapshotAsync(c, null, grain, logName, ct);
    }

    private async Task<(long Seq, IReadOnlyList<byte[]> Pages)?> ReadSnapshotAsync(DbConnection c, DbTransaction? tx, string grain, string logName, CancellationToken ct)
    {
        long seq;
        int firstPage;
        await using (var cmd = Command(c, tx, $"SELECT seq, data FROM ragcluster_log_snapshot WHERE {Key}", grain, logName))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await r.ReadAsync(ct)) return null;
            seq = r.GetInt64(0);
            var data = (byte[])r.GetValue(1);
            if (PageSetOf(data) is not { } set) return (seq, [data]);
            firstPage = set;
        }
        var pages = new List<byte[]>();
        await using (var cmd = Command(c, tx, $"SELECT data FROM ragcluster_log_snapshot_page WHERE {Key} AND page_no >= @lo AND page_no < @hi ORDER BY page_no",
            grain, logName, ("lo", firstPage), ("hi", (long)firstPage + PageSetSize)))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct)) pages.Add((byte[])r.GetValue(0));
        return (seq, pages);
    }

    // One read transaction (a snapshot of the database: REPEATABLE READ on PostgreSQL, a deferred transaction under WAL on
    // SQLite, which never waits for the writer): without it, a snapshot the owner wrote between the statements could
    // delete the pages or entries being read, and the reader would load a shard with chunks missing, silently.
    public async Task<((long Seq, IReadOnlyList<byte[]> Pages)? Snapshot, List<(long Seq, byte[] Data)> Entries)> ReadAllAsync(string grain, string logName, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var tx = c is Microsoft.Data.Sqlite.SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: true)
            : await c.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var snapshot = await ReadSnapshotAsync(c, tx, grain, logName, ct);
        var entries = await ReadEntriesAsync(c, tx, grain, logName, snapshot?.Seq ?? 0, ct);
        await tx.CommitAsync(ct);
        return (snapshot, entries);
    }

    public async Task<long> SnapshotSeqAsync(string grain, string logName, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, $"SELECT seq FROM ragcluster_log_snapshot WHERE {Key}", grain, logName);
        return await cmd.ExecuteScalarAsync(ct) is { } seq and not DBNull ? Convert.ToInt64(seq) : 0;
    }

    public async Task<IReadOnlyList<string>> GrainsAsync(string logName, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var cmd = GrainSql.Command(c, null, "SELECT grain FROM ragcluster_log_owner WHERE service_id = @sv AND log_name = @n", [("sv", serviceId), ("n", logName)]);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var grains = new List<string>();
        while (await r.ReadAsync(ct)) grains.Add(r.GetString(0));
        return grains;
    }

    private const int PageSetSize = 1 << 30;          // page_no is a 32-bit INTEGER in PostgreSQL
    private const int SecondPageSet = PageSetSize;
    private const int Descriptor = 0x53504352;       // "RCPS"

    /// <summary>The first page_no of the set a snapshot row points at; null for a snapshot stored whole in the row.</summary>
    private static int? PageSetOf(byte[] rowData) =>
        rowData.Length == 0 ? 0
        : rowData.Length == 8 && BitConverter.ToInt32(rowData, 0) == Descriptor ? BitConverter.ToInt32(rowData, 4)
        : null;

    private static byte[] RowDataFor(int pageSet) =>
        pageSet == 0 ? [] : [.. BitConverter.GetBytes(Descriptor), .. BitConverter.GetBytes(pageSet)];

    public async Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(string grain, string logName, long afterSeq, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        return await ReadEntriesAsync(c, null, grain, logName, afterSeq, ct);
    }

    private async Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(DbConnection c, DbTransaction? tx, string grain, string logName, long afterSeq, CancellationToken ct)
    {
        await using var cmd = Command(c, tx, $"SELECT seq, data FROM ragcluster_log WHERE {Key} AND seq > @after ORDER BY seq", grain, logName,
            ("after", afterSeq));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var entries = new List<(long, byte[])>();
        while (await r.ReadAsync(ct)) entries.Add((r.GetInt64(0), (byte[])r.GetValue(1)));
        return entries;
    }

    private const int RowsPerInsert = 256;

    public async Task AppendAsync(string grain, string logName, long epoch, long firstSeq, IReadOnlyList<byte[]> entries, CancellationToken ct = default)
    {
        using var turn = await store.EnterWriteAsync(ct);
        await using var c = await store.OpenAsync(ct);
        if (store.Kind == StoreKind.Sqlite)
        {
            await AppendSqliteAsync(c, grain, logName, epoch, firstSeq, entries, ct);
            return;
        }
        // In a transaction even when one statement holds them all: a statement that meets a written seq skips that row
        // (DO NOTHING) and writes the others, and the append, refused, must leave none of them. (One more round trip, the COMMIT.)
        await using var tx = await c.BeginTransactionAsync(ct);
        // Many rows to a statement (a group commit brings many entries): one round trip and one fence check each.
        for (var start = 0; start < entries.Count; start += RowsPerInsert)
        {
            var count = Math.Min(RowsPerInsert, entries.Count - start);
            var rows = string.Join(", ", Enumerable.Range(0, count).Select(i => $"(@seq{i}, @d{i})"));
            var values = Enumerable.Range(0, count).SelectMany(i => new (string, object)[] { ($"seq{i}", firstSeq + start + i), ($"d{i}", entries[start + i]) }).ToArray();
            // VALUES columns are column1, column2 in PostgreSQL.
            await using var cmd = Command(c, tx, $"""
                INSERT INTO ragcluster_log (service_id, grain, log_name, seq, data)
                SELECT @sv, @g, @n, v.column1, v.column2 FROM (VALUES {rows}) AS v
                WHERE EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch {ShareLock})
                ON CONFLICT DO NOTHING
                """, grain, logName, [.. values, ("epoch", epoch)]);
            if (await cmd.ExecuteNonQueryAsync(ct) != count) throw LogConflicts.Fenced(grain, logName, epoch); // disposing tx rolls back
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// SQLite runs in this process: the owner is checked once inside the write transaction (one writer, so nobody can
    /// claim the log before it commits), then one prepared insert is bound again for each entry. A statement of 256
    /// entries' values was parsed and bound (512 parameters) every time.
    /// </summary>
    private async Task AppendSqliteAsync(DbConnection c, string grain, string logName, long epoch, long firstSeq, IReadOnlyList<byte[]> entries, CancellationToken ct)
    {
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var owner = Command(c, tx, $"SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch", grain, logName, ("epoch", epoch)))
            if (await owner.ExecuteScalarAsync(ct) is null) throw LogConflicts.Fenced(grain, logName, epoch);
        await using var insert = Command(c, tx, "INSERT INTO ragcluster_log (service_id, grain, log_name, seq, data) VALUES (@sv, @g, @n, @seq, @d) ON CONFLICT DO NOTHING",
            grain, logName, ("seq", 0L), ("d", Array.Empty<byte>()));
        for (var i = 0; i < entries.Count; i++)
        {
            (insert.Parameters["@seq"].Value, insert.Parameters["@d"].Value) = (firstSeq + i, entries[i]);
            if (await insert.ExecuteNonQueryAsync(ct) != 1) throw LogConflicts.Fenced(grain, logName, epoch);
        }
        await tx.CommitAsync(ct);
    }

    public async Task WriteSnapshotAsync(string grain, string logName, long epoch, long seq, IAsyncEnumerable<byte[]> pages, CancellationToken ct = default)
    {
        int inUse;
        await using (var c = await store.OpenAsync(ct))
        await using (var cmd = Command(c, null, $"SELECT data FROM ragcluster_log_snapshot WHERE {Key}", grain, logName))
            inUse = await cmd.ExecuteScalarAsync(ct) is byte[] data ? PageSetOf(data) ?? 0 : 0;
        var set = inUse == 0 ? SecondPageSet : 0;

        // Every statement is fenced by the epoch: a stale owner can neither clear nor fill the set a newer one is writing.
        await ExecuteAsync($"""
            DELETE FROM ragcluster_log_snapshot_page WHERE {Key} AND page_no >= @lo AND page_no < @hi
              AND EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch {ShareLock})
            """, grain, logName, ct, ("lo", set), ("hi", (long)set + PageSetSize), ("epoch", epoch)); // what an attempt that died left
        var count = 0;
        await foreach (var page in pages.WithCancellation(ct))
        {
            var written = await ExecuteAsync($"""
                INSERT INTO ragcluster_log_snapshot_page (service_id, grain, log_name, page_no, data)
                SELECT @sv, @g, @n, @p, @d WHERE EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch {ShareLock})
                ON CONFLICT (service_id, grain, log_name, page_no) DO UPDATE SET data = excluded.data
                """, grain, logName, ct, ("p", set + count), ("d", page), ("epoch", epoch));
            if (written != 1) throw LogConflicts.Fenced(grain, logName, epoch);
            count++;
        }

        using var turn = await store.EnterWriteAsync(ct);
        await using var conn = await store.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = Command(conn, tx, $"""
            INSERT INTO ragcluster_log_snapshot (service_id, grain, log_name, seq, data)
            SELECT @sv, @g, @n, @seq, @d WHERE EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch {ShareLock})
            ON CONFLICT (service_id, grain, log_name) DO UPDATE SET seq = excluded.seq, data = excluded.data
            """, grain, logName, ("seq", seq), ("d", RowDataFor(set)), ("epoch", epoch)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) != 1) throw LogConflicts.Fenced(grain, logName, epoch);
        }
        await using (var cmd = Command(conn, tx, $"DELETE FROM ragcluster_log_snapshot_page WHERE {Key} AND (page_no < @lo OR page_no >= @end)",
            grain, logName, ("lo", set), ("end", set + count)))
            await cmd.ExecuteNonQueryAsync(ct);
        await using (var cmd = Command(conn, tx, $"DELETE FROM ragcluster_log WHERE {Key} AND seq <= @seq", grain, logName, ("seq", seq)))
            await cmd.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>One statement in its own turn (SQLite has one writer): a snapshot's pages let other writes in between them.</summary>
    private async Task<int> ExecuteAsync(string sql, string grain, string logName, CancellationToken ct, params (string Name, object Value)[] more)
    {
        using var turn = await store.EnterWriteAsync(ct);
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, sql, grain, logName, more);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private DbCommand Command(DbConnection c, DbTransaction? tx, string sql, string grain, string logName, params (string Name, object Value)[] more) =>
        GrainSql.Command(c, tx, sql, [("sv", serviceId), ("g", grain), ("n", logName), .. more]);
}
