-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_refresh_tokens" table
CREATE TABLE `new_refresh_tokens` (`id` text NOT NULL, `token_hash` text NOT NULL, `created_at` datetime NOT NULL, `idle_expires_at` datetime NOT NULL, `parent_id` text NULL, `grant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `refresh_tokens_grants_refresh_tokens` FOREIGN KEY (`grant_id`) REFERENCES `grants` (`id`) ON DELETE CASCADE);
-- copy the unspent rows from old table "refresh_tokens" to new temporary table "new_refresh_tokens"
-- (edited by hand: a spent token, used_at set, has no successor row to mark it
-- spent, so it is left behind; presented again it is unknown: invalid_grant)
INSERT INTO `new_refresh_tokens` (`id`, `token_hash`, `created_at`, `idle_expires_at`, `grant_id`) SELECT `id`, `token_hash`, `created_at`, `idle_expires_at`, `grant_id` FROM `refresh_tokens` WHERE `used_at` IS NULL;
-- drop "refresh_tokens" table after copying rows
DROP TABLE `refresh_tokens`;
-- rename temporary table "new_refresh_tokens" to "refresh_tokens"
ALTER TABLE `new_refresh_tokens` RENAME TO `refresh_tokens`;
-- create index "refresh_tokens_token_hash_key" to table: "refresh_tokens"
CREATE UNIQUE INDEX `refresh_tokens_token_hash_key` ON `refresh_tokens` (`token_hash`);
-- create index "refresh_tokens_parent_id_key" to table: "refresh_tokens"
CREATE UNIQUE INDEX `refresh_tokens_parent_id_key` ON `refresh_tokens` (`parent_id`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "refresh_tokens_parent_id_key" to table: "refresh_tokens"
DROP INDEX `refresh_tokens_parent_id_key`;
-- reverse: create index "refresh_tokens_token_hash_key" to table: "refresh_tokens"
DROP INDEX `refresh_tokens_token_hash_key`;
-- reverse: create "new_refresh_tokens" table
DROP TABLE `new_refresh_tokens`;
