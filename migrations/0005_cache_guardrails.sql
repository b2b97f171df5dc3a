CREATE TABLE "cache_settings" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"embedding_model" text,
	"similarity_threshold" double precision DEFAULT 0.95 NOT NULL,
	"default_ttl_seconds" integer DEFAULT 3600 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "guardrail_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"input" jsonb,
	"output" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "guardrail_policies_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "cache_mode" text;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "cache_ttl_seconds" integer;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "cache_scope" text;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "guardrail_policy_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "cache_mode" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "cache_ttl_seconds" integer;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "guardrail_policy_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "cache_hit" text;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "cost_saved_usd" numeric(20, 10) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "cache_similarity" double precision;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "guardrails" jsonb;--> statement-breakpoint
INSERT INTO "cache_settings" ("id") VALUES (1) ON CONFLICT DO NOTHING;
