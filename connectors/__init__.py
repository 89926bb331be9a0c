"""Channel glue: the Rasa input channel the bot service talks to (and, later, Meta's webhooks)."""
