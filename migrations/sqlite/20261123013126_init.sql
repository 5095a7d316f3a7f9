-- +goose Up
-- create "api_keys" table
CREATE TABLE `api_keys` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `prefix` text NOT NULL, `secret_hash` text NOT NULL, `scopes` json NULL, `last_used_at` datetime NULL, `revoked_at` datetime NULL, `organization_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `api_keys_organizations_api_keys` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- create index "api_keys_prefix_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_prefix_key` ON `api_keys` (`prefix`);
-- create "applications" table
CREATE TABLE `applications` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `type` text NOT NULL, `client_id` text NOT NULL, `secret_hash` text NULL, `redirect_uris` json NULL, `post_logout_redirect_uris` json NULL, `grant_types` json NULL, `access_token_lifetime_seconds` integer NOT NULL DEFAULT (900), `id_token_lifetime_seconds` integer NOT NULL DEFAULT (3600), `refresh_token_lifetime_seconds` integer NOT NULL DEFAULT (2592000), PRIMARY KEY (`id`));
-- create index "applications_client_id_key" to table: "applications"
CREATE UNIQUE INDEX `applications_client_id_key` ON `applications` (`client_id`);
-- create "audit_events" table
CREATE TABLE `audit_events` (`id` text NOT NULL, `organization_id` text NULL, `action` text NOT NULL, `actor` text NOT NULL, `actor_type` text NOT NULL, `target_type` text NULL, `target_id` text NULL, `ip` text NULL, `user_agent` text NULL, `request_id` text NULL, `metadata` json NULL, `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "auditevent_organization_id_created_at" to table: "audit_events"
CREATE INDEX `auditevent_organization_id_created_at` ON `audit_events` (`organization_id`, `created_at`);
-- create index "auditevent_target_id" to table: "audit_events"
CREATE INDEX `auditevent_target_id` ON `audit_events` (`target_id`);
-- create "connections" table
CREATE TABLE `connections` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `protocol` text NOT NULL, `name` text NOT NULL, `state` text NOT NULL DEFAULT ('DRAFT'), `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `connections_organizations_connections` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- create "domains" table
CREATE TABLE `domains` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `domain` text NOT NULL, `verification_state` text NOT NULL DEFAULT ('PENDING'), `txt_token` text NOT NULL, `verified_at` datetime NULL, `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `domains_organizations_domains` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- create index "domains_domain_key" to table: "domains"
CREATE UNIQUE INDEX `domains_domain_key` ON `domains` (`domain`);
-- create "memberships" table
CREATE TABLE `memberships` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('ACTIVE'), `organization_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `memberships_organizations_memberships` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE, CONSTRAINT `memberships_users_memberships` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- create index "membership_user_id_organization_id" to table: "memberships"
CREATE UNIQUE INDEX `membership_user_id_organization_id` ON `memberships` (`user_id`, `organization_id`);
-- create index "membership_organization_id_id" to table: "memberships"
CREATE INDEX `membership_organization_id_id` ON `memberships` (`organization_id`, `id`);
-- create "organizations" table
CREATE TABLE `organizations` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `slug` text NOT NULL, `logo_url` text NULL, `primary_color` text NULL, `metadata` json NULL, PRIMARY KEY (`id`));
-- create index "organizations_slug_key" to table: "organizations"
CREATE UNIQUE INDEX `organizations_slug_key` ON `organizations` (`slug`);
-- create "organization_policies" table
CREATE TABLE `organization_policies` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `mfa_required` bool NOT NULL DEFAULT (false), `allowed_login_methods` json NOT NULL, `session_absolute_lifetime_seconds` integer NOT NULL DEFAULT (604800), `session_idle_lifetime_seconds` integer NOT NULL DEFAULT (86400), `password_min_length` integer NOT NULL DEFAULT (10), `enforce_sso` bool NOT NULL DEFAULT (false), `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `organization_policies_organizations_policy` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- create index "organization_policies_organization_id_key" to table: "organization_policies"
CREATE UNIQUE INDEX `organization_policies_organization_id_key` ON `organization_policies` (`organization_id`);
-- create "roles" table
CREATE TABLE `roles` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key` text NOT NULL, `name` text NOT NULL, `description` text NULL, `permissions` json NULL, `builtin` bool NOT NULL DEFAULT (false), `organization_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `roles_organizations_roles` FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`) ON DELETE CASCADE);
-- create index "role_organization_id_key" to table: "roles"
CREATE UNIQUE INDEX `role_organization_id_key` ON `roles` (`organization_id`, `key`);
-- create "users" table
CREATE TABLE `users` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `email` text NOT NULL, `email_verified` bool NOT NULL DEFAULT (false), `name` text NULL, `given_name` text NULL, `family_name` text NULL, `locale` text NULL, `picture` text NULL, `status` text NOT NULL DEFAULT ('ACTIVE'), `last_login_at` datetime NULL, `metadata` json NULL, PRIMARY KEY (`id`));
-- create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- create "membership_roles" table
CREATE TABLE `membership_roles` (`membership_id` text NOT NULL, `role_id` text NOT NULL, PRIMARY KEY (`membership_id`, `role_id`), CONSTRAINT `membership_roles_membership_id` FOREIGN KEY (`membership_id`) REFERENCES `memberships` (`id`) ON DELETE CASCADE, CONSTRAINT `membership_roles_role_id` FOREIGN KEY (`role_id`) REFERENCES `roles` (`id`) ON DELETE CASCADE);

-- +goose Down
-- reverse: create "membership_roles" table
DROP TABLE `membership_roles`;
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX `users_email_key`;
-- reverse: create "users" table
DROP TABLE `users`;
-- reverse: create index "role_organization_id_key" to table: "roles"
DROP INDEX `role_organization_id_key`;
-- reverse: create "roles" table
DROP TABLE `roles`;
-- reverse: create index "organization_policies_organization_id_key" to table: "organization_policies"
DROP INDEX `organization_policies_organization_id_key`;
-- reverse: create "organization_policies" table
DROP TABLE `organization_policies`;
-- reverse: create index "organizations_slug_key" to table: "organizations"
DROP INDEX `organizations_slug_key`;
-- reverse: create "organizations" table
DROP TABLE `organizations`;
-- reverse: create index "membership_organization_id_id" to table: "memberships"
DROP INDEX `membership_organization_id_id`;
-- reverse: create index "membership_user_id_organization_id" to table: "memberships"
DROP INDEX `membership_user_id_organization_id`;
-- reverse: create "memberships" table
DROP TABLE `memberships`;
-- reverse: create index "domains_domain_key" to table: "domains"
DROP INDEX `domains_domain_key`;
-- reverse: create "domains" table
DROP TABLE `domains`;
-- reverse: create "connections" table
DROP TABLE `connections`;
-- reverse: create index "auditevent_target_id" to table: "audit_events"
DROP INDEX `auditevent_target_id`;
-- reverse: create index "auditevent_organization_id_created_at" to table: "audit_events"
DROP INDEX `auditevent_organization_id_created_at`;
-- reverse: create "audit_events" table
DROP TABLE `audit_events`;
-- reverse: create index "applications_client_id_key" to table: "applications"
DROP INDEX `applications_client_id_key`;
-- reverse: create "applications" table
DROP TABLE `applications`;
-- reverse: create index "api_keys_prefix_key" to table: "api_keys"
DROP INDEX `api_keys_prefix_key`;
-- reverse: create "api_keys" table
DROP TABLE `api_keys`;
