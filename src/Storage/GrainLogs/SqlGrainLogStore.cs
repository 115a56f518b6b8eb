using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

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

    // The snapshot row holds the sequence number; its pages are rows of ragcluster_log_snapshot_page. A snapshot
    // written whole by an older version has its bytes in the row's own data, which is empty for a paged one.
    // No transaction: a reader has claimed the log first, and the claim waits for any older owner's write in flight.
    public async Task<(long Seq, IReadOnlyList<byte[]> Pages)?> ReadSnapshotAsync(string grain, string logName, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        long seq;
        await using (var cmd = Command(c, null, $"SELECT seq, data FROM ragcluster_log_snapshot WHERE {Key}", grain, logName))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await r.ReadAsync(ct)) return null;
            seq = r.GetInt64(0);
            var whole = (byte[])r.GetValue(1);
            if (whole.Length > 0) return (seq, [whole]);
        }
        var pages = new List<byte[]>();
        await using (var cmd = Command(c, null, $"SELECT data FROM ragcluster_log_snapshot_page WHERE {Key} ORDER BY page_no", grain, logName))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct)) pages.Add((byte[])r.GetValue(0));
        return (seq, pages);
    }

    public async Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(string grain, string logName, long afterSeq, CancellationToken ct = default)
    {
        await using var c = await store.OpenAsync(ct);
        await using var cmd = Command(c, null, $"SELECT seq, data FROM ragcluster_log WHERE {Key} AND seq > @after ORDER BY seq", grain, logName,
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
        await using var tx = entries.Count > RowsPerInsert ? await c.BeginTransactionAsync(ct) : null;
        // Many rows to a statement (a group commit brings many entries): one round trip and one fence check each.
        for (var start = 0; start < entries.Count; start += RowsPerInsert)
        {
            var count = Math.Min(RowsPerInsert, entries.Count - start);
            var rows = string.Join(", ", Enumerable.Range(0, count).Select(i => $"(@seq{i}, @d{i})"));
            var values = Enumerable.Range(0, count).SelectMany(i => new (string, object)[] { ($"seq{i}", firstSeq + start + i), ($"d{i}", entries[start + i]) }).ToArray();
            // VALUES columns are column1, column2 in both SQLite and PostgreSQL.
            await using var cmd = Command(c, tx, $"""
                INSERT INTO ragcluster_log (service_id, grain, log_name, seq, data)
                SELECT @sv, @g, @n, v.column1, v.column2 FROM (VALUES {rows}) AS v
                WHERE EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch {ShareLock})
                ON CONFLICT DO NOTHING
                """, grain, logName, [.. values, ("epoch", epoch)]);
            if (await cmd.ExecuteNonQueryAsync(ct) != count) throw LogConflicts.Fenced(grain, logName, epoch); // disposing tx rolls back
        }
        if (tx is not null) await tx.CommitAsync(ct);
    }

    public async Task WriteSnapshotAsync(string grain, string logName, long epoch, long seq, IReadOnlyList<byte[]> pages, CancellationToken ct = default)
    {
        using var turn = await store.EnterWriteAsync(ct);
        await using var c = await store.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var cmd = Command(c, tx, $"""
            INSERT INTO ragcluster_log_snapshot (service_id, grain, log_name, seq, data)
            SELECT @sv, @g, @n, @seq, @d WHERE EXISTS (SELECT 1 FROM ragcluster_log_owner WHERE {Key} AND epoch = @epoch {ShareLock})
            ON CONFLICT (service_id, grain, log_name) DO UPDATE SET seq = excluded.seq, data = excluded.data
            """, grain, logName, ("seq", seq), ("d", Array.Empty<byte>()), ("epoch", epoch)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) != 1) throw LogConflicts.Fenced(grain, logName, epoch);
        }
        for (var page = 0; page < pages.Count; page++)
        {
            await using var cmd = Command(c, tx, """
                INSERT INTO ragcluster_log_snapshot_page (service_id, grain, log_name, page_no, data) VALUES (@sv, @g, @n, @p, @d)
                ON CONFLICT (service_id, grain, log_name, page_no) DO UPDATE SET data = excluded.data
                """, grain, logName, ("p", page), ("d", pages[page]));
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = Command(c, tx, $"DELETE FROM ragcluster_log_snapshot_page WHERE {Key} AND page_no >= @count", grain, logName, ("count", pages.Count)))
            await cmd.ExecuteNonQueryAsync(ct);
        await using (var cmd = Command(c, tx, $"DELETE FROM ragcluster_log WHERE {Key} AND seq <= @seq", grain, logName, ("seq", seq)))
            await cmd.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    private DbCommand Command(DbConnection c, DbTransaction? tx, string sql, string grain, string logName, params (string Name, object Value)[] more) =>
        GrainSql.Command(c, tx, sql, [("sv", serviceId), ("g", grain), ("n", logName), .. more]);
}
