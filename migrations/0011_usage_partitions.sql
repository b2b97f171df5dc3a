-- Custom SQL migration (drizzle-kit generate --custom): usage_records made again, range-partitioned by created_at into
-- one partition per UTC day (usage_records_pYYYYMMDD). There is no DEFAULT partition: with one, Postgres cannot read
-- the partitions in order (a newest page becomes a Merge Append that descends every day's index). The usage writer
-- makes a batch's days before inserting it (usage_records_add_partition, src/db/usage-partitions.ts), and makes the
-- day and retries when an insert still finds none. Retention then drops a whole day
-- (src/db/usage-partitions.ts) instead of deleting its rows one by one, and the newest pages and the inserts touch
-- only the newest day's indexes however long the history is. drizzle-kit cannot declare partitions: schema.ts keeps
-- describing the columns and indexes, which are the same.
--
-- The existing rows move in this migration's transaction: the old table is renamed, its indexes dropped (nothing
-- reads them during the copy, and building the new ones after it is cheaper than maintaining them row by row), the
-- rows copied into the new table's day partitions, the old table dropped. The rollup triggers of 0004 are made on
-- the new table only after the copy: the moved records are already counted in the rollups, and must not be again.
-- Triggers with transition tables are allowed on a partitioned table as statement triggers, which these are.
ALTER TABLE usage_records RENAME TO usage_records_0010;
--> statement-breakpoint
ALTER TABLE usage_records_0010 RENAME CONSTRAINT usage_records_pkey TO usage_records_0010_pkey;
--> statement-breakpoint
DROP INDEX usage_key_created_idx;
--> statement-breakpoint
DROP INDEX usage_model_created_idx;
--> statement-breakpoint
DROP INDEX usage_provider_created_idx;
--> statement-breakpoint
DROP INDEX usage_team_created_idx;
--> statement-breakpoint
DROP INDEX usage_end_user_created_idx;
--> statement-breakpoint
-- the same columns, in the same order, with the same types, NOT NULLs and defaults
CREATE TABLE usage_records (LIKE usage_records_0010 INCLUDING DEFAULTS INCLUDING STORAGE) PARTITION BY RANGE (created_at);
--> statement-breakpoint
-- Adds the partition of one UTC day if it is missing; true when it did. The new day is made as a plain table and
-- attached, which locks the parent less than CREATE TABLE … PARTITION OF (SHARE UPDATE EXCLUSIVE, so inserts and reads
-- go on). Instances (and writers) adding the same day at once take turns on the lock.
CREATE FUNCTION usage_records_add_partition(day date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  part text := 'usage_records_p' || to_char(day, 'YYYYMMDD');
  lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  PERFORM pg_advisory_xact_lock(7316042220);
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE usage_records INCLUDING DEFAULTS INCLUDING STORAGE)', part);
  EXECUTE format('ALTER TABLE usage_records ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  RETURN true;
END
$$;
--> statement-breakpoint
-- one partition for every day that has records, found on the old primary key (created_at first) a day at a time
SELECT usage_records_add_partition(day) FROM (
  WITH RECURSIVE days(day) AS (
    SELECT (min(created_at) AT TIME ZONE 'UTC')::date FROM usage_records_0010
    UNION ALL
    SELECT (SELECT (min(created_at) AT TIME ZONE 'UTC')::date FROM usage_records_0010
      WHERE created_at >= (days.day + 1)::timestamp AT TIME ZONE 'UTC')
    FROM days WHERE days.day IS NOT NULL)
  SELECT day FROM days WHERE day IS NOT NULL) AS d;
--> statement-breakpoint
INSERT INTO usage_records SELECT * FROM usage_records_0010;
--> statement-breakpoint
DROP TABLE usage_records_0010;
--> statement-breakpoint
ALTER TABLE usage_records ADD CONSTRAINT usage_records_pkey PRIMARY KEY (created_at, id);
--> statement-breakpoint
CREATE INDEX "usage_key_created_idx" ON "usage_records" USING btree ("api_key_id","created_at","id");
--> statement-breakpoint
CREATE INDEX "usage_model_created_idx" ON "usage_records" USING btree ("model","created_at");
--> statement-breakpoint
CREATE INDEX "usage_provider_created_idx" ON "usage_records" USING btree ("provider","created_at");
--> statement-breakpoint
CREATE INDEX "usage_team_created_idx" ON "usage_records" USING btree ("team_id","created_at") WHERE team_id is not null;
--> statement-breakpoint
CREATE INDEX "usage_end_user_created_idx" ON "usage_records" USING btree ("end_user","created_at") WHERE end_user is not null;
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_insert AFTER INSERT ON usage_records REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_delete AFTER DELETE ON usage_records REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('-1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_update_new AFTER UPDATE ON usage_records REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_update_old AFTER UPDATE ON usage_records REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('-1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_truncate AFTER TRUNCATE ON usage_records
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_clear();
