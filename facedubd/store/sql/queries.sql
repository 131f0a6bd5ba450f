-- Every statement the store runs, by name. `-- name: x` starts one; parameters are :named.

-- name: insert_user
INSERT INTO users (id, email, plan, credits_limit, bonus_credits, overage_enabled, suspended,
                   is_local_owner, created_at)
VALUES (:id, :email, :plan, :credits_limit, 0, 1, 0, :is_local_owner, :created_at);

-- name: user_by_id
SELECT * FROM users WHERE id = :id;

-- name: user_by_email
-- Case does not tell emails apart (Alice@example.com is alice@example.com); an exact
-- match first, for a data dir made before that held both.
SELECT * FROM users WHERE email = :email COLLATE NOCASE
ORDER BY email = :email DESC, created_at LIMIT 1;

-- name: local_owner
SELECT * FROM users WHERE is_local_owner = 1 ORDER BY created_at LIMIT 1;

-- name: list_users
SELECT * FROM users ORDER BY created_at, email;

-- name: set_user_plan
UPDATE users SET plan = :value WHERE id = :id;

-- name: set_user_suspended
UPDATE users SET suspended = :value WHERE id = :id;

-- name: set_user_overage
UPDATE users SET overage_enabled = :value WHERE id = :id;

-- name: set_user_credits_limit
UPDATE users SET credits_limit = :value WHERE id = :id;

-- name: add_bonus_credits
UPDATE users SET bonus_credits = bonus_credits + :value WHERE id = :id;

-- name: delete_user_events
DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE user_id = :id);

-- name: delete_user
DELETE FROM users WHERE id = :id;

-- name: insert_key
INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at)
VALUES (:id, :user_id, :name, :prefix, :key_hash, :created_at);

-- name: count_active_keys
SELECT count(*) FROM api_keys WHERE user_id = :user_id AND revoked_at IS NULL;

-- name: key_by_hash
SELECT * FROM api_keys WHERE key_hash = :key_hash;

-- name: key_by_id
SELECT * FROM api_keys WHERE id = :id AND user_id = :user_id;

-- name: active_keys
SELECT * FROM api_keys WHERE user_id = :user_id AND revoked_at IS NULL
ORDER BY created_at, rowid;

-- name: touch_key
UPDATE api_keys SET last_used_at = :now
WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :now);

-- name: revoke_key
UPDATE api_keys SET revoked_at = :now
WHERE id = :id AND user_id = :user_id AND revoked_at IS NULL;

-- name: count_active_jobs
SELECT count(*) FROM jobs
WHERE user_id = :user_id AND status IN ('queued', 'processing') AND deleted_at IS NULL;

-- name: credits_used_since
SELECT coalesce(sum(credits), 0) FROM ledger WHERE user_id = :user_id AND created_at >= :since;

-- name: insert_job
INSERT INTO jobs (id, user_id, status, stage, progress, duration_seconds, credits_charged,
                  is_overage, created_at)
VALUES (:id, :user_id, 'queued', 'queued', 0, :duration_seconds, :credits_charged,
        :is_overage, :created_at);

-- name: insert_ledger
INSERT INTO ledger (user_id, job_id, kind, credits, created_at)
VALUES (:user_id, :job_id, :kind, :credits, :created_at);

-- name: insert_idempotency
INSERT INTO idempotency (user_id, key, request_hash, job_id, response, created_at)
VALUES (:user_id, :key, :request_hash, :job_id, :response, :created_at);

-- name: idempotency_by_key
SELECT * FROM idempotency WHERE user_id = :user_id AND key = :key AND created_at >= :since;

-- name: prune_idempotency
DELETE FROM idempotency WHERE created_at < :since;

-- name: job_for_user
SELECT * FROM jobs WHERE id = :id AND user_id = :user_id AND deleted_at IS NULL;

-- name: job_by_id
SELECT * FROM jobs WHERE id = :id;

-- name: list_jobs
SELECT * FROM jobs WHERE user_id = :user_id AND deleted_at IS NULL
ORDER BY created_at DESC, seq DESC LIMIT :limit;

-- name: list_jobs_before
SELECT * FROM jobs WHERE user_id = :user_id AND deleted_at IS NULL
  AND (created_at < :created_at OR (created_at = :created_at AND seq < :seq))
ORDER BY created_at DESC, seq DESC LIMIT :limit;

-- name: next_queued_job
SELECT * FROM jobs WHERE status = 'queued' AND deleted_at IS NULL ORDER BY seq LIMIT 1;

-- name: mark_processing
UPDATE jobs SET status = 'processing', stage = 'preparing', progress = 0,
                attempts = attempts + 1, started_at = :now, version = version + 1
WHERE id = :id AND status = 'queued';

-- name: set_progress
UPDATE jobs SET stage = :stage, progress = :progress, artifacts = COALESCE(:artifacts, artifacts),
                version = version + 1
WHERE id = :id AND status = 'processing';

-- name: insert_event
INSERT INTO job_events (job_id, status, stage, progress, created_at)
VALUES (:job_id, :status, :stage, :progress, :created_at);

-- name: mark_completed
UPDATE jobs SET status = 'completed', stage = 'done', progress = 1, has_output = 1,
                artifacts = :artifacts, finished_at = :now, version = version + 1
WHERE id = :id AND status = 'processing';

-- name: mark_failed
UPDATE jobs SET status = 'failed', error = :error, error_code = :error_code, finished_at = :now,
                artifacts = '[]', version = version + 1
WHERE id = :id AND status IN ('queued', 'processing');

-- name: mark_requeued
UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0, version = version + 1,
                artifacts = '[]', attempts = attempts - :undo
WHERE id = :id AND status = 'processing';

-- name: processing_jobs
SELECT * FROM jobs WHERE status = 'processing' ORDER BY seq;

-- name: mark_deleted
UPDATE jobs SET deleted_at = :now, files_swept = 1, has_output = 0, artifacts = '[]',
                version = version + 1
WHERE id = :id AND deleted_at IS NULL;

-- name: expired_outputs
SELECT * FROM jobs WHERE finished_at IS NOT NULL AND finished_at < :before AND files_swept = 0;

-- name: mark_swept
UPDATE jobs SET files_swept = 1, has_output = 0, artifacts = '[]', version = version + 1
WHERE id = :id;

-- name: job_events
SELECT * FROM job_events WHERE job_id = :job_id ORDER BY id;
