"""rasa-sdk custom actions: thin adapters over bot/."""
