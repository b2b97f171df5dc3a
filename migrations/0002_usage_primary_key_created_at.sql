DROP INDEX "usage_created_idx";--> statement-breakpoint
DROP INDEX "usage_key_created_idx";--> statement-breakpoint
DROP INDEX "usage_model_created_idx";--> statement-breakpoint
DROP INDEX "usage_provider_created_idx";--> statement-breakpoint
ALTER TABLE "usage_records" DROP CONSTRAINT "usage_records_pkey";--> statement-breakpoint
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_pkey" PRIMARY KEY("created_at","id");--> statement-breakpoint
CREATE INDEX "usage_key_created_idx" ON "usage_records" USING btree ("api_key_id","created_at","id");--> statement-breakpoint
CREATE INDEX "usage_model_created_idx" ON "usage_records" USING btree ("model","created_at");--> statement-breakpoint
CREATE INDEX "usage_provider_created_idx" ON "usage_records" USING btree ("provider","created_at");