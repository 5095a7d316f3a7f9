-- +goose Up
-- modify "applications" table
ALTER TABLE "applications" ADD COLUMN "profile_fields" jsonb NULL;

-- +goose Down
-- reverse: modify "applications" table
ALTER TABLE "applications" DROP COLUMN "profile_fields";
