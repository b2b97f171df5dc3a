DROP INDEX "usage_created_idx";--> statement-breakpoint
DROP INDEX "usage_key_created_idx";--> statement-breakpoint
DROP INDEX "usage_model_created_idx";--> statement-breakpoint
DROP INDEX "usage_provider_created_idx";--> statement-breakpoint
CREATE INDEX "usage_created_idx" ON "usage_records" USING btree ("created_at" NULLS FIRST,"id" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "usage_key_created_idx" ON "usage_records" USING btree ("api_key_id","created_at" NULLS FIRST,"id" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "usage_model_created_idx" ON "usage_records" USING btree ("model","created_at" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "usage_provider_created_idx" ON "usage_records" USING btree ("provider","created_at" NULLS FIRST);