-- +goose Up
-- add column "code_replayed_at" to table: "auth_requests"
ALTER TABLE `auth_requests` ADD COLUMN `code_replayed_at` datetime NULL;

-- +goose Down
-- reverse: add column "code_replayed_at" to table: "auth_requests"
ALTER TABLE `auth_requests` DROP COLUMN `code_replayed_at`;
