CREATE TABLE "call_logs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"request_id" text,
	"api_key_id" uuid,
	"team_id" uuid,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"level" text NOT NULL,
	"parameters" jsonb,
	"request" jsonb,
	"response" jsonb,
	"attempts" jsonb NOT NULL,
	"trace_id" text,
	"body_bytes" integer DEFAULT 0 NOT NULL,
	"truncated" boolean DEFAULT false NOT NULL,
	"search" "tsvector"
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "log_bodies" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "log_bodies" text;--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "log_bodies" text;--> statement-breakpoint
CREATE INDEX "call_logs_created_idx" ON "call_logs" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "call_logs_key_created_idx" ON "call_logs" USING btree ("api_key_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "call_logs_team_created_idx" ON "call_logs" USING btree ("team_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "call_logs_request_idx" ON "call_logs" USING btree ("request_id");--> statement-breakpoint
CREATE INDEX "call_logs_search_idx" ON "call_logs" USING gin ("search");