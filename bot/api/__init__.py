"""The bot service's HTTP layer (FastAPI)."""
