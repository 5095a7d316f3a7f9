-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_connections" table
CREATE TABLE `new_connections` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `protocol` text NOT NULL, `name` text NOT NULL, `state` text NOT NULL DEFAULT ('DRAFT'), `preset` text NOT NULL DEFAULT ('GENERIC'), `idp_entity_id` text NULL, `idp_sso_url` text NULL, `idp_sso_binding` text NULL, `idp_certificates` json NULL, `idp_metadata_url` text NULL, `idp_metadata_refreshed_at` datetime NULL, `sp_keys` json NULL, `allow_idp_initiated` bool NOT NULL DEFAULT (false), `oidc_issuer` text NULL, `oidc_client_id` text NULL, `oidc_client_secret_sealed` blob NULL, `oidc_scopes` json NULL, `attribute_mapping` json NULL, `default_role_id` text NULL, `group_role_mappings` json NULL, `trust_upstream_amr` bool NOT NULL DEFAULT (false), `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `connections_organizations_connections` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- copy rows from old table "connections" to new temporary table "new_connections"
INSERT INTO `new_connections` (`id`, `created_at`, `updated_at`, `protocol`, `name`, `state`, `organization_id`) SELECT `id`, `created_at`, `updated_at`, `protocol`, `name`, `state`, `organization_id` FROM `connections`;
-- drop "connections" table after copying rows
DROP TABLE `connections`;
-- rename temporary table "new_connections" to "connections"
ALTER TABLE `new_connections` RENAME TO `connections`;
-- create index "connection_organization_id_id" to table: "connections"
CREATE INDEX `connection_organization_id_id` ON `connections` (`organization_id`, `id`);
-- create "connection_login_attempts" table
CREATE TABLE `connection_login_attempts` (`id` text NOT NULL, `created_at` datetime NOT NULL, `succeeded` bool NOT NULL, `error_code` text NULL, `error_reason` text NULL, `subject` text NULL, `email` text NULL, `attributes` json NULL, `connection_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `connection_login_attempts_connections_login_attempts` FOREIGN KEY (`connection_id`) REFERENCES `connections` (`id`) ON DELETE CASCADE);
-- create index "connectionloginattempt_connection_id_id" to table: "connection_login_attempts"
CREATE INDEX `connectionloginattempt_connection_id_id` ON `connection_login_attempts` (`connection_id`, `id`);
-- create "federated_identities" table
CREATE TABLE `federated_identities` (`id` text NOT NULL, `subject` text NOT NULL, `created_at` datetime NOT NULL, `last_sign_in_at` datetime NULL, `connection_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `federated_identities_connections_federated_identities` FOREIGN KEY (`connection_id`) REFERENCES `connections` (`id`) ON DELETE CASCADE, CONSTRAINT `federated_identities_users_federated_identities` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- create index "federatedidentity_connection_id_subject" to table: "federated_identities"
CREATE UNIQUE INDEX `federatedidentity_connection_id_subject` ON `federated_identities` (`connection_id`, `subject`);
-- create index "federatedidentity_user_id" to table: "federated_identities"
CREATE INDEX `federatedidentity_user_id` ON `federated_identities` (`user_id`);
-- create "saml_assertion_uses" table
CREATE TABLE `saml_assertion_uses` (`id` text NOT NULL, `assertion_id` text NOT NULL, `expires_at` datetime NOT NULL, `connection_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `saml_assertion_uses_connections_assertion_uses` FOREIGN KEY (`connection_id`) REFERENCES `connections` (`id`) ON DELETE CASCADE);
-- create index "samlassertionuse_connection_id_assertion_id" to table: "saml_assertion_uses"
CREATE UNIQUE INDEX `samlassertionuse_connection_id_assertion_id` ON `saml_assertion_uses` (`connection_id`, `assertion_id`);
-- create index "samlassertionuse_expires_at" to table: "saml_assertion_uses"
CREATE INDEX `samlassertionuse_expires_at` ON `saml_assertion_uses` (`expires_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "samlassertionuse_expires_at" to table: "saml_assertion_uses"
DROP INDEX `samlassertionuse_expires_at`;
-- reverse: create index "samlassertionuse_connection_id_assertion_id" to table: "saml_assertion_uses"
DROP INDEX `samlassertionuse_connection_id_assertion_id`;
-- reverse: create "saml_assertion_uses" table
DROP TABLE `saml_assertion_uses`;
-- reverse: create index "federatedidentity_user_id" to table: "federated_identities"
DROP INDEX `federatedidentity_user_id`;
-- reverse: create index "federatedidentity_connection_id_subject" to table: "federated_identities"
DROP INDEX `federatedidentity_connection_id_subject`;
-- reverse: create "federated_identities" table
DROP TABLE `federated_identities`;
-- reverse: create index "connectionloginattempt_connection_id_id" to table: "connection_login_attempts"
DROP INDEX `connectionloginattempt_connection_id_id`;
-- reverse: create "connection_login_attempts" table
DROP TABLE `connection_login_attempts`;
-- reverse: create index "connection_organization_id_id" to table: "connections"
DROP INDEX `connection_organization_id_id`;
-- reverse: create "new_connections" table
DROP TABLE `new_connections`;
