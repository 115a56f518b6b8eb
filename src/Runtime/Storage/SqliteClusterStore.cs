using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace RagCluster.Runtime.Storage;

/// <summary>The embedded default: one SQLite file (WAL mode) that silos on one machine can share.</summary>
public sealed class SqliteClusterStore : SqlClusterStore
{
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteClusterStore(string path, string clusterId, string serviceId) : base(clusterId, serviceId)
    {
        _path = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Pooling = true,
            // Microsoft.Data.Sqlite retries SQLITE_BUSY until this many seconds pass: other silos may hold the write lock.
            DefaultTimeout = 30,
        }.ToString();
    }

    protected override string NowMs => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    protected override string BlobType => "BLOB";
    public override string Describe() => $"sqlite:{_path}";

    public override async Task InitializeAsync(CancellationToken ct = default)
    {
        var directory = Path.GetDirectoryName(_path);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        await using (var c = await OpenAsync(ct))
        {
            // WAL lets readers run beside the one writer; it is a property of the file, set once.
            await ExecAsync(c, null, "PRAGMA journal_mode=WAL;", ct);
        }
        await base.InitializeAsync(ct);
    }

    // A deferred transaction reads a snapshot (WAL) without taking the write lock.
    protected override ValueTask<DbTransaction> BeginReadTransactionAsync(DbConnection c, CancellationToken ct) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)c).BeginTransaction(deferred: true));

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        await using var pragma = c.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=NORMAL;";
        await pragma.ExecuteNonQueryAsync(ct);
        return c;
    }
}
