-- 002_audit_editable: stg_import_audit loses the trigger (and its
-- function) that refused UPDATE and DELETE.
--
-- Why: the audit trail's tamper evidence is its hash chain (each row
-- hashes its fields and the previous row's hash; `importq audit verify`
-- recomputes it). Anyone with database access must be able to test that
-- by editing or deleting a row and watching verification fail. A trigger
-- that anyone who owns the table can drop adds no protection, but it does
-- stop that test. The service itself never updates or deletes audit rows:
-- it only appends, inside the transaction of the change recorded.
DROP TRIGGER IF EXISTS stg_import_audit_append_only ON stg_import_audit;
DROP FUNCTION IF EXISTS importq_audit_append_only();
