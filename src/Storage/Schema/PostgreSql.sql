-- RagCluster's tables in PostgreSQL, applied idempotently at silo start-up (DatabaseSchema.ApplyAsync).
--
-- 1. Orleans' ADO.NET grain storage (Microsoft.Orleans.Persistence.AdoNet) reads its statements from OrleansQuery
--    by key (WriteToStorageKey, ReadFromStorageKey, ClearStorageKey, DeleteStorageKey). It binds the parameters
--    @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId,
--    @GrainStateVersion (the ETag, an integer or NULL) and @PayloadBinary, and reads back PayloadBinary and Version
--    (read) or NewGrainStateVersion (write, clear, delete). A write or clear that does not apply must return the
--    caller's own version, which the provider turns into an InconsistentStateException.
--    Rows are keyed by the grain's type and id in full, so the hashes the provider also sends are not needed here.
-- 2. Grain logs (RagCluster.Storage.GrainLogs): entries, one snapshot per log, and an owner epoch that fences writers.
-- 3. Orleans' ADO.NET reminder table (Microsoft.Orleans.Reminders.AdoNet 10.4.2), by the keys ReadReminderRowsKey,
--    ReadReminderRowKey, ReadRangeRows1Key, ReadRangeRows2Key, UpsertReminderRowKey, DeleteReminderRowKey and
--    DeleteReminderRowsKey. It binds @ServiceId, @GrainId, @ReminderName, @StartTime (UTC), @Period (milliseconds,
--    an int or a bigint), @GrainHash, @BeginHash, @EndHash (uniform hashes cast to int) and @Version, and reads back
--    GrainId, ReminderName, StartTime, Period and Version; an upsert returns the new Version, a delete one boolean.
--    A range is (BeginHash, EndHash], wrapping when BeginHash >= EndHash (then the provider uses ReadRangeRows2Key).

CREATE TABLE IF NOT EXISTS OrleansQuery (
    QueryKey  VARCHAR(64) NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ragcluster_state (
    service_id  TEXT NOT NULL,
    grain_type  TEXT NOT NULL,
    grain_n0    BIGINT NOT NULL,
    grain_n1    BIGINT NOT NULL,
    grain_key   TEXT NOT NULL,        -- the string key or key extension; '' when there is none
    payload     BYTEA NULL,           -- NULL once cleared
    version     INTEGER NOT NULL,     -- the ETag
    modified_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_type, grain_n0, grain_n1, grain_key)
);

CREATE TABLE IF NOT EXISTS ragcluster_log_owner (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    PRIMARY KEY (service_id, grain, log_name)
);
CREATE TABLE IF NOT EXISTS ragcluster_log (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (service_id, grain, log_name, seq)
);
CREATE TABLE IF NOT EXISTS ragcluster_log_snapshot (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (service_id, grain, log_name)
);
-- A snapshot's pages, in order (the snapshot row's own data is empty then; an older version wrote it whole there).
CREATE TABLE IF NOT EXISTS ragcluster_log_snapshot_page (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, log_name TEXT NOT NULL,
    page_no    INTEGER NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (service_id, grain, log_name, page_no)
);

-- Grain row sets (src/Storage/GrainRows): a small head per grain and keyed rows in named sets, e.g. a collection's
-- document registry, so one change writes one small row. The owner epoch is ragcluster_log_owner's.
CREATE TABLE IF NOT EXISTS ragcluster_row_head (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, name TEXT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (service_id, grain, name)
);
CREATE TABLE IF NOT EXISTS ragcluster_row (
    service_id TEXT NOT NULL, grain TEXT NOT NULL, name TEXT NOT NULL, set_name TEXT NOT NULL,
    row_key    TEXT COLLATE "C" NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (service_id, grain, name, set_name, row_key)
);

CREATE TABLE IF NOT EXISTS ragcluster_reminder (
    service_id    TEXT NOT NULL,
    grain_id      TEXT NOT NULL,
    reminder_name TEXT NOT NULL,
    start_time    TIMESTAMPTZ NOT NULL,
    period_ms     BIGINT NOT NULL,
    grain_hash    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);
CREATE INDEX IF NOT EXISTS ragcluster_reminder_by_hash ON ragcluster_reminder (service_id, grain_hash);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', '
    SELECT payload AS PayloadBinary, version AS Version
    FROM ragcluster_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
      AND grain_key = COALESCE(CAST(@GrainIdExtensionString AS text), '''')
'),
('WriteToStorageKey', '
    WITH updated AS (
        UPDATE ragcluster_state SET payload = @PayloadBinary, version = version + 1, modified_at = now()
        WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
          AND grain_key = COALESCE(CAST(@GrainIdExtensionString AS text), '''')
          AND version = CAST(@GrainStateVersion AS integer)
        RETURNING version),
    inserted AS (
        INSERT INTO ragcluster_state (service_id, grain_type, grain_n0, grain_n1, grain_key, payload, version)
        SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, COALESCE(CAST(@GrainIdExtensionString AS text), ''''), @PayloadBinary, 1
        WHERE CAST(@GrainStateVersion AS integer) IS NULL
        ON CONFLICT DO NOTHING
        RETURNING version)
    SELECT version AS NewGrainStateVersion FROM updated
    UNION ALL SELECT version FROM inserted
    UNION ALL SELECT CAST(@GrainStateVersion AS integer)
        WHERE CAST(@GrainStateVersion AS integer) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM updated)
'),
('ClearStorageKey', '
    WITH cleared AS (
        UPDATE ragcluster_state SET payload = NULL, version = version + 1, modified_at = now()
        WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
          AND grain_key = COALESCE(CAST(@GrainIdExtensionString AS text), '''')
          AND version = CAST(@GrainStateVersion AS integer)
        RETURNING version)
    SELECT version AS NewGrainStateVersion FROM cleared
    UNION ALL SELECT CAST(@GrainStateVersion AS integer) WHERE NOT EXISTS (SELECT 1 FROM cleared)
'),
('DeleteStorageKey', '
    WITH deleted AS (
        DELETE FROM ragcluster_state
        WHERE service_id = @ServiceId AND grain_type = @GrainTypeString AND grain_n0 = @GrainIdN0 AND grain_n1 = @GrainIdN1
          AND grain_key = COALESCE(CAST(@GrainIdExtensionString AS text), '''')
          AND version = CAST(@GrainStateVersion AS integer)
        RETURNING version)
    SELECT version + 1 AS NewGrainStateVersion FROM deleted
    UNION ALL SELECT CAST(@GrainStateVersion AS integer) WHERE NOT EXISTS (SELECT 1 FROM deleted)
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
    WITH deleted AS (
        DELETE FROM ragcluster_reminder
        WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName AND version = @Version
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM deleted)
'),
('DeleteReminderRowsKey', '
    DELETE FROM ragcluster_reminder WHERE service_id = @ServiceId
')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;
