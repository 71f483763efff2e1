"""Every check that can refuse a run, made once before its warning and its prompt.

Only a run with something to do makes them (one that has nothing to do costs no round trip more),
on the read made before the lock, cheapest first: the versions (--to, the books' problems unless
another run holds the lock, --retry, --mark-applied), the scripts' files (the preflight: read, decoded, planned), the pooler (a second
connection: pg/pooling.py), then the role: its privileges and a read-only session
(pg/privileges.py). Under the lock the versions are judged again on the read made there, which costs
nothing; the rest is not repeated. A refusal is one line and nothing was printed as if it ran.
"""
from .books import reconcile
from .pg.privileges import check_privileges
from .source.preflight import preflight


def refuse_early(run, books, request, version_schema, version_table):
    """Raise the first refusal (one line), or return the preflight's Prepared for `books.pending`.

    `run`: pg/run.Run (not locked yet); `books`: the history, state, assessment and the scripts
    to run up to the target, as read before the lock; `request`: the run's options.
    """
    # A problem read while another run holds the lock may be that run's own rows (a script in
    # steps has its "running" row): judged under the lock, once that run has ended. One query,
    # and only when there is a problem.
    if not (books.assessment.problems and run.session.lock.holder() is not None):
        reconcile.refuse(books.assessment, request.retry, request.mark_applied)
    mark = request.mark_applied
    if mark is not None:
        reconcile.check_mark_applied(books.assessment, mark, books.pending)
    connection = run.connection
    prepared = preflight(books.pending, connection.server_version, request.policy,
                         utf8=connection.encoding in ("UTF8", "UNICODE"))
    run.check_session()
    to_run = [s for s in books.pending if mark is None or s.version > mark]
    check_privileges(connection, books.history, books.state, version_schema or books.history.schema,
                     version_table, backup_column=request.backup is not None and bool(to_run))
    return prepared
