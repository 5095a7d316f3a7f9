-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_domains" table
CREATE TABLE `new_domains` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `domain` text NOT NULL, `verification_state` text NOT NULL DEFAULT ('PENDING'), `txt_token` text NOT NULL, `verified_at` datetime NULL, `last_checked_at` datetime NULL, `missing_since` datetime NULL, `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `domains_organizations_domains` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- copy rows from old table "domains" to new temporary table "new_domains"
INSERT INTO `new_domains` (`id`, `created_at`, `updated_at`, `domain`, `verification_state`, `txt_token`, `verified_at`, `organization_id`) SELECT `id`, `created_at`, `updated_at`, `domain`, `verification_state`, `txt_token`, `verified_at`, `organization_id` FROM `domains`;
-- drop "domains" table after copying rows
DROP TABLE `domains`;
-- rename temporary table "new_domains" to "domains"
ALTER TABLE `new_domains` RENAME TO `domains`;
-- create index "domain_organization_id_id" to table: "domains"
CREATE INDEX `domain_organization_id_id` ON `domains` (`organization_id`, `id`);
-- create index "domain_organization_id_domain" to table: "domains"
CREATE UNIQUE INDEX `domain_organization_id_domain` ON `domains` (`organization_id`, `domain`);
-- create index "domain_domain" to table: "domains"
CREATE UNIQUE INDEX `domain_domain` ON `domains` (`domain`) WHERE verification_state = 'VERIFIED';
-- create index "domain_last_checked_at" to table: "domains"
CREATE INDEX `domain_last_checked_at` ON `domains` (`last_checked_at`) WHERE verification_state = 'VERIFIED';
-- create "domain_events" table
CREATE TABLE `domain_events` (`id` text NOT NULL, `type` text NOT NULL, `domain_id` text NOT NULL, `organization_id` text NOT NULL, `payload` json NOT NULL, `created_at` datetime NOT NULL, `delivered_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "domainevent_delivered_at_id" to table: "domain_events"
CREATE INDEX `domainevent_delivered_at_id` ON `domain_events` (`delivered_at`, `id`);
-- create index "domainevent_organization_id_id" to table: "domain_events"
CREATE INDEX `domainevent_organization_id_id` ON `domain_events` (`organization_id`, `id`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "domainevent_organization_id_id" to table: "domain_events"
DROP INDEX `domainevent_organization_id_id`;
-- reverse: create index "domainevent_delivered_at_id" to table: "domain_events"
DROP INDEX `domainevent_delivered_at_id`;
-- reverse: create "domain_events" table
DROP TABLE `domain_events`;
-- reverse: create index "domain_last_checked_at" to table: "domains"
DROP INDEX `domain_last_checked_at`;
-- reverse: create index "domain_domain" to table: "domains"
DROP INDEX `domain_domain`;
-- reverse: create index "domain_organization_id_domain" to table: "domains"
DROP INDEX `domain_organization_id_domain`;
-- reverse: create index "domain_organization_id_id" to table: "domains"
DROP INDEX `domain_organization_id_id`;
-- reverse: create "new_domains" table
DROP TABLE `new_domains`;
