CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"format" text NOT NULL,
	"record_count" bigint NOT NULL,
	"size_bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "evaluations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid,
	"model_dir" text NOT NULL,
	"tasks" jsonb NOT NULL,
	"data_dir" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"error" text,
	"progress" jsonb,
	"duration_s" double precision,
	"worker" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "loss_points" (
	"run_id" uuid NOT NULL,
	"step" bigint NOT NULL,
	"epoch" double precision NOT NULL,
	"loss" double precision NOT NULL,
	"lr" double precision NOT NULL,
	"grad_norm" double precision,
	"tokens" bigint NOT NULL,
	"samples" bigint NOT NULL,
	"elapsed_s" double precision NOT NULL,
	"tokens_per_s" double precision,
	CONSTRAINT "loss_points_run_id_step_pk" PRIMARY KEY("run_id","step")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"selection_id" uuid,
	"dataset_id" uuid NOT NULL,
	"spec" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"step" bigint DEFAULT 0 NOT NULL,
	"total_steps" bigint DEFAULT 0 NOT NULL,
	"epoch" double precision DEFAULT 0 NOT NULL,
	"latest_loss" double precision,
	"best_loss" double precision,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"wall_seconds" double precision DEFAULT 0 NOT NULL,
	"worker" text,
	"error" text,
	"progress" jsonb,
	"checkpoint_dir" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "scores" (
	"evaluation_id" uuid NOT NULL,
	"task" text NOT NULL,
	"shots" integer NOT NULL,
	"metric" text NOT NULL,
	"value" double precision NOT NULL,
	"stderr" double precision NOT NULL,
	"n" bigint NOT NULL,
	CONSTRAINT "scores_evaluation_id_task_metric_pk" PRIMARY KEY("evaluation_id","task","metric")
);
--> statement-breakpoint
CREATE TABLE "selection_members" (
	"selection_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"record_index" integer NOT NULL,
	"pick_distance" double precision,
	CONSTRAINT "selection_members_selection_id_position_pk" PRIMARY KEY("selection_id","position")
);
--> statement-breakpoint
CREATE TABLE "selections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dataset_id" uuid NOT NULL,
	"strategy" text NOT NULL,
	"size" bigint NOT NULL,
	"seed" bigint NOT NULL,
	"embedder" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"error" text,
	"metrics" jsonb,
	"progress" jsonb,
	"subset_sha256" text,
	"plot_sha256" text,
	"worker" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"id" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"gpus" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"slots" integer NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loss_points" ADD CONSTRAINT "loss_points_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_selection_id_selections_id_fk" FOREIGN KEY ("selection_id") REFERENCES "public"."selections"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scores" ADD CONSTRAINT "scores_evaluation_id_evaluations_id_fk" FOREIGN KEY ("evaluation_id") REFERENCES "public"."evaluations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "selection_members" ADD CONSTRAINT "selection_members_selection_id_selections_id_fk" FOREIGN KEY ("selection_id") REFERENCES "public"."selections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "selections" ADD CONSTRAINT "selections_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "datasets_sha256_key" ON "datasets" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "datasets_created_idx" ON "datasets" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "evaluations_run_idx" ON "evaluations" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "runs_created_idx" ON "runs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "selections_dataset_idx" ON "selections" USING btree ("dataset_id");--> statement-breakpoint
CREATE INDEX "selections_created_idx" ON "selections" USING btree ("created_at");