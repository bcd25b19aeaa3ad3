-- Fills the temporary table catalog_line (object, field, value) with the catalog of the
-- installed sdp extension (what the lines mean: test/upgrade/catalog.sql, which prints them).
-- Prints nothing and may run again in the same session (the table is refilled), so that
-- sql/upgrade.sql can describe two installs in one pg_regress session and compare them.
-- Leaves search_path = pg_catalog, pg_temp.
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE TEMP VIEW sdp_ns AS
  SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname IN ('sdp', 'sdp_api');

CREATE OR REPLACE FUNCTION pg_temp.sorted_acl(acl aclitem[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.array_to_string(ARRAY(SELECT a::text FROM pg_catalog.unnest(acl) a ORDER BY 1), ',')
$$;

SELECT pg_catalog.to_regclass('pg_temp.catalog_line') IS NOT NULL AS catalog_line_exists \gset
\if :catalog_line_exists
DROP TABLE pg_temp.catalog_line;
\endif
CREATE TEMP TABLE catalog_line (object text, field text, value text);

-- Which objects are members of the extension at all.
INSERT INTO catalog_line
SELECT 'extension sdp', 'member',
       pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
   AND e.extname = 'sdp';

-- Version, and the tables whose rows pg_dump keeps (pg_extension_config_dump).
INSERT INTO catalog_line
SELECT 'extension sdp', 'version', e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'sdp'
UNION ALL
SELECT 'extension sdp', 'config', c.cfg::pg_catalog.regclass::text || ' ' || coalesce(c.cond, '')
  FROM pg_catalog.pg_extension e,
       LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition)) AS c(cfg, cond)
 WHERE e.extname = 'sdp';

-- Schemas.
INSERT INTO catalog_line
SELECT 'schema ' || n.nspname, f.field, f.value
  FROM pg_catalog.pg_namespace n JOIN sdp_ns USING (oid),
       LATERAL (VALUES ('owner', n.nspowner::pg_catalog.regrole::text),
                       ('acl', pg_temp.sorted_acl(n.nspacl))) AS f(field, value);

-- Functions and procedures: signature, attributes, settings, privileges, body.
INSERT INTO catalog_line
SELECT p.oid::pg_catalog.regprocedure::text, f.field, f.value
  FROM pg_catalog.pg_proc p JOIN sdp_ns n ON n.oid = p.pronamespace,
       LATERAL (VALUES
         ('kind', p.prokind::text),
         ('arguments', pg_catalog.pg_get_function_arguments(p.oid)),
         ('result', pg_catalog.pg_get_function_result(p.oid)),
         ('language', (SELECT l.lanname::text FROM pg_catalog.pg_language l WHERE l.oid = p.prolang)),
         ('attributes', pg_catalog.concat_ws(' ', 'volatile=' || p.provolatile::text, 'parallel=' || p.proparallel::text,
                                             'strict=' || p.proisstrict, 'security_definer=' || p.prosecdef,
                                             'leakproof=' || p.proleakproof, 'cost=' || p.procost,
                                             'rows=' || p.prorows, 'support=' || p.prosupport::text)),
         ('config', pg_catalog.array_to_string(p.proconfig, ', ')),
         ('owner', p.proowner::pg_catalog.regrole::text),
         ('acl', pg_temp.sorted_acl(p.proacl)),
         ('probin', p.probin)) AS f(field, value)
UNION ALL
SELECT p.oid::pg_catalog.regprocedure::text, 'body:' || pg_catalog.lpad(l.n::text, 4, '0'), l.line
  FROM pg_catalog.pg_proc p JOIN sdp_ns n ON n.oid = p.pronamespace,
       LATERAL pg_catalog.regexp_split_to_table(p.prosrc, E'\n') WITH ORDINALITY AS l(line, n);

-- Relations: tables, views, sequences, indexes, composite types.
INSERT INTO catalog_line
SELECT c.oid::pg_catalog.regclass::text, f.field, f.value
  FROM pg_catalog.pg_class c JOIN sdp_ns n ON n.oid = c.relnamespace,
       LATERAL (VALUES
         ('kind', c.relkind::text || ' persistence=' || c.relpersistence::text),
         ('row_security', 'enabled=' || c.relrowsecurity || ' forced=' || c.relforcerowsecurity),
         ('options', pg_catalog.array_to_string(c.reloptions, ',')),
         ('replica_identity', c.relreplident::text),
         ('owner', c.relowner::pg_catalog.regrole::text),
         ('acl', pg_temp.sorted_acl(c.relacl))) AS f(field, value)
UNION ALL
SELECT c.oid::pg_catalog.regclass::text, 'view:' || pg_catalog.lpad(l.n::text, 4, '0'), l.line
  FROM pg_catalog.pg_class c JOIN sdp_ns n ON n.oid = c.relnamespace,
       LATERAL pg_catalog.regexp_split_to_table(pg_catalog.pg_get_viewdef(c.oid), E'\n') WITH ORDINALITY AS l(line, n)
 WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT s.seqrelid::pg_catalog.regclass::text, 'sequence',
       pg_catalog.concat_ws(' ', s.seqtypid::pg_catalog.regtype::text, 'start=' || s.seqstart,
                            'increment=' || s.seqincrement, 'min=' || s.seqmin, 'max=' || s.seqmax,
                            'cache=' || s.seqcache, 'cycle=' || s.seqcycle)
  FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN sdp_ns n ON n.oid = c.relnamespace;

-- Columns, by position among the live ones (a column dropped and re-added by an upgrade would
-- otherwise move: SELECT * and row_to_json show the order).
INSERT INTO catalog_line
SELECT a.attrelid::pg_catalog.regclass::text,
       'column ' || pg_catalog.lpad((pg_catalog.row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::text, 3, '0'),
       pg_catalog.concat_ws(' ', a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                            CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                            'DEFAULT ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
                            CASE WHEN a.attidentity <> '' THEN 'identity=' || a.attidentity::text END,
                            CASE WHEN a.attgenerated <> '' THEN 'generated=' || a.attgenerated::text END,
                            'collation=' || (SELECT co.collname::text FROM pg_catalog.pg_collation co
                                              WHERE co.oid = a.attcollation AND a.attcollation <> 0),
                            'acl=' || pg_temp.sorted_acl(a.attacl))
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN sdp_ns n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped;

-- Constraints (of tables and of domains), indexes, triggers, policies.
INSERT INTO catalog_line
SELECT coalesce(NULLIF(co.conrelid, 0)::pg_catalog.regclass::text, co.contypid::pg_catalog.regtype::text),
       'constraint ' || co.conname, pg_catalog.pg_get_constraintdef(co.oid)
  FROM pg_catalog.pg_constraint co JOIN sdp_ns n ON n.oid = co.connamespace
UNION ALL
SELECT i.indrelid::pg_catalog.regclass::text, 'index', pg_catalog.pg_get_indexdef(i.indexrelid)
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN sdp_ns n ON n.oid = c.relnamespace
UNION ALL
SELECT t.tgrelid::pg_catalog.regclass::text, 'trigger ' || t.tgname,
       pg_catalog.pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN sdp_ns n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal
UNION ALL
SELECT po.polrelid::pg_catalog.regclass::text, 'policy ' || po.polname,
       pg_catalog.concat_ws(' ', 'cmd=' || po.polcmd::text, 'permissive=' || po.polpermissive,
         'roles=' || pg_catalog.array_to_string(ARRAY(
            SELECT CASE WHEN r = 0 THEN 'public' ELSE r::pg_catalog.regrole::text END
              FROM pg_catalog.unnest(po.polroles) r ORDER BY 1), ','),
         'using=' || pg_catalog.pg_get_expr(po.polqual, po.polrelid),
         'check=' || pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid))
  FROM pg_catalog.pg_policy po JOIN pg_catalog.pg_class c ON c.oid = po.polrelid
  JOIN sdp_ns n ON n.oid = c.relnamespace;

-- Types: kind, enum labels in order, domains, privileges.
INSERT INTO catalog_line
SELECT t.oid::pg_catalog.regtype::text, f.field, f.value
  FROM pg_catalog.pg_type t JOIN sdp_ns n ON n.oid = t.typnamespace,
       LATERAL (VALUES
         ('kind', t.typtype::text || ' category=' || t.typcategory::text),
         ('domain', CASE WHEN t.typtype = 'd' THEN pg_catalog.concat_ws(' ',
                      pg_catalog.format_type(t.typbasetype, t.typtypmod),
                      CASE WHEN t.typnotnull THEN 'NOT NULL' END, 'DEFAULT ' || t.typdefault) END),
         ('labels', (SELECT pg_catalog.string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder)
                       FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)),
         ('owner', t.typowner::pg_catalog.regrole::text),
         ('acl', pg_temp.sorted_acl(t.typacl))) AS f(field, value);

-- Comments on anything in the two schemas (and on the schemas).
INSERT INTO catalog_line
SELECT pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid), 'comment', d.description
  FROM pg_catalog.pg_description d
 WHERE pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid) IS NOT NULL
   AND (pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid)).schema IN ('sdp', 'sdp_api')
    OR (d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.objoid IN (SELECT oid FROM sdp_ns));

-- Initial privileges recorded for pg_dump while the extension script ran (an upgrade script's
-- GRANTs are recorded too; ones made outside it would not be).
INSERT INTO catalog_line
SELECT pg_catalog.pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), 'init_privs ' || ip.privtype::text,
       pg_temp.sorted_acl(ip.initprivs)
  FROM pg_catalog.pg_init_privs ip
 WHERE (pg_catalog.pg_identify_object(ip.classoid, ip.objoid, ip.objsubid)).schema IN ('sdp', 'sdp_api')
    OR (ip.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND ip.objoid IN (SELECT oid FROM sdp_ns));

-- Default privileges set in the two schemas.
INSERT INTO catalog_line
SELECT 'default privileges ' || n.nspname, da.defaclrole::pg_catalog.regrole::text || ' ' || da.defaclobjtype::text,
       pg_temp.sorted_acl(da.defaclacl)
  FROM pg_catalog.pg_default_acl da JOIN sdp_ns n ON n.oid = da.defaclnamespace;
