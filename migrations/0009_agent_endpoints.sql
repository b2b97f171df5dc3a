CREATE TABLE "stored_responses" (
	"id" text PRIMARY KEY NOT NULL,
	"api_key_id" uuid,
	"model" text NOT NULL,
	"conversation" jsonb NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "cached_input_price_per_mtok" double precision;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "cache_write_price_per_mtok" double precision;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "reasoning_price_per_mtok" double precision;--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "settings" jsonb;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "cached_read_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "cache_write_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "reasoning_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "stored_responses_expires_idx" ON "stored_responses" USING btree ("expires_at");