-- Ascolto on PostgreSQL with least privilege: an owner role that runs the migrations (DDL) and an application
-- role that serves (no DDL; on audit_event only INSERT and SELECT). See docs/deployment.md, "Database roles".
--
-- Run as a superuser, connected to Ascolto's database, before the first migration and once more after it (the
-- script is idempotent; the second run takes UPDATE and DELETE on audit_event away again, which the default
-- privileges below give to every table the owner creates):
--
--   psql -v owner=ascolto_owner -v app=ascolto -d ascolto -f deploy/postgres/roles.sql
--   ASCOLTO_DATABASE_URL=postgresql+asyncpg://ascolto_owner@db/ascolto python run.py migrate
--   psql -v owner=ascolto_owner -v app=ascolto -d ascolto -f deploy/postgres/roles.sql
--
-- The roles are made without a password: set one with \password (or use certificates) as your pg_hba.conf says.
-- psql variables are not expanded inside the DO block below, so they are handed over as session settings.

SELECT set_config('ascolto.owner_role', :'owner', false), set_config('ascolto.app_role', :'app', false);

DO $roles$
DECLARE
    owner_role text := current_setting('ascolto.owner_role');
    app_role text := current_setting('ascolto.app_role');
    db text := current_database();
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = owner_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', owner_role);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = app_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT', app_role);
    END IF;

    -- The owner owns the database and its schema; nobody else may create anything in them.
    EXECUTE format('ALTER DATABASE %I OWNER TO %I', db, owner_role);
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db);
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', db, app_role);
    EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner_role);
    REVOKE ALL ON SCHEMA public FROM PUBLIC;
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app_role);

    -- The application role reads and writes rows, in the tables there are and in those later migrations create.
    EXECUTE format(
        'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
        owner_role, app_role);
    EXECUTE format(
        'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I',
        owner_role, app_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', app_role);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app_role);

    -- The audit trail: appended to and read, never changed. Its triggers (migration 0004) refuse UPDATE, DELETE
    -- and TRUNCATE whoever asks; only the owner could drop them, or the table, and the server never works as it.
    IF to_regclass('public.audit_event') IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON TABLE audit_event FROM %I', app_role);
        EXECUTE format('GRANT SELECT, INSERT ON TABLE audit_event TO %I', app_role);
    END IF;
END
$roles$;
