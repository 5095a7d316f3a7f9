-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_sso_attempts" table
CREATE TABLE `new_sso_attempts` (`id` text NOT NULL, `relay_hash` text NOT NULL, `browser_hash` text NOT NULL, `connection_id` text NOT NULL, `auth_request_id` text NULL, `state` blob NOT NULL, `identity` blob NULL, `purpose` text NOT NULL DEFAULT ('SIGN_IN'), `portal_session_id` text NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- copy rows from old table "sso_attempts" to new temporary table "new_sso_attempts"
INSERT INTO `new_sso_attempts` (`id`, `relay_hash`, `browser_hash`, `connection_id`, `auth_request_id`, `state`, `identity`, `created_at`, `expires_at`) SELECT `id`, `relay_hash`, `browser_hash`, `connection_id`, `auth_request_id`, `state`, `identity`, `created_at`, `expires_at` FROM `sso_attempts`;
-- drop "sso_attempts" table after copying rows
DROP TABLE `sso_attempts`;
-- rename temporary table "new_sso_attempts" to "sso_attempts"
ALTER TABLE `new_sso_attempts` RENAME TO `sso_attempts`;
-- create index "sso_attempts_relay_hash_key" to table: "sso_attempts"
CREATE UNIQUE INDEX `sso_attempts_relay_hash_key` ON `sso_attempts` (`relay_hash`);
-- create index "ssoattempt_browser_hash" to table: "sso_attempts"
CREATE INDEX `ssoattempt_browser_hash` ON `sso_attempts` (`browser_hash`);
-- create index "ssoattempt_expires_at" to table: "sso_attempts"
CREATE INDEX `ssoattempt_expires_at` ON `sso_attempts` (`expires_at`);
-- create "admin_portal_links" table
CREATE TABLE `admin_portal_links` (`id` text NOT NULL, `organization_id` text NOT NULL, `intent` text NOT NULL, `token_hash` text NOT NULL, `created_by` text NOT NULL, `return_url` text NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `used_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "admin_portal_links_token_hash_key" to table: "admin_portal_links"
CREATE UNIQUE INDEX `admin_portal_links_token_hash_key` ON `admin_portal_links` (`token_hash`);
-- create index "adminportallink_organization_id" to table: "admin_portal_links"
CREATE INDEX `adminportallink_organization_id` ON `admin_portal_links` (`organization_id`);
-- create index "adminportallink_expires_at" to table: "admin_portal_links"
CREATE INDEX `adminportallink_expires_at` ON `admin_portal_links` (`expires_at`);
-- create "portal_sessions" table
CREATE TABLE `portal_sessions` (`id` text NOT NULL, `organization_id` text NOT NULL, `intent` text NOT NULL, `token_hash` text NOT NULL, `link_id` text NOT NULL, `return_url` text NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `last_used_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "portal_sessions_token_hash_key" to table: "portal_sessions"
CREATE UNIQUE INDEX `portal_sessions_token_hash_key` ON `portal_sessions` (`token_hash`);
-- create index "portalsession_organization_id" to table: "portal_sessions"
CREATE INDEX `portalsession_organization_id` ON `portal_sessions` (`organization_id`);
-- create index "portalsession_expires_at" to table: "portal_sessions"
CREATE INDEX `portalsession_expires_at` ON `portal_sessions` (`expires_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "portalsession_expires_at" to table: "portal_sessions"
DROP INDEX `portalsession_expires_at`;
-- reverse: create index "portalsession_organization_id" to table: "portal_sessions"
DROP INDEX `portalsession_organization_id`;
-- reverse: create index "portal_sessions_token_hash_key" to table: "portal_sessions"
DROP INDEX `portal_sessions_token_hash_key`;
-- reverse: create "portal_sessions" table
DROP TABLE `portal_sessions`;
-- reverse: create index "adminportallink_expires_at" to table: "admin_portal_links"
DROP INDEX `adminportallink_expires_at`;
-- reverse: create index "adminportallink_organization_id" to table: "admin_portal_links"
DROP INDEX `adminportallink_organization_id`;
-- reverse: create index "admin_portal_links_token_hash_key" to table: "admin_portal_links"
DROP INDEX `admin_portal_links_token_hash_key`;
-- reverse: create "admin_portal_links" table
DROP TABLE `admin_portal_links`;
-- reverse: create index "ssoattempt_expires_at" to table: "sso_attempts"
DROP INDEX `ssoattempt_expires_at`;
-- reverse: create index "ssoattempt_browser_hash" to table: "sso_attempts"
DROP INDEX `ssoattempt_browser_hash`;
-- reverse: create index "sso_attempts_relay_hash_key" to table: "sso_attempts"
DROP INDEX `sso_attempts_relay_hash_key`;
-- reverse: create "new_sso_attempts" table
DROP TABLE `new_sso_attempts`;
