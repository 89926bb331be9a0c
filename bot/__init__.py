"""dmdesk: plain-Python logic of the customer-service framework (no Rasa imports here)."""

__version__ = "0.1.0"
