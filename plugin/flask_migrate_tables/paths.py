"""How the commands show a file's path (a leaf module: console/ and lint/ both use it)."""
import os


def shown_path(path):
    """A path relative to the working directory when it is below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative
