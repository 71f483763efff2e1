"""The preflight: every pending script read and checked once before anything runs, one `Prepared` each."""
import os

from ..apply.runner import LARGE_SCRIPT
from ..errors import InconsistentDatabase
from ..pg import lockwait
from .files import checksum, checksum_bytes, decoded_chunks, read_script, read_script_bytes
from .psql import may_have_psql_lines
from .statements import has_no_transaction_header, may_need_splitting, plain_plan, plan_script

# The preflight keeps the texts of small scripts, up to this much in all, for the run.
KEPT_TEXTS = 16 << 20
KEPT_TEXT = 64 << 10

# How a script whose text was not kept is read again for its run.
AS_TEXT, AS_BYTES = "text", "bytes"


class Prepared:
    """One pending script as the preflight read it: its checksum, its plan when the checksum pins
    its exact text (else None), its lock-wait policy, and its text (str, or bytes) when kept."""

    __slots__ = ("script", "checksum", "plan", "policy", "text", "again")

    def __init__(self, script, checksum, plan, policy, text=None, again=AS_TEXT):
        self.script, self.checksum, self.plan, self.policy = script, checksum, plan, policy
        self.text, self.again = text, again

    def take(self, server_version):
        """(text, plan) for the run: the kept text (then let go), else read again and checked
        to be what the preflight read; the plan made again when the checksum does not pin it."""
        script, text, self.text = self.script, self.text, None
        if self.again == AS_BYTES and text is None:  # see plain_large
            text = read_script_bytes(script.path, checked=True)
            if text is None or checksum_bytes(text) != self.checksum:
                raise InconsistentDatabase("%s changed while migrating; run again" % script.name)
        if text is None:
            text = read_script(script.path)
            if checksum(text) != self.checksum:
                raise InconsistentDatabase("%s changed while migrating; run again" % script.name)
        plan = self.plan if isinstance(text, bytes) or "\r" not in text else None
        if plan is None:
            plan = plan_script(text, script.name, server_version=server_version)
        return text, plan


def preflight(scripts, server_version, policy, utf8=True):
    """Read every pending script once before anything runs: unreadable or non-UTF-8 files stop here.

    Returns one Prepared per script, in order: its checksum, its lock-wait policy
    (its header lines over `policy`), its plan when the checksum pins its exact
    text (no carriage return: the checksum is taken with CRLF made LF), and the
    texts of small scripts (KEPT_TEXT each, KEPT_TEXTS in all): the run uses
    those as read here (what runs is what was checked and is recorded), and reads
    the others again, checking that they did not change meanwhile. A large
    script that simply runs whole (see plain_large) is kept as its bytes (the
    only one), or read again as bytes: the run sends its bytes as they are on disk.
    """
    prepared = []
    kept = 0
    large = [s for s in scripts if _size(s) > LARGE_SCRIPT] if utf8 else []
    for script in scripts:
        plain = plain_large(script, policy) if script in large else None
        if plain is not None:
            file_checksum, plan, script_policy, data = plain
            # The only large script keeps its bytes for the run (read, checked and hashed
            # once); with several, each is read again when its turn comes.
            prepared.append(Prepared(script, file_checksum, plan, script_policy,
                                     data if len(large) == 1 else None, AS_BYTES))
            continue
        text = read_script(script.path)
        plan = plan_script(text, script.name, server_version=server_version)
        item = Prepared(script, checksum(text), plan if "\r" not in text else None,
                        lockwait.script_policy(text, script.name, policy)
                        if lockwait.has_header(text) else policy)
        if len(text) <= KEPT_TEXT and kept + len(text) <= KEPT_TEXTS:
            item.text = text
            kept += len(text)
        prepared.append(item)
    return prepared


def plain_large(script, policy):
    """(checksum, plan, policy, bytes) of a large script that runs whole as it is on disk, else None.

    Large (LARGE_SCRIPT), UTF-8 without a BOM or a carriage return, nothing in it
    for psql, no no-transaction header and no word that could need a split: its
    bytes are what the server gets, so the run never holds its text and its
    bytes at once (a 100 MB data script costs about 100 MB, not 200).
    """
    data = read_script_bytes(script.path)
    if data is None or b"\r" in data or may_have_psql_lines(data):
        return None
    head = next(decoded_chunks(data[:KEPT_TEXT]))
    head = head[:head.rfind("\n") + 1]  # whole lines only
    if not any(line.strip() and not line.strip().startswith("--") for line in head.splitlines()) \
            or has_no_transaction_header(head) or may_need_splitting(decoded_chunks(data)):
        return None
    if lockwait.has_header(head):
        policy = lockwait.script_policy(head, script.name, policy)
    return checksum_bytes(data), plain_plan(len(data)), policy, data


def _size(script):
    try:
        return os.path.getsize(script.path)
    except OSError:
        return 0  # read_script says why
