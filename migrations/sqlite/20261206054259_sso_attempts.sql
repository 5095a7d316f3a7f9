-- +goose Up
-- create "sso_attempts" table
CREATE TABLE `sso_attempts` (`id` text NOT NULL, `relay_hash` text NOT NULL, `browser_hash` text NOT NULL, `connection_id` text NOT NULL, `auth_request_id` text NULL, `state` blob NOT NULL, `identity` blob NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "sso_attempts_relay_hash_key" to table: "sso_attempts"
CREATE UNIQUE INDEX `sso_attempts_relay_hash_key` ON `sso_attempts` (`relay_hash`);
-- create index "ssoattempt_browser_hash" to table: "sso_attempts"
CREATE INDEX `ssoattempt_browser_hash` ON `sso_attempts` (`browser_hash`);
-- create index "ssoattempt_expires_at" to table: "sso_attempts"
CREATE INDEX `ssoattempt_expires_at` ON `sso_attempts` (`expires_at`);

-- +goose Down
-- reverse: create index "ssoattempt_expires_at" to table: "sso_attempts"
DROP INDEX `ssoattempt_expires_at`;
-- reverse: create index "ssoattempt_browser_hash" to table: "sso_attempts"
DROP INDEX `ssoattempt_browser_hash`;
-- reverse: create index "sso_attempts_relay_hash_key" to table: "sso_attempts"
DROP INDEX `sso_attempts_relay_hash_key`;
-- reverse: create "sso_attempts" table
DROP TABLE `sso_attempts`;
