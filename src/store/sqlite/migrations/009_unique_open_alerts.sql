-- Alerts (issue 16): an alert is open at most once per rule and entity,
-- whichever node evaluates the rules, so the index on unresolved alerts
-- becomes UNIQUE (an insert that would open a second one does nothing:
-- ON CONFLICT ... DO NOTHING). Nothing wrote alerts before this version,
-- so no database holds duplicates. Lists of alerts page by id, all
-- states or one.
DROP INDEX IF EXISTS stg_import_monitoring_open;
CREATE UNIQUE INDEX IF NOT EXISTS stg_import_monitoring_open
    ON stg_import_monitoring (rule, entity_id) WHERE kind = 'alert' AND state <> 'resolved';
CREATE INDEX IF NOT EXISTS stg_import_monitoring_alert_id
    ON stg_import_monitoring (id) WHERE kind = 'alert';
CREATE INDEX IF NOT EXISTS stg_import_monitoring_alert_state
    ON stg_import_monitoring (state, id) WHERE kind = 'alert';
