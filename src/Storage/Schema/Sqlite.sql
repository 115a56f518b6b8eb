-- RagCluster's tables in SQLite (the embedded default), applied idempotently at silo start-up (DatabaseSchema.ApplyAsync).
-- The contract with Orleans' ADO.NET grain storage is the one described in PostgreSql.sql. SQLite has no
-- data-modifying CTEs, so each statement is a short batch: one write, then SELECTs that read changes() (rows
-- changed by the last write on this connection); exactly one of them returns a row.
-- The reminder table's contract with Orleans' ADO.NET reminders is also described in PostgreSql.sql; times are
-- stored as the text Microsoft.Data.Sqlite writes for a UTC DateTime, which reads back as the same instant.

CREATE TABLE IF NOT EXISTS OrleansQuery (
    QueryKey  TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ragcluster_state (
    service_id  TEXT NOT NULL,
    grain_type  TEXT NOT NULL,
    grain_n0    INTEGER NOT NULL,
    grain_n1    INTEGER NOT NULL,
    grain_key   TEXT NOT NULL,
    payload     BLOB NULL,
    version     INTEGER NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (service_id, grain_type, grain_n0, grain_n1, grain_key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ragcluster_log_owner (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    PRIMARY KEY (service_id, grain, log_name)
);
CREATE TABLE IF NOT EXISTS ragcluster_log (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (service_id, grain, log_name, seq)
);
CREATE TABLE IF NOT EXISTS ragcluster_log_snapshot (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (service_id, grain, log_name)
);
-- A snapshot's pages, in order (the snapshot row's own data is empty then; an older version wrote it whole there).
CREATE TABLE IF NOT EXISTS ragcluster_log_snapshot_page (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    page_no    INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (service_id, grain, log_name, page_no)
);

-- Grain row sets (src/Storage/GrainRows): a small head per grain and keyed rows in named sets, e.g. a collection's
-- document registry, so one change writes one small row. The owner epoch is ragcluster_log_owner's.
CREATE TABLE IF NOT EXISTS ragcluster_row_head (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, name TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (service_id, grain, name)
);
CREATE TABLE IF NOT EXISTS ragcluster_row (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, name TEXT NOT NULL, set_name TEXT NOT NULL,
    row_key    TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (service_id, grain, name, set_name, row_key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ragcluster_reminder (
    service_id    TEXT NOT NULL,
    grain_id      TEXT NOT NULL,
    reminder_name TEXT NOT NULL,
    start_time    TEXT NOT NULL,
    period_ms     INTEGER NOT NULL,
    grain_hash    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ragcluster_reminder_by_hash ON ragcluster_reminder (service_id, grain_hash);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', '
    SELECT payload AS PayloadBinary, version AS Version
    FROM ragcluster_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
      AND grain_key = COALESCE(@GrainIdExtensionString, '''');
'),
('WriteToStorageKey', '
    UPDATE ragcluster_state SET payload = @PayloadBinary, version = version + 1, modified_at = datetime(''now'')
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
      AND grain_key = COALESCE(@GrainIdExtensionString, '''')
      AND @GrainStateVersion IS NOT NULL AND version = @GrainStateVersion;
    SELECT @GrainStateVersion + 1 AS NewGrainStateVersion WHERE @GrainStateVersion IS NOT NULL AND changes() = 1;
    SELECT @GrainStateVersion AS NewGrainStateVersion WHERE @GrainStateVersion IS NOT NULL AND changes() = 0;
    INSERT INTO ragcluster_state (service_id, grain_type, grain_n0, grain_n1, grain_key, payload, version, modified_at)
    SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, COALESCE(@GrainIdExtensionString, ''''), @PayloadBinary, 1, datetime(''now'')
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING;
    SELECT 1 AS NewGrainStateVersion WHERE @GrainStateVersion IS NULL AND changes() = 1;
'),
('ClearStorageKey', '
    UPDATE ragcluster_state SET payload = NULL, version = version + 1, modified_at = datetime(''now'')
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
      AND grain_key = COALESCE(@GrainIdExtensionString, '''')
      AND version = @GrainStateVersion;
    SELECT @GrainStateVersion + 1 AS NewGrainStateVersion WHERE changes() = 1;
    SELECT @GrainStateVersion AS NewGrainStateVersion WHERE changes() = 0;
'),
('DeleteStorageKey', '
    DELETE FROM ragcluster_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
      AND grain_key = COALESCE(@GrainIdExtensionString, '''')
      AND version = @GrainStateVersion;
    SELECT @GrainStateVersion + 1 AS NewGrainStateVersion WHERE changes() = 1;
    SELECT @GrainStateVersion AS NewGrainStateVersion WHERE changes() = 0;
'),
('ReadReminderRowsKey', '
    SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
    FROM ragcluster_reminder WHERE service_id = @ServiceId AND grain_id = @GrainId
'),
('ReadReminderRowKey', '
    SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
    FROM ragcluster_reminder WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
'),
('ReadRangeRows1Key', '
    SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
    FROM ragcluster_reminder WHERE service_id = @ServiceId AND grain_hash > @BeginHash AND grain_hash <= @EndHash
'),
('ReadRangeRows2Key', '
    SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
    FROM ragcluster_reminder WHERE service_id = @ServiceId AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)
'),
('UpsertReminderRowKey', '
    INSERT INTO ragcluster_reminder (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
    VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
    ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
        SET start_time = excluded.start_time, period_ms = excluded.period_ms, grain_hash = excluded.grain_hash,
            version = ragcluster_reminder.version + 1
    RETURNING version AS Version
'),
('DeleteReminderRowKey', '
    DELETE FROM ragcluster_reminder
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName AND version = @Version;
    SELECT changes() > 0;
'),
('DeleteReminderRowsKey', '
    DELETE FROM ragcluster_reminder WHERE service_id = @ServiceId
')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;
