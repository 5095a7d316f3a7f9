-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_organization_policies" table
CREATE TABLE `new_organization_policies` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `mfa_required` bool NOT NULL DEFAULT (false), `allowed_login_methods` json NOT NULL, `session_absolute_lifetime_seconds` integer NOT NULL DEFAULT (604800), `session_idle_lifetime_seconds` integer NOT NULL DEFAULT (86400), `password_min_length` integer NOT NULL DEFAULT (8), `enforce_sso` bool NOT NULL DEFAULT (false), `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `organization_policies_organizations_policy` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- copy rows from old table "organization_policies" to new temporary table "new_organization_policies"
INSERT INTO `new_organization_policies` (`id`, `created_at`, `updated_at`, `mfa_required`, `allowed_login_methods`, `session_absolute_lifetime_seconds`, `session_idle_lifetime_seconds`, `password_min_length`, `enforce_sso`, `organization_id`) SELECT `id`, `created_at`, `updated_at`, `mfa_required`, `allowed_login_methods`, `session_absolute_lifetime_seconds`, `session_idle_lifetime_seconds`, IFNULL(`password_min_length`, (8)) AS `password_min_length`, `enforce_sso`, `organization_id` FROM `organization_policies`;
-- drop "organization_policies" table after copying rows
DROP TABLE `organization_policies`;
-- rename temporary table "new_organization_policies" to "organization_policies"
ALTER TABLE `new_organization_policies` RENAME TO `organization_policies`;
-- create index "organization_policies_organization_id_key" to table: "organization_policies"
CREATE UNIQUE INDEX `organization_policies_organization_id_key` ON `organization_policies` (`organization_id`);
-- add column "device_id" to table: "sessions"
ALTER TABLE `sessions` ADD COLUMN `device_id` text NULL;
-- create "email_challenges" table
CREATE TABLE `email_challenges` (`id` text NOT NULL, `purpose` text NOT NULL, `email` text NOT NULL, `user_id` text NULL, `code_hash` text NOT NULL, `link_hash` text NOT NULL, `browser_hash` text NULL, `auth_request_id` text NULL, `attempts` integer NOT NULL DEFAULT (0), `data` json NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `used_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "email_challenges_link_hash_key" to table: "email_challenges"
CREATE UNIQUE INDEX `email_challenges_link_hash_key` ON `email_challenges` (`link_hash`);
-- create index "emailchallenge_email_purpose" to table: "email_challenges"
CREATE INDEX `emailchallenge_email_purpose` ON `email_challenges` (`email`, `purpose`);
-- create index "emailchallenge_user_id" to table: "email_challenges"
CREATE INDEX `emailchallenge_user_id` ON `email_challenges` (`user_id`);
-- create index "emailchallenge_expires_at" to table: "email_challenges"
CREATE INDEX `emailchallenge_expires_at` ON `email_challenges` (`expires_at`);
-- create "funnel_counts" table
CREATE TABLE `funnel_counts` (`id` text NOT NULL, `day` text NOT NULL, `organization_id` text NOT NULL DEFAULT (''), `application_id` text NOT NULL DEFAULT (''), `event` text NOT NULL, `count` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- create index "funnelcount_organization_id_day_application_id_event" to table: "funnel_counts"
CREATE UNIQUE INDEX `funnelcount_organization_id_day_application_id_event` ON `funnel_counts` (`organization_id`, `day`, `application_id`, `event`);
-- create "passkeys" table
CREATE TABLE `passkeys` (`id` text NOT NULL, `name` text NOT NULL DEFAULT ('Passkey'), `credential_id` blob NOT NULL, `public_key` blob NOT NULL, `attestation_type` text NULL, `aaguid` blob NULL, `sign_count` integer NOT NULL DEFAULT (0), `clone_warning` bool NOT NULL DEFAULT (false), `user_verified` bool NOT NULL DEFAULT (false), `backup_eligible` bool NOT NULL DEFAULT (false), `backup_state` bool NOT NULL DEFAULT (false), `transports` json NULL, `rp_id` text NOT NULL, `created_at` datetime NOT NULL, `last_used_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `passkeys_users_passkeys` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- create index "passkeys_credential_id_key" to table: "passkeys"
CREATE UNIQUE INDEX `passkeys_credential_id_key` ON `passkeys` (`credential_id`);
-- create index "passkey_user_id" to table: "passkeys"
CREATE INDEX `passkey_user_id` ON `passkeys` (`user_id`);
-- create "recovery_codes" table
CREATE TABLE `recovery_codes` (`id` text NOT NULL, `code_hash` text NOT NULL, `used_at` datetime NULL, `created_at` datetime NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `recovery_codes_users_recovery_codes` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- create index "recoverycode_user_id_code_hash" to table: "recovery_codes"
CREATE UNIQUE INDEX `recoverycode_user_id_code_hash` ON `recovery_codes` (`user_id`, `code_hash`);
-- create "totp_credentials" table
CREATE TABLE `totp_credentials` (`id` text NOT NULL, `name` text NOT NULL DEFAULT ('Authenticator app'), `secret_sealed` blob NOT NULL, `last_used_step` integer NOT NULL DEFAULT (0), `confirmed_at` datetime NULL, `created_at` datetime NOT NULL, `last_used_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `totp_credentials_users_totp_credentials` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- create index "totpcredential_user_id" to table: "totp_credentials"
CREATE INDEX `totpcredential_user_id` ON `totp_credentials` (`user_id`);
-- create "web_authn_ceremonies" table
CREATE TABLE `web_authn_ceremonies` (`id` text NOT NULL, `token_hash` text NOT NULL, `purpose` text NOT NULL, `user_id` text NULL, `session_data` blob NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "web_authn_ceremonies_token_hash_key" to table: "web_authn_ceremonies"
CREATE UNIQUE INDEX `web_authn_ceremonies_token_hash_key` ON `web_authn_ceremonies` (`token_hash`);
-- create index "webauthnceremony_expires_at" to table: "web_authn_ceremonies"
CREATE INDEX `webauthnceremony_expires_at` ON `web_authn_ceremonies` (`expires_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "webauthnceremony_expires_at" to table: "web_authn_ceremonies"
DROP INDEX `webauthnceremony_expires_at`;
-- reverse: create index "web_authn_ceremonies_token_hash_key" to table: "web_authn_ceremonies"
DROP INDEX `web_authn_ceremonies_token_hash_key`;
-- reverse: create "web_authn_ceremonies" table
DROP TABLE `web_authn_ceremonies`;
-- reverse: create index "totpcredential_user_id" to table: "totp_credentials"
DROP INDEX `totpcredential_user_id`;
-- reverse: create "totp_credentials" table
DROP TABLE `totp_credentials`;
-- reverse: create index "recoverycode_user_id_code_hash" to table: "recovery_codes"
DROP INDEX `recoverycode_user_id_code_hash`;
-- reverse: create "recovery_codes" table
DROP TABLE `recovery_codes`;
-- reverse: create index "passkey_user_id" to table: "passkeys"
DROP INDEX `passkey_user_id`;
-- reverse: create index "passkeys_credential_id_key" to table: "passkeys"
DROP INDEX `passkeys_credential_id_key`;
-- reverse: create "passkeys" table
DROP TABLE `passkeys`;
-- reverse: create index "funnelcount_organization_id_day_application_id_event" to table: "funnel_counts"
DROP INDEX `funnelcount_organization_id_day_application_id_event`;
-- reverse: create "funnel_counts" table
DROP TABLE `funnel_counts`;
-- reverse: create index "emailchallenge_expires_at" to table: "email_challenges"
DROP INDEX `emailchallenge_expires_at`;
-- reverse: create index "emailchallenge_user_id" to table: "email_challenges"
DROP INDEX `emailchallenge_user_id`;
-- reverse: create index "emailchallenge_email_purpose" to table: "email_challenges"
DROP INDEX `emailchallenge_email_purpose`;
-- reverse: create index "email_challenges_link_hash_key" to table: "email_challenges"
DROP INDEX `email_challenges_link_hash_key`;
-- reverse: create "email_challenges" table
DROP TABLE `email_challenges`;
-- reverse: add column "device_id" to table: "sessions"
ALTER TABLE `sessions` DROP COLUMN `device_id`;
-- reverse: create index "organization_policies_organization_id_key" to table: "organization_policies"
DROP INDEX `organization_policies_organization_id_key`;
-- reverse: create "new_organization_policies" table
DROP TABLE `new_organization_policies`;
