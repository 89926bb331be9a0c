"""Custom Rasa NLU components (Rasa-facing glue; the logic lives in bot/)."""
