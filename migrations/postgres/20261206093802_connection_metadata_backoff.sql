-- +goose Up
-- modify "connections" table
ALTER TABLE "connections" ADD COLUMN "idp_metadata_failures" bigint NOT NULL DEFAULT 0, ADD COLUMN "idp_metadata_retry_at" timestamptz NULL, ADD COLUMN "idp_metadata_error" character varying NULL;

-- +goose Down
-- reverse: modify "connections" table
ALTER TABLE "connections" DROP COLUMN "idp_metadata_error", DROP COLUMN "idp_metadata_retry_at", DROP COLUMN "idp_metadata_failures";
