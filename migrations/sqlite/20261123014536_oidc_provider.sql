-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_applications" table
CREATE TABLE `new_applications` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `type` text NOT NULL, `client_id` text NOT NULL, `secret_hash` text NULL, `redirect_uris` json NULL, `post_logout_redirect_uris` json NULL, `grant_types` json NULL, `access_token_lifetime_seconds` integer NOT NULL DEFAULT (900), `id_token_lifetime_seconds` integer NOT NULL DEFAULT (3600), `refresh_token_lifetime_seconds` integer NOT NULL DEFAULT (2592000), `refresh_token_idle_lifetime_seconds` integer NOT NULL DEFAULT (604800), `access_token_signing_algorithm` text NOT NULL DEFAULT ('RS256'), `id_token_signing_algorithm` text NOT NULL DEFAULT ('RS256'), `token_endpoint_auth_method` text NOT NULL DEFAULT ('CLIENT_SECRET_BASIC'), `jwks` json NULL, `jwks_uri` text NULL, `scopes` json NULL, `first_party` bool NOT NULL DEFAULT (true), PRIMARY KEY (`id`));
-- copy rows from old table "applications" to new temporary table "new_applications"
INSERT INTO `new_applications` (`id`, `created_at`, `updated_at`, `name`, `type`, `client_id`, `secret_hash`, `redirect_uris`, `post_logout_redirect_uris`, `grant_types`, `access_token_lifetime_seconds`, `id_token_lifetime_seconds`, `refresh_token_lifetime_seconds`) SELECT `id`, `created_at`, `updated_at`, `name`, `type`, `client_id`, `secret_hash`, `redirect_uris`, `post_logout_redirect_uris`, `grant_types`, `access_token_lifetime_seconds`, `id_token_lifetime_seconds`, `refresh_token_lifetime_seconds` FROM `applications`;
-- drop "applications" table after copying rows
DROP TABLE `applications`;
-- rename temporary table "new_applications" to "applications"
ALTER TABLE `new_applications` RENAME TO `applications`;
-- create index "applications_client_id_key" to table: "applications"
CREATE UNIQUE INDEX `applications_client_id_key` ON `applications` (`client_id`);
-- add column "password_hash" to table: "users"
ALTER TABLE `users` ADD COLUMN `password_hash` text NULL;
-- create "auth_requests" table
CREATE TABLE `auth_requests` (`id` text NOT NULL, `client_id` text NOT NULL, `redirect_uri` text NOT NULL, `scopes` json NOT NULL, `response_type` text NOT NULL, `response_mode` text NULL, `state` text NULL, `nonce` text NULL, `code_challenge` text NULL, `code_challenge_method` text NULL, `prompt` json NULL, `max_age_seconds` integer NULL, `login_hint` text NULL, `acr_values` json NULL, `ui_locales` json NULL, `requested_organization_id` text NULL, `user_id` text NULL, `organization_id` text NULL, `session_id` text NULL, `auth_time` datetime NULL, `amr` json NULL, `acr` text NULL, `done` bool NOT NULL DEFAULT (false), `code_hash` text NULL, `code_used_at` datetime NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "auth_requests_code_hash_key" to table: "auth_requests"
CREATE UNIQUE INDEX `auth_requests_code_hash_key` ON `auth_requests` (`code_hash`);
-- create index "authrequest_expires_at" to table: "auth_requests"
CREATE INDEX `authrequest_expires_at` ON `auth_requests` (`expires_at`);
-- create "consents" table
CREATE TABLE `consents` (`id` text NOT NULL, `user_id` text NOT NULL, `client_id` text NOT NULL, `scopes` json NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "consent_user_id_client_id" to table: "consents"
CREATE UNIQUE INDEX `consent_user_id_client_id` ON `consents` (`user_id`, `client_id`);
-- create "grants" table
CREATE TABLE `grants` (`id` text NOT NULL, `client_id` text NOT NULL, `user_id` text NOT NULL, `organization_id` text NULL, `session_id` text NULL, `auth_request_id` text NULL, `scopes` json NOT NULL, `audience` json NULL, `auth_time` datetime NOT NULL, `amr` json NULL, `acr` text NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `revoked_at` datetime NULL, `revoke_reason` text NULL, PRIMARY KEY (`id`));
-- create index "grant_user_id" to table: "grants"
CREATE INDEX `grant_user_id` ON `grants` (`user_id`);
-- create index "grant_auth_request_id" to table: "grants"
CREATE INDEX `grant_auth_request_id` ON `grants` (`auth_request_id`);
-- create index "grant_session_id" to table: "grants"
CREATE INDEX `grant_session_id` ON `grants` (`session_id`);
-- create "refresh_tokens" table
CREATE TABLE `refresh_tokens` (`id` text NOT NULL, `token_hash` text NOT NULL, `created_at` datetime NOT NULL, `idle_expires_at` datetime NOT NULL, `used_at` datetime NULL, `grant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `refresh_tokens_grants_refresh_tokens` FOREIGN KEY (`grant_id`) REFERENCES `grants` (`id`) ON DELETE CASCADE);
-- create index "refresh_tokens_token_hash_key" to table: "refresh_tokens"
CREATE UNIQUE INDEX `refresh_tokens_token_hash_key` ON `refresh_tokens` (`token_hash`);
-- create "revoked_tokens" table
CREATE TABLE `revoked_tokens` (`id` text NOT NULL, `jti` text NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "revoked_tokens_jti_key" to table: "revoked_tokens"
CREATE UNIQUE INDEX `revoked_tokens_jti_key` ON `revoked_tokens` (`jti`);
-- create "sessions" table
CREATE TABLE `sessions` (`id` text NOT NULL, `user_id` text NOT NULL, `token_hash` text NOT NULL, `auth_time` datetime NOT NULL, `amr` json NULL, `acr` text NULL, `ip` text NULL, `user_agent` text NULL, `created_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `revoked_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- create "signing_keys" table
CREATE TABLE `signing_keys` (`id` text NOT NULL, `algorithm` text NOT NULL, `sealed_private_key` blob NOT NULL, `public_jwk` json NOT NULL, `created_at` datetime NOT NULL, `activates_at` datetime NOT NULL, `retired_at` datetime NULL, `expires_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "signingkey_algorithm_activates_at" to table: "signing_keys"
CREATE INDEX `signingkey_algorithm_activates_at` ON `signing_keys` (`algorithm`, `activates_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "signingkey_algorithm_activates_at" to table: "signing_keys"
DROP INDEX `signingkey_algorithm_activates_at`;
-- reverse: create "signing_keys" table
DROP TABLE `signing_keys`;
-- reverse: create index "session_user_id" to table: "sessions"
DROP INDEX `session_user_id`;
-- reverse: create index "sessions_token_hash_key" to table: "sessions"
DROP INDEX `sessions_token_hash_key`;
-- reverse: create "sessions" table
DROP TABLE `sessions`;
-- reverse: create index "revoked_tokens_jti_key" to table: "revoked_tokens"
DROP INDEX `revoked_tokens_jti_key`;
-- reverse: create "revoked_tokens" table
DROP TABLE `revoked_tokens`;
-- reverse: create index "refresh_tokens_token_hash_key" to table: "refresh_tokens"
DROP INDEX `refresh_tokens_token_hash_key`;
-- reverse: create "refresh_tokens" table
DROP TABLE `refresh_tokens`;
-- reverse: create index "grant_session_id" to table: "grants"
DROP INDEX `grant_session_id`;
-- reverse: create index "grant_auth_request_id" to table: "grants"
DROP INDEX `grant_auth_request_id`;
-- reverse: create index "grant_user_id" to table: "grants"
DROP INDEX `grant_user_id`;
-- reverse: create "grants" table
DROP TABLE `grants`;
-- reverse: create index "consent_user_id_client_id" to table: "consents"
DROP INDEX `consent_user_id_client_id`;
-- reverse: create "consents" table
DROP TABLE `consents`;
-- reverse: create index "authrequest_expires_at" to table: "auth_requests"
DROP INDEX `authrequest_expires_at`;
-- reverse: create index "auth_requests_code_hash_key" to table: "auth_requests"
DROP INDEX `auth_requests_code_hash_key`;
-- reverse: create "auth_requests" table
DROP TABLE `auth_requests`;
-- reverse: add column "password_hash" to table: "users"
ALTER TABLE `users` DROP COLUMN `password_hash`;
-- reverse: create index "applications_client_id_key" to table: "applications"
DROP INDEX `applications_client_id_key`;
-- reverse: create "new_applications" table
DROP TABLE `new_applications`;
