using RagCluster.Storage;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// Makes the real database refuse chosen writes, the way a full or restarting server does: a trigger on the grain state
/// and grain log tables raises an error for every row whose key matches a LIKE pattern in <c>test_fail_writes</c>. The
/// silos see the driver's own exception (PostgresException, SqliteException), as they would in production.
/// </summary>
public sealed class InjectedWriteFailures(StoreLocation store)
{
    private StoreLocation Store => store;

    public static async Task<InjectedWriteFailures> InstallAsync(string storage)
    {
        var failures = new InjectedWriteFailures(StoreLocation.Parse(storage));
        await failures.Exec(failures.Store.Kind == StoreKind.PostgreSql ? PostgreSql : Sqlite);
        return failures;
    }

    /// <summary>Grain state rows whose key (e.g. "default.kb/doc1") is LIKE <paramref name="pattern"/> can no longer be written.</summary>
    public Task FailStateWrites(string pattern) => Exec("INSERT INTO test_fail_writes (tbl, pattern) VALUES ('state', @p)", pattern);

    /// <summary>Grain log rows (shard logs: grain "indexshard/default.kb/0") whose grain is LIKE <paramref name="pattern"/> can no longer be appended.</summary>
    public Task FailLogAppends(string pattern) => Exec("INSERT INTO test_fail_writes (tbl, pattern) VALUES ('log', @p)", pattern);

    /// <summary>Grain row heads (a collection's registry: grain "collection/t.kb") whose grain is LIKE <paramref name="pattern"/> can no longer be written.</summary>
    public Task FailRowWrites(string pattern) => Exec("INSERT INTO test_fail_writes (tbl, pattern) VALUES ('rows', @p)", pattern);

    /// <summary>Snapshots of grain logs (shard logs: grain "indexshard/default.kb/0") whose grain is LIKE <paramref name="pattern"/> can no longer be written.</summary>
    public Task FailSnapshots(string pattern) => Exec("INSERT INTO test_fail_writes (tbl, pattern) VALUES ('snapshot', @p)", pattern);

    public Task HealAll() => Exec("DELETE FROM test_fail_writes");

    private async Task Exec(string sql, string? pattern = null)
    {
        await using var c = await store.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        if (pattern is not null)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = "p";
            p.Value = pattern;
            cmd.Parameters.Add(p);
        }
        await cmd.ExecuteNonQueryAsync();
    }

    // One function for both tables: the trigger's arguments name the table's kind and its key column.
    private const string PostgreSql = """
        CREATE TABLE IF NOT EXISTS test_fail_writes (tbl TEXT NOT NULL, pattern TEXT NOT NULL);
        CREATE OR REPLACE FUNCTION test_fail_writes() RETURNS trigger AS $$
        DECLARE k text := to_jsonb(NEW) ->> TG_ARGV[1];
        BEGIN
            IF EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = TG_ARGV[0] AND k LIKE pattern) THEN
                RAISE EXCEPTION 'injected % write failure for %', TG_ARGV[0], k;
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS test_fail_state ON ragcluster_state;
        CREATE TRIGGER test_fail_state BEFORE INSERT OR UPDATE ON ragcluster_state FOR EACH ROW EXECUTE FUNCTION test_fail_writes('state', 'grain_key');
        DROP TRIGGER IF EXISTS test_fail_log ON ragcluster_log;
        CREATE TRIGGER test_fail_log BEFORE INSERT ON ragcluster_log FOR EACH ROW EXECUTE FUNCTION test_fail_writes('log', 'grain');
        DROP TRIGGER IF EXISTS test_fail_rows ON ragcluster_row_head;
        CREATE TRIGGER test_fail_rows BEFORE INSERT OR UPDATE ON ragcluster_row_head FOR EACH ROW EXECUTE FUNCTION test_fail_writes('rows', 'grain');
        DROP TRIGGER IF EXISTS test_fail_snapshot ON ragcluster_log_snapshot;
        CREATE TRIGGER test_fail_snapshot BEFORE INSERT OR UPDATE ON ragcluster_log_snapshot FOR EACH ROW EXECUTE FUNCTION test_fail_writes('snapshot', 'grain');
        """;

    private const string Sqlite = """
        CREATE TABLE IF NOT EXISTS test_fail_writes (tbl TEXT NOT NULL, pattern TEXT NOT NULL);
        CREATE TRIGGER IF NOT EXISTS test_fail_state_insert BEFORE INSERT ON ragcluster_state
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'state' AND NEW.grain_key LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;
        CREATE TRIGGER IF NOT EXISTS test_fail_state_update BEFORE UPDATE ON ragcluster_state
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'state' AND NEW.grain_key LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;
        CREATE TRIGGER IF NOT EXISTS test_fail_log_insert BEFORE INSERT ON ragcluster_log
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'log' AND NEW.grain LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected append failure'); END;
        CREATE TRIGGER IF NOT EXISTS test_fail_rows_insert BEFORE INSERT ON ragcluster_row_head
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'rows' AND NEW.grain LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected row write failure'); END;
        CREATE TRIGGER IF NOT EXISTS test_fail_rows_update BEFORE UPDATE ON ragcluster_row_head
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'rows' AND NEW.grain LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected row write failure'); END;
        CREATE TRIGGER IF NOT EXISTS test_fail_snapshot_insert BEFORE INSERT ON ragcluster_log_snapshot
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'snapshot' AND NEW.grain LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected snapshot failure'); END;
        CREATE TRIGGER IF NOT EXISTS test_fail_snapshot_update BEFORE UPDATE ON ragcluster_log_snapshot
            WHEN EXISTS (SELECT 1 FROM test_fail_writes WHERE tbl = 'snapshot' AND NEW.grain LIKE pattern)
            BEGIN SELECT RAISE(ABORT, 'injected snapshot failure'); END;
        """;
}
