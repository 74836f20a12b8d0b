"""Numbers about a pilot, computed in SQL or on narrow frames (never from every row's text)."""
