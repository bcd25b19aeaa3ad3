-- The upgrade path, tested the way pg_stat_statements tests its own: install the last release,
-- ALTER EXTENSION sdp UPDATE, and the result must be a fresh install of the current version.
-- The catalog of each (test/upgrade/catalog_lines.sql: members, functions with bodies, settings
-- and privileges, tables, columns, constraints, indexes, triggers, policies, types, comments,
-- init privileges) is kept as lines and compared both ways: no line may be only in one.
-- test/e2e/upgrade.sh checks the same and also the data of the old version after the update.
-- Runs last: it drops the extension, and leaves a fresh install behind.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS sdp;
CREATE EXTENSION sdp VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'sdp';
ALTER EXTENSION sdp UPDATE;
SELECT extversion, extversion = sdp.sdp_version() AS library_matches FROM pg_extension WHERE extname = 'sdp';
\set ECHO none
\i test/upgrade/catalog_lines.sql
\set ECHO all
CREATE TABLE regress.updated_catalog AS SELECT * FROM catalog_line;

DROP EXTENSION sdp;
CREATE EXTENSION sdp;
\set ECHO none
\i test/upgrade/catalog_lines.sql
\set ECHO all
RESET search_path;
SELECT count(*) > 1000 AS catalog_described,
       count(*) FILTER (WHERE field = 'acl') > 100 AS with_privileges
  FROM catalog_line;
-- Expected: no rows.
(SELECT 'only after the update' AS side, * FROM regress.updated_catalog
 EXCEPT ALL SELECT 'only after the update', * FROM catalog_line)
UNION ALL
(SELECT 'only in a fresh install', * FROM catalog_line
 EXCEPT ALL SELECT 'only in a fresh install', * FROM regress.updated_catalog)
ORDER BY 2, 3, 4, 1;
DROP TABLE regress.updated_catalog;
