#!/usr/bin/python3
"""TEST DOUBLE of PostgREST v12 for the /rpc/* surface. Never shipped, never used by `make demo`.

PostgREST is not installable on the test machines, so the end-to-end tests put this small server
behind the real Caddy (docker/caddy/Caddyfile) to exercise the agent's HTTPS transport and the
sdp_api SQL functions the way PostgREST calls them (contract: docs/postgrest.md §1–§9).
`docker/` runs the real postgrest/postgrest:v12.2.12 image instead. See README.md here for what is
emulated and what is deliberately not.

Per request, exactly as PostgREST v12 does for POST/GET/HEAD /rpc/<fn>:
  1. read the whole body; parse JSON / form bodies before any SQL runs;
  2. BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE for POST to a VOLATILE function, READ ONLY
     for GET/HEAD and for STABLE/IMMUTABLE functions;
  3. one `select set_config(k, $n, true), ...` with bind parameters: search_path, role,
     request.jwt.claims, request.method, request.path, request.headers (lowercased names, no
     cookie), request.cookies; role and claims are the anonymous role's, or those of the JWT in
     `Authorization: Bearer` once verified (HS256 with --jwt-secret-file, exp/nbf/iat with
     PostgREST's 30 s skew; a bad or expired token is 401 PGRST301 before any SQL);
  4. `select <pre-request>()`;
  5. call the function (text/plain -> single unnamed text parameter = $1; JSON object -> named
     arguments through json_to_record, PostgreSQL doing the casts), then read response.status
     and response.headers;
  6. COMMIT (ROLLBACK on any error); SQLSTATE -> HTTP status per PostgREST's Error.hs table,
     body {"code","message","details","hint"}.

Usage (binds 127.0.0.1 only; --port 0 picks a free port and writes it to --port-file):
  /usr/bin/python3 test/gateway/pgrst_gateway.py --dsn "host=127.0.0.1 port=5432 dbname=x \
      user=sdp_authenticator" --password-file FILE --port 0 --port-file FILE [--pid-file FILE] \
      [--jwt-secret-file FILE] [--jwt-aud AUDIENCE]
"""

import argparse
import base64
import binascii
import ctypes
import ctypes.util
import hashlib
import hmac
import http.server
import json
import os
import queue
import re
import signal
import socketserver
import sys
import threading
import time
import urllib.parse

import psycopg2
import psycopg2.extensions
import psycopg2.extras

JSON_TYPE = "application/json; charset=utf-8"

# Query-string keys PostgREST reads as modifiers, never as RPC arguments.
RESERVED_QUERY_KEYS = {"select", "order", "limit", "offset", "columns", "on_conflict", "and", "or"}

# Content types whose raw body goes to a single unnamed parameter of this type (docs/postgrest.md §3).
RAW_BODY_TYPES = {"text/plain": "text", "application/octet-stream": "bytea", "text/xml": "xml"}


class ApiError(Exception):
    """An error answered before or outside the database (PostgREST's own PGRSTxxx codes)."""

    def __init__(self, status, code, message, details=None, hint=None, headers=None):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, "details": details, "hint": hint}
        self.headers = headers or []


def pg_error_status(code, message, authed=False):
    """PostgREST v12 Error.hs pgErrorStatus; authed: the request runs as a JWT's role, not anon."""
    c = code or ""
    if c.startswith("08"):
        return 503
    if c.startswith("09"):
        return 500
    if c.startswith("0L") or c.startswith("0P"):
        return 403
    if c in ("23503", "23505"):
        return 409
    if c == "25006":
        return 405
    if c == "21000":
        return 400 if (message or "").endswith("requires a WHERE clause") else 500
    if c.startswith("25"):
        return 500
    if c.startswith("28"):
        return 403
    if c[:2] in ("2D", "38", "39", "3B", "40"):
        return 500
    if c == "53400":
        return 500
    if c.startswith("53"):
        return 503
    if c.startswith("54") or c.startswith("55"):
        return 500
    if c == "57P01":
        return 503
    if c[:2] in ("57", "58", "F0", "HV", "XX"):
        return 500
    if c == "P0001":
        return 400
    if c.startswith("P0"):
        return 500
    if c in ("42883", "42P01"):
        return 404
    if c == "42P17":
        return 500
    if c == "42501":
        return 403 if authed else 401
    if c.startswith("PT"):
        try:
            n = int(c[2:])
            return n if 100 <= n <= 599 else 500
        except ValueError:
            return 500
    return 400


def db_error(exc, authed=False):
    """ApiError for a psycopg2 database error."""
    code = getattr(exc, "pgcode", None)
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag else None) or str(exc).strip()
    details = diag.message_detail if diag else None
    hint = diag.message_hint if diag else None
    if code is None:  # connection lost: PostgREST answers PGRST001 with 503
        return ApiError(503, "PGRST001", "Database client error. Retrying the connection.",
                        str(exc).strip() or None)
    if code == "PGRST":  # full control: MESSAGE and DETAIL are JSON (docs/postgrest.md §5)
        try:
            body = json.loads(message)
            extra = json.loads(details or "")
            status = int(extra["status"])
            hdrs = [(k, str(v)) for k, v in dict(extra["headers"]).items()]
            err = ApiError(status, body.get("code"), body.get("message"), body.get("details"),
                           body.get("hint"), hdrs)
            return err
        except (ValueError, KeyError, TypeError, AttributeError):
            return ApiError(500, "PGRST121",
                            "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                            None, None)
    err = ApiError(pg_error_status(code, message, authed), code, message, details, hint)
    if err.status == 401:  # PostgREST v12 adds it to every 401 from the database
        err.headers.append(("WWW-Authenticate", "Bearer"))
    return err


class BoundStatement:
    """libpq's PQexecParams on a psycopg2 connection: a statement with real bind parameters.

    psycopg2 splices every parameter into the statement text on the client. PostgREST sends the
    request's settings (request.headers, with X-API-Key) as bind parameters instead, and the
    install script sets log_parameter_max_length = 0 for sdp_authenticator, so a server that logs
    every statement logs "$6" and never the key. Spliced in, the key would be in that log: the
    double would report a leak PostgREST does not have, and could not show the one it would have
    if that role setting went missing. Text parameters, text results, one statement."""

    PGRES_COMMAND_OK, PGRES_TUPLES_OK = 1, 2
    PG_DIAG_SQLSTATE, PG_DIAG_MESSAGE_PRIMARY = ord("C"), ord("M")
    _lib = None

    @classmethod
    def lib(cls):
        if cls._lib is None:
            lib = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
            lib.PQexecParams.restype = ctypes.c_void_p
            lib.PQexecParams.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                         ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                         ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
            lib.PQresultStatus.restype = ctypes.c_int
            lib.PQresultStatus.argtypes = [ctypes.c_void_p]
            lib.PQresultErrorField.restype = ctypes.c_char_p
            lib.PQresultErrorField.argtypes = [ctypes.c_void_p, ctypes.c_int]
            lib.PQerrorMessage.restype = ctypes.c_char_p
            lib.PQerrorMessage.argtypes = [ctypes.c_void_p]
            lib.PQclear.restype = None
            lib.PQclear.argtypes = [ctypes.c_void_p]
            cls._lib = lib
        return cls._lib

    @classmethod
    def execute(cls, conn, sql, params, authed=False):
        """Runs sql ($1, $2, ... placeholders) with params as text; ApiError on any error."""
        lib = cls.lib()
        values = (ctypes.c_char_p * len(params))(*[p.encode("utf-8") for p in params])
        res = lib.PQexecParams(ctypes.c_void_p(conn.pgconn_ptr), sql.encode("utf-8"), len(params),
                               None, values, None, None, 0)
        try:
            if res and lib.PQresultStatus(res) in (cls.PGRES_COMMAND_OK, cls.PGRES_TUPLES_OK):
                return
            if not res:  # out of memory or the connection is gone
                message = (lib.PQerrorMessage(ctypes.c_void_p(conn.pgconn_ptr)) or b"").decode(
                    "utf-8", "replace").strip()
                raise ApiError(503, "PGRST001", "Database client error. Retrying the connection.",
                               message or None)
            code = (lib.PQresultErrorField(res, cls.PG_DIAG_SQLSTATE) or b"").decode()
            message = (lib.PQresultErrorField(res, cls.PG_DIAG_MESSAGE_PRIMARY) or b"").decode(
                "utf-8", "replace")
            err = ApiError(pg_error_status(code, message, authed), code, message)
            if err.status == 401:
                err.headers.append(("WWW-Authenticate", "Bearer"))
            raise err
        finally:
            if res:
                lib.PQclear(res)


# ---- JWT (PostgREST v12 Auth.hs with jose 0.11) -------------------------------------------------
# PostgREST reads `Authorization: Bearer <token>` (scheme case-insensitive; anything else means no
# token), verifies the JWS with its jwt-secret and then the claims with a 30 s skew (exp, iat,
# nbf; with jwt-aud (--jwt-aud here) a token's `aud`, a string or an array, must name it, and a
# token without `aud` passes, as jose's validateAudClaim has it; no aud check without jwt-aud),
# takes the role from the `role` claim (the anonymous role when absent) and puts the claims, with
# "role" set, in request.jwt.claims. A role claim naming no role fails later, in the
# set_config('role') of the request's first statement: 22023 "role ... does not exist", which
# PostgREST v12 answers 400 (v13 made it 401); a role the authenticator is no member of: 42501
# "permission denied to set role", 403 under a JWT. Every failure here is
# 401 PGRST301 with the error's text and `WWW-Authenticate: Bearer error="invalid_token", ...`,
# before any SQL runs. The double verifies HS256 only: jose drops algorithms it does not allow
# ("none") before verifying, leaving no signature (JWSNoSignatures); a key of the secret's kind
# cannot verify RS/ES/PS/EdDSA signatures (JWSInvalidSignature); HS384/HS512, which PostgREST
# would verify with the same secret, are not emulated (501).

JWT_SKEW_SECONDS = 30
JOSE_ALGORITHMS = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384",
                   "ES512", "PS256", "PS384", "PS512", "EdDSA", "ES256K"}
B64URL = re.compile(r"[A-Za-z0-9_-]*")


def jwt_error(message):
    # Haskell's `show` of the message text: in double quotes, with \ and \" escaped.
    shown = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ApiError(401, "PGRST301", message, headers=[
        ("WWW-Authenticate", 'Bearer error="invalid_token", error_description=' + shown)])


def b64url_decode(part):
    if not B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise jwt_error("JWSError (CompactDecodeError Invalid base64url)")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def bearer_token(authorization):
    """Wai's extractBearerAuth: the token of `Bearer <token>`, else "" (an anonymous request)."""
    value = (authorization or "").lstrip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return rest.strip()


def verify_jwt(token, secret, anon_role, now=None, audience=None):
    """(role, claims) of a verified token; ApiError as PostgREST v12 answers otherwise."""
    if token == "":
        return anon_role, {"role": anon_role}
    if secret is None:
        raise ApiError(500, "PGRST300", "Server lacks JWT secret")
    parts = token.split(".")
    if len(parts) != 3:
        raise jwt_error("JWSError (CompactDecodeError Invalid number of parts: expected 3, got %d)"
                        % len(parts))
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload_bytes = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        raise jwt_error("JWSError (CompactDecodeError Invalid JSON)")
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise jwt_error("JWSError (CompactDecodeError Invalid JWS header)")
    alg = header["alg"]
    if alg not in JOSE_ALGORITHMS:  # "none" among them: dropped, so no signature is left
        raise jwt_error("JWSError JWSNoSignatures")
    if alg in ("HS384", "HS512"):
        raise ApiError(501, "PGRSTGW", "%s JWTs are not emulated by the test gateway (HS256 only)" % alg)
    expected = hmac.new(secret, (parts[0] + "." + parts[1]).encode("ascii"), hashlib.sha256).digest()
    if alg != "HS256" or not hmac.compare_digest(expected, signature):
        raise jwt_error("JWSError JWSInvalidSignature")
    try:
        claims = json.loads(payload_bytes)
    except ValueError:
        raise jwt_error("JWTClaimsSetDecodeError \"invalid JSON\"")
    if not isinstance(claims, dict):
        raise jwt_error("JWTClaimsSetDecodeError \"expected an object\"")
    now = time.time() if now is None else now
    for name in ("exp", "iat", "nbf"):
        if name in claims and (isinstance(claims[name], bool)
                               or not isinstance(claims[name], (int, float))):
            raise jwt_error("JWTClaimsSetDecodeError \"%s: expected a NumericDate\"" % name)
    if "exp" in claims and not now < claims["exp"] + JWT_SKEW_SECONDS:
        raise jwt_error("JWT expired")
    if "iat" in claims and claims["iat"] > now + JWT_SKEW_SECONDS:
        raise jwt_error("JWTIssuedAtFuture")
    if "nbf" in claims and now < claims["nbf"] - JWT_SKEW_SECONDS:
        raise jwt_error("JWTNotYetValid")
    if audience is not None and "aud" in claims:
        aud = claims["aud"]
        auds = aud if isinstance(aud, list) else [aud]
        if not auds or not all(isinstance(a, str) for a in auds):
            raise jwt_error("JWTClaimsSetDecodeError \"aud: expected a string or an array of strings\"")
        if audience not in auds:
            raise jwt_error("JWTNotInAudience")
    role = claims.get("role", anon_role)
    if not isinstance(role, str):
        role = json.dumps(role, separators=(",", ":"))
    claims["role"] = role
    return role, claims


class Pool:
    """A few connections as the authenticator, autocommit (the handler issues BEGIN itself)."""

    def __init__(self, dsn, password, size):
        self.dsn, self.password = dsn, password
        self.idle = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(size)

    def get(self):
        if not self.slots.acquire(timeout=10):
            raise ApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.")
        try:
            conn = self.idle.get_nowait()
            if conn.closed:
                raise queue.Empty
            return conn
        except queue.Empty:
            try:
                conn = psycopg2.connect(self.dsn, password=self.password,
                                        application_name="sdp-test-gateway")
            except psycopg2.Error as exc:
                self.slots.release()
                raise ApiError(503, "PGRST000", "Database connection error. Retrying the connection.",
                               str(exc).strip() or None)
            conn.autocommit = True
            return conn

    def put(self, conn, broken=False):
        if broken or conn.closed:
            try:
                conn.close()
            except psycopg2.Error:
                pass
        else:
            self.idle.put(conn)
        self.slots.release()


FUNCTION_QUERY = """
SELECT p.proname, p.provolatile, p.proretset, p.pronargs, p.pronargdefaults,
       coalesce(p.proargnames, '{}'::text[]) AS argnames,
       coalesce(p.proargmodes::text[], '{}'::text[]) AS argmodes,
       ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes) AS t) AS intypes,
       rt.typtype, rt.typname, rtn.nspname, pg_catalog.format_type(p.prorettype, NULL),
       rt.typtype = 'c' OR (p.proargmodes IS NOT NULL AND 't' = ANY (p.proargmodes::text[]))
         AS composite
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_type rt ON rt.oid = p.prorettype
  JOIN pg_catalog.pg_namespace rtn ON rtn.oid = rt.typnamespace
 WHERE n.nspname = %s AND p.proname = %s AND p.prokind = 'f'
"""


class Function:
    def __init__(self, row):
        (self.name, volatility, self.retset, nargs, ndefaults, argnames, argmodes, intypes,
         self.rettyptype, self.rettypname, self.retschema, self.rettype, self.composite) = row
        self.volatile = volatility == "v"
        # IN parameters only: proargtypes lists them; proargnames/modes cover all arguments.
        names = []
        if argmodes:
            for i, mode in enumerate(argmodes):
                if mode in ("i", "b", "v"):
                    names.append(argnames[i] if i < len(argnames) else "")
        else:
            names = [argnames[i] if i < len(argnames) else "" for i in range(nargs)]
        self.params = list(zip(names, intypes))
        self.required = {n for n, _ in self.params[: nargs - ndefaults]}
        self.named = {n for n, _ in self.params if n}

    def single_unnamed(self, typ):
        return len(self.params) == 1 and self.params[0][0] == "" and self.params[0][1] == typ

    def matches_keys(self, keys):
        """PostgREST's named-argument match: every key a parameter, every required one given."""
        if not self.params:
            return not keys
        if not all(n for n, _ in self.params):
            return False
        return keys <= self.named and self.required <= keys

    def media_type(self, schema):
        """The media type of a handler domain (docs/postgrest.md §4), e.g. "text/csv", or None."""
        if self.rettyptype == "d" and self.retschema == schema and "/" in self.rettypname:
            return self.rettypname
        return None


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def media(value):
    return (value or "").split(";", 1)[0].strip().lower()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sdp-test-gateway"
    sys_version = ""

    # ---- plumbing ---------------------------------------------------------------------------
    def log_message(self, fmt, *args):  # one line per request, never headers (X-API-Key)
        pass

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length > 0 else b""
        if len(data) != length:  # the client (or Caddy's body limit) cut the body: no SQL at all
            raise ConnectionAbortedError("request body shorter than Content-Length")
        return data

    def send(self, status, body, content_type=JSON_TYPE, headers=()):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(status)
        sent = set()
        for k, v in headers:
            self.send_header(k, v)
            sent.add(k.lower())
        if status != 204 and "content-type" not in sent and content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(0 if status == 204 else len(data)))
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(data)
        sys.stderr.write("gateway: %s %s -> %d\n" % (self.command, self.path.split("?", 1)[0], status))

    def send_error_body(self, err):
        self.send(err.status, json.dumps(err.body), headers=err.headers)

    def do_GET(self):
        self.handle_rpc()

    def do_HEAD(self):
        self.handle_rpc()

    def do_POST(self):
        self.handle_rpc()

    def other_method(self):
        self.read_body()
        self.send_error_body(ApiError(405, "PGRST101",
                                      "Only GET, HEAD or POST are allowed on /rpc (test gateway)"))

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = other_method

    # ---- the request ------------------------------------------------------------------------
    def handle_rpc(self):
        cfg = self.server.cfg
        try:
            body = self.read_body() if self.command == "POST" else b""
        except (ConnectionError, ValueError):
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        m = re.fullmatch(r"/rpc/([A-Za-z_][A-Za-z0-9_]*)", url.path)
        try:
            if not m:
                raise ApiError(404, "PGRSTGW", "the test gateway only emulates /rpc/<function>")
            # PostgREST's auth middleware runs first: a bad token never reaches the database.
            role, claims = verify_jwt(bearer_token(self.headers.get("Authorization")),
                                      self.server.jwt_secret, cfg.anon_role,
                                      audience=cfg.jwt_aud)
            profile = self.headers.get("Content-Profile" if self.command == "POST" else "Accept-Profile")
            if profile and profile != cfg.schema:
                raise ApiError(406, "PGRST106", "The schema must be one of the following: " + cfg.schema)
            self.call(m.group(1), url, body, role, claims)
        except ApiError as err:
            self.send_error_body(err)
        except Exception as exc:  # a bug of this double: say so instead of dropping the connection
            sys.stderr.write("gateway: internal error: %r\n" % (exc,))
            self.send_error_body(ApiError(500, "PGRSTGW", "test gateway internal error: %s" % type(exc).__name__))

    def call(self, fname, url, body, role, claims):
        cfg = self.server.cfg
        authed = role != cfg.anon_role  # PostgREST: 42501 is 403 for a JWT's role, 401 for anon
        conn = self.server.pool.get()
        broken = False
        try:
            cur = conn.cursor()
            cur.execute(FUNCTION_QUERY, (cfg.schema, fname))
            candidates = [Function(r) for r in cur.fetchall()]
            fn, args, read_only = self.plan(fname, candidates, url, body)
            accept = self.headers.get("Accept") or "*/*"
            accepted = [media(a) for a in accept.split(",")]
            handler_type = fn.media_type(cfg.schema)
            raw_output = handler_type is not None and (
                handler_type in accepted or "*/*" in accepted)
            if not raw_output and not any(a in ("application/json", "*/*", "application/*")
                                          for a in accepted):
                if "text/csv" in accepted:
                    raise ApiError(501, "PGRSTGW",
                                   "Accept: text/csv on a non-handler function is not emulated by the test gateway")
                raise ApiError(406, "PGRST107", "None of these media types are available: " + accept)
            try:
                cur.execute("BEGIN ISOLATION LEVEL READ COMMITTED " +
                            ("READ ONLY" if read_only else "READ WRITE"))
                self.set_request_gucs(cur, url, role, claims, authed)
                cur.execute("SELECT %s()" % cfg.pre_request)
                status, content_type, payload = self.invoke(cur, fn, args, raw_output, handler_type)
                cur.execute("SELECT pg_catalog.current_setting('response.status', true), "
                            "pg_catalog.current_setting('response.headers', true)")
                gstatus, gheaders = cur.fetchone()
                headers = []
                if gstatus:
                    try:
                        status = int(gstatus)
                    except ValueError:
                        raise ApiError(500, "PGRST112",
                                       "response.status GUC must be a valid status code")
                if gheaders:
                    try:
                        for obj in json.loads(gheaders):
                            (k, v), = dict(obj).items()
                            headers.append((str(k), str(v)))
                    except (ValueError, TypeError, AttributeError):
                        raise ApiError(500, "PGRST111",
                                       "response.headers GUC must be a JSON array composed of objects with a single key and a string value")
                cur.execute("COMMIT")
            except psycopg2.Error as exc:
                broken = conn.closed != 0
                if not broken:
                    try:
                        cur.execute("ROLLBACK")
                    except psycopg2.Error:
                        broken = True
                raise db_error(exc, authed)
            except ApiError:
                try:
                    cur.execute("ROLLBACK")
                except psycopg2.Error:
                    broken = True
                raise
            self.send(status, payload, content_type, headers)
        except psycopg2.Error as exc:
            broken = broken or conn.closed != 0
            raise db_error(exc, authed)
        finally:
            self.server.pool.put(conn, broken)

    def plan(self, fname, candidates, url, body):
        """(function, (kind, value), read_only) as PostgREST's findProc/getPayload would."""
        not_found = ApiError(404, "PGRST202",
                             "Could not find the function %s.%s in the schema cache"
                             % (self.server.cfg.schema, fname))
        if not candidates:
            raise not_found
        if self.command in ("GET", "HEAD"):
            pairs = [(k, v) for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True)
                     if k not in RESERVED_QUERY_KEYS]
            keys = {k for k, _ in pairs}
            fn = self.pick([f for f in candidates if f.matches_keys(keys)], not_found)
            return fn, ("named", json.dumps(dict(pairs))), True
        ctype = media(self.headers.get("Content-Type")) or "application/json"
        if ctype in RAW_BODY_TYPES:
            typ = RAW_BODY_TYPES[ctype]
            fn = self.pick([f for f in candidates if f.single_unnamed(typ)], not_found)
            if typ == "bytea":
                return fn, ("raw", psycopg2.Binary(body)), not fn.volatile
            return fn, ("raw", self.decode(body)), not fn.volatile
        if ctype == "application/json":
            text = self.decode(body)
            if text.strip() == "":
                payload, text = {}, "{}"  # an empty JSON body counts as {}
            else:
                try:
                    payload = json.loads(text)
                except ValueError:
                    raise ApiError(400, "PGRST102", "Empty or invalid json")
            if isinstance(payload, list):
                if payload and any(not isinstance(o, dict) or set(o) != set(payload[0]) for o in payload):
                    raise ApiError(400, "PGRST102", "All object keys must match")
                unnamed = [f for f in candidates if f.single_unnamed("json") or f.single_unnamed("jsonb")]
                if unnamed:
                    return self.pick(unnamed, not_found), ("raw", text), not unnamed[0].volatile
                raise ApiError(501, "PGRSTGW",
                               "a JSON array body to an RPC with named parameters is not emulated by the test gateway")
            if not isinstance(payload, dict):
                payload, text = {}, "{}"  # a top-level scalar becomes [] in PostgREST: no arguments
            keys = set(payload)
            named = [f for f in candidates if f.matches_keys(keys)]
            if named:
                fn = self.pick(named, not_found)
                return fn, ("named", text), not fn.volatile
            unnamed = [f for f in candidates if f.single_unnamed("json") or f.single_unnamed("jsonb")]
            fn = self.pick(unnamed, not_found)
            return fn, ("raw", text), not fn.volatile
        if ctype == "application/x-www-form-urlencoded":
            pairs = urllib.parse.parse_qsl(self.decode(body), keep_blank_values=True)
            keys = {k for k, _ in pairs}
            fn = self.pick([f for f in candidates if f.matches_keys(keys)], not_found)
            return fn, ("named", json.dumps(dict(pairs))), not fn.volatile
        if ctype == "text/csv":
            # PostgREST turns the CSV into JSON and passes only the FIRST row as named arguments
            # (json_to_recordset ... LIMIT 1); a single unnamed text parameter is never matched.
            header = self.decode(body).split("\n", 1)[0].strip().split(",")
            if not [f for f in candidates if f.matches_keys({h.strip() for h in header if h})]:
                raise not_found
            raise ApiError(501, "PGRSTGW", "text/csv request bodies are not emulated by the test gateway")
        raise ApiError(400, "PGRST102", "Content-Type not acceptable: " + ctype)

    @staticmethod
    def pick(matches, not_found):
        if not matches:
            raise not_found
        if len(matches) > 1:
            raise ApiError(300, "PGRST203", "Could not choose the best candidate function")
        return matches[0]

    @staticmethod
    def decode(body):
        # PostgreSQL refuses invalid UTF-8 and NUL in text with 22021 (HTTP 400).
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "22021", "invalid byte sequence for encoding \"UTF8\": 0x%02x"
                           % body[exc.start])
        if "\x00" in text:
            raise ApiError(400, "22021", "invalid byte sequence for encoding \"UTF8\": 0x00")
        return text

    def set_request_gucs(self, cur, url, role, claims, authed):
        cfg = self.server.cfg
        hdrs, cookies = {}, {}
        for name, value in self.headers.items():
            lname = name.lower()
            if lname == "cookie":
                for part in value.split(";"):
                    if "=" in part:
                        k, v = part.split("=", 1)
                        cookies[k.strip()] = v.strip()
                continue
            hdrs[lname] = value
        method = "GET" if self.command == "HEAD" else self.command
        BoundStatement.execute(
            cur.connection,
            "SELECT pg_catalog.set_config('search_path', $1, true),"
            " pg_catalog.set_config('role', $2, true),"
            " pg_catalog.set_config('request.jwt.claims', $3, true),"
            " pg_catalog.set_config('request.method', $4, true),"
            " pg_catalog.set_config('request.path', $5, true),"
            " pg_catalog.set_config('request.headers', $6, true),"
            " pg_catalog.set_config('request.cookies', $7, true)",
            [quote_ident(cfg.schema), role, json.dumps(claims),
             method, url.path, json.dumps(hdrs), json.dumps(cookies)], authed)

    def invoke(self, cur, fn, args, raw_output, handler_type):
        """Runs the call; returns (status, content type, body)."""
        qname = "%s.%s" % (quote_ident(self.server.cfg.schema), quote_ident(fn.name))
        kind, value = args
        params = []
        if kind == "raw":
            call, params = qname + "(%s)", [value]
            source = ""
        else:
            passed = [(n, t) for n, t in fn.params if n in set(json.loads(value))]
            cols = ", ".join("%s %s" % (quote_ident(n), t) for n, t in passed)
            call = qname + "(" + ", ".join("%s := _a.%s" % (quote_ident(n), quote_ident(n))
                                           for n, _ in passed) + ")"
            source = " FROM pg_catalog.json_to_record(%%s::json) AS _a(%s)" % cols if passed else ""
            params = [value] if passed else []
        if fn.rettype == "void" and not fn.retset:
            cur.execute("SELECT " + call + source, params)
            return 204, None, b""
        if raw_output:
            cur.execute("SELECT (" + call + ")::text" + source, params)
            row = cur.fetchone()
            return 200, handler_type, (row[0] or "") if row else ""
        if fn.retset:
            lateral = (source + ", LATERAL " if source else " FROM ") + call + " AS _r"
            cur.execute("SELECT coalesce(pg_catalog.json_agg(_r), '[]')::text" + lateral, params)
        elif fn.composite:
            lateral = (source + ", LATERAL " if source else " FROM ") + call + " AS _r"
            cur.execute("SELECT pg_catalog.to_json(_r)::text" + lateral, params)
        else:
            cur.execute("SELECT pg_catalog.to_json(" + call + ")::text" + source, params)
        row = cur.fetchone()
        return 200, JSON_TYPE, (row[0] if row and row[0] is not None else "null")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", required=True, help="libpq DSN of the authenticator, without password")
    ap.add_argument("--password-file", help="file holding the authenticator's password (0600)")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--pid-file")
    ap.add_argument("--schema", default="sdp_api")
    ap.add_argument("--anon-role", default="sdp_anon")
    ap.add_argument("--pre-request", default="sdp_api.pre_request")
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--jwt-secret-file",
                    help="PostgREST's jwt-secret (HS256), read like its @file form (one trailing "
                         "newline dropped); without it a request with a JWT gets 500 PGRST300")
    ap.add_argument("--jwt-aud",
                    help="PostgREST's jwt-aud: a token whose aud claim does not name it gets 401 "
                         "(a token without aud passes, as in PostgREST v12)")
    cfg = ap.parse_args()
    if cfg.listen not in ("127.0.0.1", "::1", "localhost"):
        ap.error("the test gateway binds loopback only")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*", cfg.pre_request):
        ap.error("--pre-request must be schema.function")
    password = None
    if cfg.password_file:
        with open(cfg.password_file) as f:
            password = f.read().strip()
    jwt_secret = None
    if cfg.jwt_secret_file:
        with open(cfg.jwt_secret_file, "rb") as f:
            jwt_secret = f.read()
        if jwt_secret.endswith(b"\n"):
            jwt_secret = jwt_secret[:-1]
        if len(jwt_secret) < 32:
            ap.error("the JWT secret must have at least 32 bytes (PostgREST's minimum)")
    server = Server((cfg.listen, cfg.port), Handler)
    server.cfg = cfg
    server.jwt_secret = jwt_secret
    server.pool = Pool(cfg.dsn, password, cfg.pool)
    port = server.server_address[1]
    if cfg.pid_file:
        with open(cfg.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    if cfg.port_file:
        tmp = cfg.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, cfg.port_file)
    sys.stderr.write("gateway: TEST DOUBLE of PostgREST listening on %s:%d\n" % (cfg.listen, port))

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
