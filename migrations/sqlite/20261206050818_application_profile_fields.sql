-- +goose Up
-- add column "profile_fields" to table: "applications"
ALTER TABLE `applications` ADD COLUMN `profile_fields` json NULL;

-- +goose Down
-- reverse: add column "profile_fields" to table: "applications"
ALTER TABLE `applications` DROP COLUMN `profile_fields`;
