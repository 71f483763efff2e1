"""The recipe's Version row: read or made, set, and committed fast through the session's own connection."""
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import InconsistentDatabase


class VersionRow:
    """The Version row of `model`, kept through `session` (the app's `db.session`) on `engine`."""

    def __init__(self, model, session, engine):
        self.model, self.session, self.engine = model, session, engine
        self.row = None

    def load(self):
        """The recipe's Version row, made when missing (the table too, on a new database)."""
        self.model.__table__.create(bind=self.engine, checkfirst=True)
        row = self.session.query(self.model).one_or_none()
        if row is None:
            row = self.model(version=0, version_id=1)
            self.session.add(row)
            self.session.commit()
        self.row = row
        return row

    @property
    def version(self):
        return self.row.version

    def set(self, version):
        """The row set to `version` and committed the ORM's way (repairs, --mark-applied, --baseline)."""
        self.row.version = version
        self.session.commit()

    def commit(self):
        """End the session's transaction: no idle transaction may block the scripts' DDL."""
        self.session.commit()

    @property
    def errors(self):
        """What a failed version commit raises: SQLAlchemy's errors and the app's driver's."""
        return (SQLAlchemyError, self.engine.dialect.dbapi.Error)

    def rollback_quietly(self):
        try:
            self.session.rollback()
        except Exception:  # a lost connection: nothing left to roll back
            pass

    def committer(self):
        """commit(version, flush): the Version row set to N and committed through the session.

        One UPDATE of the row by its primary key, as the ORM would flush for
        `version_row.version = N`, but without its per-commit cost: a commit
        expires the row, and the ORM would first read it all back (a SELECT)
        to learn its key. The row object is then given the committed value.
        The statements are made once per run and sent on the session's own
        connection, in its transaction (`session.connection()`), which the
        session then commits: the app's driver, pool and settings, without the
        cost of SQLAlchemy's statement execution for one known UPDATE.

        With `flush=False` (every script but the last) the commit is visible at
        once but does not wait for the disk: the next script's commit flushes it.
        A server crash in between leaves the version row one behind the history,
        which the next run repairs, as after a kill between the two commits.
        """
        version_row, session = self.row, self.session
        state = inspect(version_row)
        statement = self._update(state.mapper)
        if self.engine.dialect.driver == "psycopg2":  # one message (rowcount: the UPDATE's)
            deferred, set_local = "SET LOCAL synchronous_commit TO off; " + statement, None
        else:
            # A statement of its own: psycopg 3, which an app's engine may use, binds
            # parameters on the server and refuses two commands in one.
            deferred, set_local = statement, "SET LOCAL synchronous_commit TO off"
        keys = {"pk%d" % number: value for number, value in enumerate(state.identity)}

        def commit(version, flush=True):
            cursor = session.connection().connection.cursor()
            try:
                if not flush and set_local is not None:
                    cursor.execute(set_local)
                cursor.execute(statement if flush else deferred, dict(keys, version=version))
                updated = cursor.rowcount
            finally:
                cursor.close()
            if updated != 1:
                session.rollback()
                raise InconsistentDatabase("the version row went away while migrating (after %s); "
                                           "run again" % version)
            session.commit()
            set_committed_value(version_row, "version", version)
        return commit

    def _update(self, mapper):
        """The UPDATE of the version row by its key, in the driver's own parameter style."""
        preparer = self.engine.dialect.identifier_preparer

        def quoted(name):
            return preparer.quote(name).replace("%", "%%")
        column = mapper.get_property("version").columns[0]
        where = " AND ".join("%s = %%(pk%d)s" % (quoted(key.name), number)
                             for number, key in enumerate(mapper.primary_key))
        table = preparer.format_table(mapper.local_table).replace("%", "%%")
        return "UPDATE %s SET %s = %%(version)s WHERE %s" % (table, quoted(column.name), where)
