"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
from pilot import create_app

app = create_app()
