-- Custom SQL migration (drizzle-kit generate --custom): the functions and triggers that keep usage_rollups and
-- usage_group_rollups equal to usage_records, and the backfill of the records written before them.
--
-- Rollups are maintained by statement-level triggers with transition tables: every statement that adds, removes or
-- changes records (the usage writer's INSERT … ON CONFLICT DO NOTHING or COPY, the retention sweep's DELETE, an
-- operator's UPDATE) updates the rollups in that same statement, from exactly the rows it changed. A re-sent batch
-- whose rows already exist changes no row, so it adds nothing; the rollups cannot drift from the records whoever
-- writes them. Upserts go in key order, so concurrent writers lock rollup rows in the same order (no deadlock).
--
-- Latency histograms: bin(ms) is exact below 32 ms (bin = ms); from 32 ms on, each power of two [2^k, 2^(k+1)) is
-- cut into 16 bins of width 2^(k-4), so any value lies within 1/32 of its bin's midpoint (the JavaScript side,
-- src/services/usage-histogram.ts, holds the inverse and the percentile). 448 bins cover every integer.
-- usage_group_rollups, as 0003 made it, made again partitioned by group_by (drizzle-kit cannot declare partitions):
-- an overview reads one dimension, and scanning its partition reads no row of the others.
DROP TABLE usage_group_rollups;
--> statement-breakpoint
CREATE TABLE usage_group_rollups (
	"group_by" text NOT NULL,
	"bucket_start" timestamp with time zone NOT NULL,
	"group_key" text NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" numeric DEFAULT '0' NOT NULL,
	"ttft_count" bigint DEFAULT 0 NOT NULL,
	"latency_hist" numeric DEFAULT '0' NOT NULL,
	"ttft_hist" numeric DEFAULT '0' NOT NULL,
	"quantiles" double precision[],
	CONSTRAINT "usage_group_rollups_pkey" PRIMARY KEY("group_by","bucket_start","group_key")
) PARTITION BY LIST (group_by);
--> statement-breakpoint
CREATE TABLE usage_group_rollups_all PARTITION OF usage_group_rollups FOR VALUES IN ('ALL');
--> statement-breakpoint
CREATE TABLE usage_group_rollups_model PARTITION OF usage_group_rollups FOR VALUES IN ('MODEL');
--> statement-breakpoint
CREATE TABLE usage_group_rollups_provider PARTITION OF usage_group_rollups FOR VALUES IN ('PROVIDER');
--> statement-breakpoint
CREATE TABLE usage_group_rollups_api_key PARTITION OF usage_group_rollups FOR VALUES IN ('API_KEY');
--> statement-breakpoint
CREATE INDEX "usage_group_rollups_unsealed_idx" ON "usage_group_rollups" USING btree ("bucket_start") WHERE quantiles is null;
--> statement-breakpoint
CREATE FUNCTION usage_ms_bin(ms integer) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN ms < 32 THEN greatest(ms, 0)
  -- width_bucket counts the thresholds <= ms: j = k - 4 for 2^k <= ms < 2^(k+1), and ms >> j is in [16, 32)
  ELSE 16 * width_bucket(ms, '{32,64,128,256,512,1024,2048,4096,8192,16384,32768,65536,131072,262144,524288,1048576,2097152,4194304,8388608,16777216,33554432,67108864,134217728,268435456,536870912,1073741824}'::integer[])
    + (ms >> width_bucket(ms, '{32,64,128,256,512,1024,2048,4096,8192,16384,32768,65536,131072,262144,524288,1048576,2097152,4194304,8388608,16777216,33554432,67108864,134217728,268435456,536870912,1073741824}'::integer[]))
END;
--> statement-breakpoint
-- One sample in bin b as a histogram: a 1 in the 12-digit field b, i.e. 10^(12 b). A field holds up to 10^12 - 1
-- samples, so sums never carry into the next bin.
CREATE FUNCTION usage_hist_unit(bin integer) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ('1e' || (12 * bin))::numeric;
--> statement-breakpoint
-- Adds (TG_ARGV[0] = '1') or subtracts ('-1') the rows of the transition table `changed`. The records are summed
-- per rollup key once; the per-group rows are summed from those sums.
CREATE FUNCTION usage_rollups_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign integer := TG_ARGV[0]::integer;
BEGIN
  WITH by_key AS MATERIALIZED (
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket_start, api_key_id, model, provider, status,
      count(*) AS requests, count(*) FILTER (WHERE status <> 'OK') AS errors, sum(prompt_tokens) AS prompt_tokens,
      sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd, count(ttft_ms) AS ttft_count,
      sum(usage_hist_unit(usage_ms_bin(latency_ms))) AS latency_hist,
      coalesce(sum(usage_hist_unit(usage_ms_bin(ttft_ms))), 0) AS ttft_hist
    FROM changed GROUP BY 1, 2, 3, 4, 5),
  by_record_key AS (
    INSERT INTO usage_rollups AS r (bucket_start, api_key_id, model, provider, status, requests, errors, prompt_tokens,
      completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist)
    SELECT bucket_start, api_key_id, model, provider, status, sign * requests, sign * errors, sign * prompt_tokens,
      sign * completion_tokens, sign * cost_usd, sign * ttft_count, sign * latency_hist, sign * ttft_hist
    FROM by_key ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (bucket_start, api_key_id, model, provider, status) DO UPDATE SET
      requests = r.requests + excluded.requests, errors = r.errors + excluded.errors,
      prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = r.completion_tokens + excluded.completion_tokens,
      cost_usd = r.cost_usd + excluded.cost_usd, ttft_count = r.ttft_count + excluded.ttft_count,
      latency_hist = r.latency_hist + excluded.latency_hist, ttft_hist = r.ttft_hist + excluded.ttft_hist)
  INSERT INTO usage_group_rollups AS g (group_by, bucket_start, group_key, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist)
  SELECT d.group_by, k.bucket_start, d.group_key, sign * sum(requests), sign * sum(errors), sign * sum(prompt_tokens),
    sign * sum(completion_tokens), sign * sum(cost_usd), sign * sum(ttft_count), sign * sum(latency_hist),
    sign * sum(ttft_hist)
  FROM by_key k CROSS JOIN LATERAL (VALUES ('ALL', ''), ('MODEL', k.model), ('PROVIDER', coalesce(k.provider, '')),
    ('API_KEY', coalesce(k.api_key_id::text, ''))) AS d(group_by, group_key)
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (group_by, bucket_start, group_key) DO UPDATE SET
    requests = g.requests + excluded.requests, errors = g.errors + excluded.errors,
    prompt_tokens = g.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = g.completion_tokens + excluded.completion_tokens,
    cost_usd = g.cost_usd + excluded.cost_usd, ttft_count = g.ttft_count + excluded.ttft_count,
    latency_hist = g.latency_hist + excluded.latency_hist, ttft_hist = g.ttft_hist + excluded.ttft_hist,
    -- the cached percentiles no longer describe the row
    quantiles = NULL;

  IF sign < 0 THEN
    -- an hour whose records are all gone leaves no row behind (the retention sweep empties whole hours)
    DELETE FROM usage_rollups WHERE requests = 0
      AND bucket_start IN (SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM changed);
    DELETE FROM usage_group_rollups WHERE requests = 0
      AND bucket_start IN (SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM changed);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION usage_rollups_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE usage_rollups, usage_group_rollups;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_insert AFTER INSERT ON usage_records REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_delete AFTER DELETE ON usage_records REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('-1');
--> statement-breakpoint
-- an UPDATE takes its old rows out and puts its new rows in (one transition table per trigger)
CREATE TRIGGER usage_rollups_on_update_new AFTER UPDATE ON usage_records REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_update_old AFTER UPDATE ON usage_records REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_apply('-1');
--> statement-breakpoint
CREATE TRIGGER usage_rollups_on_truncate AFTER TRUNCATE ON usage_records
  FOR EACH STATEMENT EXECUTE FUNCTION usage_rollups_clear();
--> statement-breakpoint
-- Rebuilds both tables from usage_records in two statements (the same sums as the trigger), for the backfill below
-- and for bulk loads made with the triggers disabled (bench/overview.ts).
CREATE FUNCTION usage_rollups_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE usage_rollups, usage_group_rollups;
  INSERT INTO usage_rollups (bucket_start, api_key_id, model, provider, status, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist)
  SELECT date_trunc('hour', created_at, 'UTC'), api_key_id, model, provider, status,
    count(*), count(*) FILTER (WHERE status <> 'OK'), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd),
    count(ttft_ms), sum(usage_hist_unit(usage_ms_bin(latency_ms))),
    coalesce(sum(usage_hist_unit(usage_ms_bin(ttft_ms))), 0)
  FROM usage_records GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO usage_group_rollups (group_by, bucket_start, group_key, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist)
  SELECT d.group_by, r.bucket_start, d.group_key, sum(requests), sum(errors), sum(prompt_tokens),
    sum(completion_tokens), sum(cost_usd), sum(ttft_count), sum(latency_hist), sum(ttft_hist)
  FROM usage_rollups r CROSS JOIN LATERAL (VALUES ('ALL', ''), ('MODEL', r.model), ('PROVIDER', coalesce(r.provider, '')),
    ('API_KEY', coalesce(r.api_key_id::text, ''))) AS d(group_by, group_key)
  GROUP BY 1, 2, 3;
END
$$;
--> statement-breakpoint
-- the records of a gateway upgraded to this version
SELECT usage_rollups_rebuild();
