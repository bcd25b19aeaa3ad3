-- Who is calling. Every sdp_* function that touches tenant data asks sdp.sdp_current_client():
-- NULL means a trusted SQL caller (the extension owner / an administrator) who may act for any
-- client; otherwise it is the client the request was authenticated as, and the function must
-- only see and change that client's batches (answering PT404 for anything else, so existence
-- never leaks). The guardrails (40_auth.sql) replace this first version with the hardened one.
CREATE FUNCTION sdp.sdp_current_client() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nullif(current_setting('sdp.client_id', true), '') $$;
