"""An app instance, for `FLASK_APP=shop.wsgi` under Flask 0.12 (which cannot call a factory)."""
from shop import create_app

app = create_app()
