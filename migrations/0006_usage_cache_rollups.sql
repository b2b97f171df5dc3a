-- The rollups gain the response cache's sums: cache_hits (records with a cache_hit) and cost_saved_usd (the exact sum
-- of the records' cost_saved_usd). The functions of 0004 are replaced by the same ones summing the two new columns;
-- the triggers call them by name, so they stay as they are.
ALTER TABLE "usage_group_rollups" ADD COLUMN "cache_hits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_group_rollups" ADD COLUMN "cost_saved_usd" numeric DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_rollups" ADD COLUMN "cache_hits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_rollups" ADD COLUMN "cost_saved_usd" numeric DEFAULT '0' NOT NULL;--> statement-breakpoint
CREATE OR REPLACE FUNCTION usage_rollups_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign integer := TG_ARGV[0]::integer;
BEGIN
  WITH by_key AS MATERIALIZED (
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket_start, api_key_id, model, provider, status,
      count(*) AS requests, count(*) FILTER (WHERE status <> 'OK') AS errors, sum(prompt_tokens) AS prompt_tokens,
      sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd, count(ttft_ms) AS ttft_count,
      sum(usage_hist_unit(usage_ms_bin(latency_ms))) AS latency_hist,
      coalesce(sum(usage_hist_unit(usage_ms_bin(ttft_ms))), 0) AS ttft_hist,
      count(cache_hit) AS cache_hits, sum(cost_saved_usd) AS cost_saved_usd
    FROM changed GROUP BY 1, 2, 3, 4, 5),
  by_record_key AS (
    INSERT INTO usage_rollups AS r (bucket_start, api_key_id, model, provider, status, requests, errors, prompt_tokens,
      completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist, cache_hits, cost_saved_usd)
    SELECT bucket_start, api_key_id, model, provider, status, sign * requests, sign * errors, sign * prompt_tokens,
      sign * completion_tokens, sign * cost_usd, sign * ttft_count, sign * latency_hist, sign * ttft_hist,
      sign * cache_hits, sign * cost_saved_usd
    FROM by_key ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (bucket_start, api_key_id, model, provider, status) DO UPDATE SET
      requests = r.requests + excluded.requests, errors = r.errors + excluded.errors,
      prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = r.completion_tokens + excluded.completion_tokens,
      cost_usd = r.cost_usd + excluded.cost_usd, ttft_count = r.ttft_count + excluded.ttft_count,
      latency_hist = r.latency_hist + excluded.latency_hist, ttft_hist = r.ttft_hist + excluded.ttft_hist,
      cache_hits = r.cache_hits + excluded.cache_hits, cost_saved_usd = r.cost_saved_usd + excluded.cost_saved_usd)
  INSERT INTO usage_group_rollups AS g (group_by, bucket_start, group_key, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist, cache_hits, cost_saved_usd)
  SELECT d.group_by, k.bucket_start, d.group_key, sign * sum(requests), sign * sum(errors), sign * sum(prompt_tokens),
    sign * sum(completion_tokens), sign * sum(cost_usd), sign * sum(ttft_count), sign * sum(latency_hist),
    sign * sum(ttft_hist), sign * sum(cache_hits), sign * sum(cost_saved_usd)
  FROM by_key k CROSS JOIN LATERAL (VALUES ('ALL', ''), ('MODEL', k.model), ('PROVIDER', coalesce(k.provider, '')),
    ('API_KEY', coalesce(k.api_key_id::text, ''))) AS d(group_by, group_key)
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (group_by, bucket_start, group_key) DO UPDATE SET
    requests = g.requests + excluded.requests, errors = g.errors + excluded.errors,
    prompt_tokens = g.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = g.completion_tokens + excluded.completion_tokens,
    cost_usd = g.cost_usd + excluded.cost_usd, ttft_count = g.ttft_count + excluded.ttft_count,
    latency_hist = g.latency_hist + excluded.latency_hist, ttft_hist = g.ttft_hist + excluded.ttft_hist,
    cache_hits = g.cache_hits + excluded.cache_hits, cost_saved_usd = g.cost_saved_usd + excluded.cost_saved_usd,
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
CREATE OR REPLACE FUNCTION usage_rollups_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE usage_rollups, usage_group_rollups;
  INSERT INTO usage_rollups (bucket_start, api_key_id, model, provider, status, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist, cache_hits, cost_saved_usd)
  SELECT date_trunc('hour', created_at, 'UTC'), api_key_id, model, provider, status,
    count(*), count(*) FILTER (WHERE status <> 'OK'), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd),
    count(ttft_ms), sum(usage_hist_unit(usage_ms_bin(latency_ms))),
    coalesce(sum(usage_hist_unit(usage_ms_bin(ttft_ms))), 0), count(cache_hit), sum(cost_saved_usd)
  FROM usage_records GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO usage_group_rollups (group_by, bucket_start, group_key, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, latency_hist, ttft_hist, cache_hits, cost_saved_usd)
  SELECT d.group_by, r.bucket_start, d.group_key, sum(requests), sum(errors), sum(prompt_tokens),
    sum(completion_tokens), sum(cost_usd), sum(ttft_count), sum(latency_hist), sum(ttft_hist), sum(cache_hits),
    sum(cost_saved_usd)
  FROM usage_rollups r CROSS JOIN LATERAL (VALUES ('ALL', ''), ('MODEL', r.model), ('PROVIDER', coalesce(r.provider, '')),
    ('API_KEY', coalesce(r.api_key_id::text, ''))) AS d(group_by, group_key)
  GROUP BY 1, 2, 3;
END
$$;
