-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- add column "policy_expires_at" to table: "auth_requests"
ALTER TABLE `auth_requests` ADD COLUMN `policy_expires_at` datetime NULL;
-- add column "policy_idle_lifetime_seconds" to table: "auth_requests"
ALTER TABLE `auth_requests` ADD COLUMN `policy_idle_lifetime_seconds` integer NULL;
-- add column "idle_lifetime_seconds" to table: "grants"
ALTER TABLE `grants` ADD COLUMN `idle_lifetime_seconds` integer NULL;
-- create "new_sessions" table
CREATE TABLE `new_sessions` (`id` text NOT NULL, `user_id` text NOT NULL, `token_hash` text NOT NULL, `auth_time` datetime NOT NULL, `amr` json NULL, `acr` text NULL, `ip` text NULL, `user_agent` text NULL, `created_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `idle_timeout_seconds` integer NOT NULL DEFAULT (86400), `revoked_at` datetime NULL, PRIMARY KEY (`id`));
-- copy rows from old table "sessions" to new temporary table "new_sessions"
INSERT INTO `new_sessions` (`id`, `user_id`, `token_hash`, `auth_time`, `amr`, `acr`, `ip`, `user_agent`, `created_at`, `last_seen_at`, `expires_at`, `revoked_at`) SELECT `id`, `user_id`, `token_hash`, `auth_time`, `amr`, `acr`, `ip`, `user_agent`, `created_at`, `last_seen_at`, `expires_at`, `revoked_at` FROM `sessions`;
-- drop "sessions" table after copying rows
DROP TABLE `sessions`;
-- rename temporary table "new_sessions" to "sessions"
ALTER TABLE `new_sessions` RENAME TO `sessions`;
-- create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- create "login_transactions" table
CREATE TABLE `login_transactions` (`id` text NOT NULL, `token_hash` text NOT NULL, `auth_request_id` text NULL, `user_id` text NULL, `organization_id` text NULL, `factors` json NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "login_transactions_token_hash_key" to table: "login_transactions"
CREATE UNIQUE INDEX `login_transactions_token_hash_key` ON `login_transactions` (`token_hash`);
-- create index "logintransaction_expires_at" to table: "login_transactions"
CREATE INDEX `logintransaction_expires_at` ON `login_transactions` (`expires_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "logintransaction_expires_at" to table: "login_transactions"
DROP INDEX `logintransaction_expires_at`;
-- reverse: create index "login_transactions_token_hash_key" to table: "login_transactions"
DROP INDEX `login_transactions_token_hash_key`;
-- reverse: create "login_transactions" table
DROP TABLE `login_transactions`;
-- reverse: create index "session_user_id" to table: "sessions"
DROP INDEX `session_user_id`;
-- reverse: create index "sessions_token_hash_key" to table: "sessions"
DROP INDEX `sessions_token_hash_key`;
-- reverse: create "new_sessions" table
DROP TABLE `new_sessions`;
-- reverse: add column "idle_lifetime_seconds" to table: "grants"
ALTER TABLE `grants` DROP COLUMN `idle_lifetime_seconds`;
-- reverse: add column "policy_idle_lifetime_seconds" to table: "auth_requests"
ALTER TABLE `auth_requests` DROP COLUMN `policy_idle_lifetime_seconds`;
-- reverse: add column "policy_expires_at" to table: "auth_requests"
ALTER TABLE `auth_requests` DROP COLUMN `policy_expires_at`;
