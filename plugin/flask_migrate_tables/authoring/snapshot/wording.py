"""Describing a difference between two snapshots in one line for a person."""
from .details import sql_literal

_SET_KINDS = ("grant", "default privileges")  # detail: "; "-separated entries, order-free


# Field names of more than one word (see the details relations.py and builder.py build); any
# other field's name is its first word.
_KEYS = sorted(("not null", "row level security", "force row level security", "replica identity",
                "cluster on", "partition by", "partition of", "access method", "foreign options",
                "of type", "toast options", "not populated",
                "owned by", "initially deferred", "not valid", "with check",
                "enabled replica", "enabled always", "direct arguments"), key=len, reverse=True)


def _split(detail):
    """The fields of a detail; "definition ..." is always the last one and may hold "; "."""
    if not detail:
        return []
    if detail.startswith("definition "):
        return [detail]
    head, marker, tail = detail.partition("; definition ")
    fields = head.split("; ")
    if marker:
        fields.append("definition " + tail)
    return fields


def _key(field):
    for key in _KEYS:
        if field == key or field.startswith(key + " "):
            return key
    if field in ("cycle", "no cycle"):
        return "cycle"
    return field.split(" ", 1)[0]


def _one_line(text):
    return " ".join(text.split())


def _excerpt(left, right, width=100, context=30):
    """The part of two long texts where they differ, with some context."""
    if len(left) <= width and len(right) <= width:
        return left, right
    prefix = 0
    while prefix < min(len(left), len(right)) and left[prefix] == right[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(left), len(right)) - prefix
           and left[-1 - suffix] == right[-1 - suffix]):
        suffix += 1
    start = max(0, prefix - context)
    start = left.rfind(" ", 0, start) + 1 if start else 0  # at a word

    def cut(text):
        end = min(len(text), len(text) - suffix + context)
        end = len(text) if text.find(" ", end) < 0 else text.find(" ", end)
        return "%s%s%s" % ("..." if start else "", text[start:end], "..." if end < len(text) else "")
    return cut(left), cut(right)


def _subject(kind, name):
    if kind in ("grant", "comment"):
        return "%s on %s" % (kind, name)
    if kind == "column order":
        return "column order of %s" % name
    return "%s %s" % (kind, name)


def describe(difference, left_label="the migrations", right_label="the models"):
    """One line for a person, e.g. "column public.notes.body: type text in the migrations,
    varchar(20) in the models"."""
    kind, name, left, right = difference
    subject = _subject(kind, name)
    if kind == "comment":
        quote = lambda text: sql_literal(_one_line(text))  # noqa: E731
        if left is None or right is None:
            present, absent = (left_label, right_label) if right is None else (right_label, left_label)
            return "%s: %s in %s, not in %s" % (subject, quote(left if right is None else right),
                                               present, absent)
        mine, theirs = _excerpt(_one_line(left), _one_line(right))
        return "%s: %s in %s, %s in %s" % (subject, sql_literal(mine), left_label, sql_literal(theirs),
                                          right_label)
    if kind in _SET_KINDS:
        mine = set(left.split("; ")) if left else set()
        theirs = set(right.split("; ")) if right else set()
        parts = []
        if theirs - mine:
            parts.append("%s in %s, not in %s" % (", ".join(sorted(theirs - mine)), right_label,
                                                  left_label))
        if mine - theirs:
            parts.append("%s in %s, not in %s" % (", ".join(sorted(mine - theirs)), left_label,
                                                  right_label))
        return "%s: %s" % (subject, "; ".join(parts) or "differs")
    if left is None:
        return "%s: in %s, not in %s" % (subject, right_label, left_label)
    if right is None:
        return "%s: in %s, not in %s" % (subject, left_label, right_label)
    if kind == "column order":
        return "%s: %s in %s, %s in %s" % (subject, left, left_label, right, right_label)
    return "%s: %s" % (subject, "; ".join(_field_differences(left, right, left_label, right_label)))


def _field_differences(left, right, left_label, right_label):
    mine, theirs = {}, {}
    for fields, side in ((_split(left), mine), (_split(right), theirs)):
        for field in fields:
            side.setdefault(_key(field), []).append(_one_line(field))
    order = list(mine)  # the fields of both sides, in their order
    later = list(theirs)
    for position, key in enumerate(later):
        if key not in order:
            following = [order.index(other) for other in later[position + 1:] if other in order]
            order.insert(min(following) if following else len(order), key)
    parts = []
    for key in order:
        ours, others = mine.get(key, []), theirs.get(key, [])
        if ours == others:
            continue
        if len(ours) == 1 and len(others) == 1:
            a, b = ours[0], others[0]
            if a.startswith(key + " ") and b.startswith(key + " "):
                a, b = _excerpt(a[len(key) + 1:], b[len(key) + 1:])
                parts.append("%s %s in %s, %s in %s" % (key, a, left_label, b, right_label))
            else:
                parts.append("%s in %s, %s in %s" % (a, left_label, b, right_label))
            continue
        only_mine = [field for field in ours if field not in others]
        only_theirs = [field for field in others if field not in ours]
        if only_mine:
            parts.append("%s in %s, not in %s" % (", ".join(only_mine), left_label, right_label))
        if only_theirs:
            parts.append("%s in %s, not in %s" % (", ".join(only_theirs), right_label, left_label))
        if not only_mine and not only_theirs:  # the same fields in another order
            parts.append("%s in %s, %s in %s" % (", ".join(ours), left_label, ", ".join(others),
                                                 right_label))
    return parts or ["%s in %s, %s in %s" % (_one_line(left), left_label, _one_line(right),
                                             right_label)]
