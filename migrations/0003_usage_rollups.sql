CREATE TABLE "usage_group_rollups" (
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
);
--> statement-breakpoint
CREATE TABLE "usage_rollups" (
	"bucket_start" timestamp with time zone NOT NULL,
	"api_key_id" uuid,
	"model" text NOT NULL,
	"provider" text,
	"status" text NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" numeric DEFAULT '0' NOT NULL,
	"ttft_count" bigint DEFAULT 0 NOT NULL,
	"latency_hist" numeric DEFAULT '0' NOT NULL,
	"ttft_hist" numeric DEFAULT '0' NOT NULL,
	CONSTRAINT "usage_rollups_key" UNIQUE NULLS NOT DISTINCT("bucket_start","api_key_id","model","provider","status")
);
--> statement-breakpoint
CREATE INDEX "usage_group_rollups_unsealed_idx" ON "usage_group_rollups" USING btree ("bucket_start") WHERE quantiles is null;--> statement-breakpoint
CREATE INDEX "usage_rollups_key_bucket_idx" ON "usage_rollups" USING btree ("api_key_id","bucket_start");