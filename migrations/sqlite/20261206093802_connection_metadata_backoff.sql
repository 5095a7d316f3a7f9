-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_connections" table
CREATE TABLE `new_connections` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `protocol` text NOT NULL, `name` text NOT NULL, `state` text NOT NULL DEFAULT ('DRAFT'), `preset` text NOT NULL DEFAULT ('GENERIC'), `idp_entity_id` text NULL, `idp_sso_url` text NULL, `idp_sso_binding` text NULL, `idp_certificates` json NULL, `idp_metadata_url` text NULL, `idp_metadata_refreshed_at` datetime NULL, `idp_metadata_failures` integer NOT NULL DEFAULT (0), `idp_metadata_retry_at` datetime NULL, `idp_metadata_error` text NULL, `sp_keys` json NULL, `allow_idp_initiated` bool NOT NULL DEFAULT (false), `oidc_issuer` text NULL, `oidc_client_id` text NULL, `oidc_client_secret_sealed` blob NULL, `oidc_scopes` json NULL, `attribute_mapping` json NULL, `default_role_id` text NULL, `group_role_mappings` json NULL, `trust_upstream_amr` bool NOT NULL DEFAULT (false), `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `connections_organizations_connections` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- copy rows from old table "connections" to new temporary table "new_connections"
INSERT INTO `new_connections` (`id`, `created_at`, `updated_at`, `protocol`, `name`, `state`, `preset`, `idp_entity_id`, `idp_sso_url`, `idp_sso_binding`, `idp_certificates`, `idp_metadata_url`, `idp_metadata_refreshed_at`, `sp_keys`, `allow_idp_initiated`, `oidc_issuer`, `oidc_client_id`, `oidc_client_secret_sealed`, `oidc_scopes`, `attribute_mapping`, `default_role_id`, `group_role_mappings`, `trust_upstream_amr`, `organization_id`) SELECT `id`, `created_at`, `updated_at`, `protocol`, `name`, `state`, `preset`, `idp_entity_id`, `idp_sso_url`, `idp_sso_binding`, `idp_certificates`, `idp_metadata_url`, `idp_metadata_refreshed_at`, `sp_keys`, `allow_idp_initiated`, `oidc_issuer`, `oidc_client_id`, `oidc_client_secret_sealed`, `oidc_scopes`, `attribute_mapping`, `default_role_id`, `group_role_mappings`, `trust_upstream_amr`, `organization_id` FROM `connections`;
-- drop "connections" table after copying rows
DROP TABLE `connections`;
-- rename temporary table "new_connections" to "connections"
ALTER TABLE `new_connections` RENAME TO `connections`;
-- create index "connection_organization_id_id" to table: "connections"
CREATE INDEX `connection_organization_id_id` ON `connections` (`organization_id`, `id`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "connection_organization_id_id" to table: "connections"
DROP INDEX `connection_organization_id_id`;
-- reverse: create "new_connections" table
DROP TABLE `new_connections`;
