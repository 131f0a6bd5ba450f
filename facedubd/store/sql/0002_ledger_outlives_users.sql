-- 0002: ledger rows outlive a purged account (accounting keeps them); no cascade.
ALTER TABLE ledger RENAME TO ledger_old;
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    job_id TEXT,
    kind TEXT NOT NULL,
    credits INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO ledger (id, user_id, job_id, kind, credits, created_at)
SELECT id, user_id, job_id, kind, credits, created_at FROM ledger_old;
DROP TABLE ledger_old;
CREATE INDEX ledger_user_time ON ledger(user_id, created_at);
