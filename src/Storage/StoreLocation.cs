using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace RagCluster.Storage;

public enum StoreKind { Memory, Sqlite, PostgreSql }

/// <summary>
/// Where grain state lives, parsed from one setting (<c>Silo:Storage</c>): <c>sqlite:PATH</c> (the embedded default),
/// <c>memory</c> (one process, nothing kept), or a PostgreSQL connection string (the cluster).
/// </summary>
public sealed class StoreLocation
{
    private StoreLocation(StoreKind kind, string connectionString, string description, string? sqlitePath = null, int? poolSize = null)
    {
        PoolSize = poolSize;
        Kind = kind;
        ConnectionString = connectionString;
        Description = description;
        SqlitePath = sqlitePath;
        SqliteWriteGate = sqlitePath is null ? null : Sqlite.SqliteWriteGate.For(sqlitePath);
    }

    public StoreKind Kind { get; }
    /// <summary>PostgreSQL: the most connections this process opens (null for other stores).</summary>
    public int? PoolSize { get; }
    /// <summary>ADO.NET connection string (empty for memory).</summary>
    public string ConnectionString { get; }
    /// <summary>For logs: no password.</summary>
    public string Description { get; }

    /// <summary>
    /// The ADO.NET invariant Orleans' AdoNet providers load the driver by. Orleans names SQLite "System.Data.SQLite"
    /// (AdoNetInvariants.InvariantNameSqlLite) and loads Microsoft.Data.Sqlite's factory for it.
    /// </summary>
    public string AdoNetInvariant => Kind == StoreKind.PostgreSql ? "Npgsql" : "System.Data.SQLite";

    /// <summary>A silo's PostgreSQL connections when neither <c>Silo:StoragePoolSize</c> nor the connection string says.</summary>
    public const int DefaultPoolSize = 20;

    /// <param name="setting">The <c>Silo:Storage</c> value.</param>
    /// <param name="poolSize">
    /// <c>Silo:StoragePoolSize</c>: the most PostgreSQL connections this process opens (its share of the server's
    /// max_connections). Null: the connection string's Maximum Pool Size if it sets one, else <see cref="DefaultPoolSize"/>
    /// (Npgsql's own default, 100, lets four silos ask a default server for 400).
    /// </param>
    /// <exception cref="ArgumentException">The setting is neither form, with a message naming it.</exception>
    public static StoreLocation Parse(string? setting, int? poolSize = null)
    {
        setting = setting?.Trim();
        if (string.IsNullOrEmpty(setting)) throw new ArgumentException("Silo:Storage is empty; use sqlite:PATH, memory, or a PostgreSQL connection string");
        if (setting.Equals("memory", StringComparison.OrdinalIgnoreCase)) return new(StoreKind.Memory, "", "memory (this process only)");
        if (setting.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = Path.GetFullPath(setting["sqlite:".Length..]);
            var cs = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
            return new(StoreKind.Sqlite, cs, $"SQLite {path}", path);
        }
        NpgsqlConnectionStringBuilder pg;
        try
        {
            pg = new NpgsqlConnectionStringBuilder(setting);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Silo:Storage is not sqlite:PATH, memory, or a PostgreSQL connection string ({e.Message})");
        }
        if (string.IsNullOrEmpty(pg.Host)) throw new ArgumentException("Silo:Storage: the PostgreSQL connection string has no Host");
        // Unless the string says otherwise: no DISCARD ALL each time a pooled connection is returned (nothing here keeps
        // session state), and the statements run over and over are prepared once per connection. A 3-silo ingest sent
        // 14,491 DISCARD ALLs for 1,800 documents, and every statement was parsed and planned anew.
        // (NpgsqlConnectionStringBuilder.ContainsKey answers for any keyword it knows, so ask a plain builder.)
        var given = new DbConnectionStringBuilder { ConnectionString = setting };
        bool Given(string keyword) => given.ContainsKey(keyword) || given.ContainsKey(keyword.Replace(" ", ""));
        if (!Given("No Reset On Close")) pg.NoResetOnClose = true;
        if (!Given("Max Auto Prepare")) pg.MaxAutoPrepare = 32;
        if (poolSize is not null) pg.MaxPoolSize = poolSize.Value;
        else if (!Given("Maximum Pool Size")) pg.MaxPoolSize = DefaultPoolSize;
        if (pg.MinPoolSize > pg.MaxPoolSize) pg.MinPoolSize = pg.MaxPoolSize;
        return new(StoreKind.PostgreSql, pg.ConnectionString,
            $"PostgreSQL {pg.Host}:{pg.Port}/{pg.Database ?? pg.Username}, pool of at most {pg.MaxPoolSize} connections", poolSize: pg.MaxPoolSize);
    }

    /// <summary>The SQLite file (null for other stores).</summary>
    public string? SqlitePath { get; }
    /// <summary>This process's gate for the SQLite file (<see cref="Sqlite.SqliteWriteGate"/>); null for other stores.</summary>
    public SemaphoreSlim? SqliteWriteGate { get; }

    /// <summary>For a write: on SQLite, this process's turn at the file; elsewhere nothing to wait for.</summary>
    public async ValueTask<IDisposable?> EnterWriteAsync(CancellationToken ct = default,
        [System.Runtime.CompilerServices.CallerFilePath] string file = "", [System.Runtime.CompilerServices.CallerMemberName] string member = "") =>
        SqliteWriteGate is { } gate ? await Sqlite.SqliteWriteTurns.EnterAsync(gate, $"{Path.GetFileNameWithoutExtension(file)}.{member}", ct) : null;

    public async ValueTask<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        DbConnection c = Kind switch
        {
            StoreKind.Sqlite => new SqliteConnection(ConnectionString),
            StoreKind.PostgreSql => new NpgsqlConnection(ConnectionString),
            _ => throw new InvalidOperationException("the memory store has no database"),
        };
        try
        {
            if (Kind == StoreKind.Sqlite) Directory.CreateDirectory(Path.GetDirectoryName(((SqliteConnection)c).DataSource) ?? ".");
            await c.OpenAsync(ct);
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }
}
