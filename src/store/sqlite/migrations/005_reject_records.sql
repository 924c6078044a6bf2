-- A reject names the record it came from, not only the line: a JSON array
-- on one line puts every record on line 1. record_index is the record's
-- 0-based index among the source's records (NULL when unknown: set-wise
-- rejects), json_pointer where in the JSON document the rejected value
-- (or the record) is, e.g. /steps/3/email (NULL for CSV).
ALTER TABLE importq_job_rejects ADD COLUMN record_index INTEGER;
ALTER TABLE importq_job_rejects ADD COLUMN json_pointer TEXT;
