using System.Data.Common;
using Npgsql;

namespace RagCluster.Runtime.Storage;

/// <summary>The cluster store on PostgreSQL.</summary>
public sealed class PostgresClusterStore : SqlClusterStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _description;

    public PostgresClusterStore(string connectionString, string clusterId, string serviceId) : base(clusterId, serviceId)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _description = $"postgres://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    protected override string NowMs => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
    protected override string BlobType => "BYTEA";
    public override string Describe() => _description;

    public override async Task InitializeAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Silos starting together would race on CREATE TABLE IF NOT EXISTS; serialise them on an advisory lock.
        await ExecAsync(c, tx, "SELECT pg_advisory_xact_lock(727274001)", ct);
        await ExecAsync(c, tx, SchemaSql, ct);
        await ExecAsync(c, tx, "INSERT INTO rc_membership_version (cluster_id, version) VALUES (@c, 0) ON CONFLICT (cluster_id) DO NOTHING", ct, ("c", ClusterId));
        await tx.CommitAsync(ct);
    }

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken ct) => await _dataSource.OpenConnectionAsync(ct);

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
