-- One database and one login role per service: each service owns its data (DESIGN section 3) and
-- cannot connect to another's. Runs once, on the first start of an empty volume
-- (/docker-entrypoint-initdb.d, psql with ON_ERROR_STOP). Passwords come from the container's
-- environment (compose.yaml); \getenv needs psql 15 or later (the image is postgres:16).

\getenv ingest_password INGEST_DB_PASSWORD
\getenv rating_password RATING_DB_PASSWORD
\getenv sanctions_password SANCTIONS_DB_PASSWORD
\getenv repair_password REPAIR_DB_PASSWORD

CREATE ROLE ingest LOGIN PASSWORD :'ingest_password';
CREATE ROLE rating LOGIN PASSWORD :'rating_password';
CREATE ROLE sanctions LOGIN PASSWORD :'sanctions_password';
CREATE ROLE repair LOGIN PASSWORD :'repair_password';

-- The owner migrates its own schema (alembic on service start-up); PostgreSQL 15+ lets the
-- database owner create in schema public.
CREATE DATABASE ingest OWNER ingest;
CREATE DATABASE rating OWNER rating;
CREATE DATABASE sanctions OWNER sanctions;
CREATE DATABASE repair OWNER repair;

-- Nobody but the owner (and the superuser) may connect.
REVOKE ALL ON DATABASE ingest FROM PUBLIC;
REVOKE ALL ON DATABASE rating FROM PUBLIC;
REVOKE ALL ON DATABASE sanctions FROM PUBLIC;
REVOKE ALL ON DATABASE repair FROM PUBLIC;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
