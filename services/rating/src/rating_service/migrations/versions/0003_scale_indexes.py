"""rating: indexes for 1M subjects / 5M records (issue 7 scale check): typed list pages, objection pages

Revision ID: 0003

- ``credit_records_public_page_type``: a public list page filtered by subject type (``?type=citizen``) walked
  the whole list when few or none of its records were of that type (the key warning list has only
  enterprises: every ``type=citizen`` page read every live key-warning record, ~1 s at 1M subjects). The
  subject type is the subject key's prefix (``enterprise:…`` / ``citizen:…``), so no column is needed.
- ``objections_state_page`` / ``objections_page``: the admin objection list pages by (due_on, id) with or
  without a state; they replace ``objections_due`` (pending only, due_on only).
- ``objections_record``: a record's objections (``GET /v1/records/{id}/objections``, and every ending of a
  record, which makes its pending objection moot) were found by scanning all objections.
- ``subjects_search_bigrams``: ``q`` = a fragment of a name or displayed ID (``ILIKE '%…%'``) could use no
  index, so a rare fragment walked a whole list (seconds at 1M subjects). pg_trgm is not available everywhere
  (not in the embedded PostgreSQL), so the same idea in plain SQL: a GIN index over the distinct character
  bigrams of each subject's displayed name and ID; a fragment's bigrams must all be there (``@>``), and the
  ILIKE rechecks the candidates.

Built ``CONCURRENTLY`` (outside the migration's transaction): on a table of millions of rows a plain CREATE
INDEX would block every write of the replicas still running for minutes. ``IF NOT EXISTS`` makes a rerun after
an interrupted build harmless; an index left INVALID by one is dropped and built again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIVE = "state IN ('active', 'disputed')"
INDEXES = {
    "credit_records_public_page_type": "credit_records (list, split_part(subject_key, ':', 1), publicity_starts_on DESC, "
                                       f"id DESC) WHERE {LIVE}",
    "objections_state_page": "objections (state, due_on, id)",
    "objections_page": "objections (due_on, id)",
    "objections_record": "objections (record_id)",
    "subjects_search_bigrams": "subjects USING gin (rating_subject_bigrams(display_name, display_id))",
}


# Lower-cased distinct character bigrams: what ILIKE '%fragment%' needs a subject to contain (for fragments of 2+).
# Self-contained bodies: index builds, VACUUM and ANALYZE run them with search_path = pg_catalog (PostgreSQL 17+).
BIGRAMS = ("SELECT coalesce(array_agg(DISTINCT substr(v, i, 2)), '{{}}') FROM (SELECT lower({value})) AS s(v), "
           "generate_series(1, length(v) - 1) AS i")
SUBJECT_TEXT = "coalesce(name, '') || chr(1) || coalesce(display_id, '')"
FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION rating_bigrams(value text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    f"AS $$ {BIGRAMS.format(value='value')} $$",
    "CREATE OR REPLACE FUNCTION rating_subject_bigrams(name text, display_id text) RETURNS text[] LANGUAGE sql IMMUTABLE "
    f"PARALLEL SAFE AS $$ {BIGRAMS.format(value=SUBJECT_TEXT)} $$",
)


def upgrade() -> None:
    for function in FUNCTIONS:
        op.execute(function)
    with op.get_context().autocommit_block():
        for name, definition in INDEXES.items():
            if _invalid(name):
                op.execute(f"DROP INDEX CONCURRENTLY {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS objections_due")


def downgrade() -> None:
    op.create_index("objections_due", "objections", ["due_on"], postgresql_where=sa.text("state = 'pending'"))
    for name in INDEXES:
        op.drop_index(name)
    op.execute("DROP FUNCTION rating_subject_bigrams(text, text)")
    op.execute("DROP FUNCTION rating_bigrams(text)")


def _invalid(name: str) -> bool:
    """An index an interrupted CREATE INDEX CONCURRENTLY left behind: present but not usable."""
    return bool(op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name AND NOT i.indisvalid"),
        {"name": name}).first())
