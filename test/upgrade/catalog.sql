-- The catalog of the installed sdp extension as sorted text lines "object | field | value", for
-- test/e2e/upgrade.sh: a database updated with ALTER EXTENSION sdp UPDATE and one with a fresh
-- CREATE EXTENSION sdp must print the same lines (sql/upgrade.sql compares the same lines,
-- collected by catalog_lines.sql). OIDs never appear (they differ between the two
-- databases); objects are named by pg_describe_object / regprocedure / regclass, ACLs are
-- sorted, multi-line text (function bodies, view definitions) is one line per source line so a
-- difference shows as the line that differs.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' | '
\ir catalog_lines.sql

SELECT object, field, coalesce(value, '<null>') FROM catalog_line ORDER BY 1, 2, 3;
