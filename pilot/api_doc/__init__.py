"""The OpenAPI description of the HTTP API: its own package above the capabilities, fed by the
limits and vocabularies that sit beside their services (never by a views module)."""
