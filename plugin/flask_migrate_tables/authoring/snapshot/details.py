"""How an item's detail is written: "; "-separated fields (see the package's docstring)."""


def join_fields(*fields):
    """A detail string: the fields that are set, "; "-separated (see describe())."""
    return "; ".join(field for field in fields if field)


def sql_literal(text):
    return "'%s'" % text.replace("'", "''")


def set_target(value):
    """A statistics target that was set: PG 17+ has NULL for the default, older -1."""
    return None if value is None or value < 0 else value
