-- A schedule's catch-up cap: the most missed fires a catch_up misfire
-- policy runs after downtime (docs/schedules.md, "Managing schedules").
ALTER TABLE stg_scheduled_imports ADD COLUMN catch_up_max INTEGER NOT NULL DEFAULT 10
    CHECK (catch_up_max BETWEEN 1 AND 1000);
