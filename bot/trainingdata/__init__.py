"""Training data editor: Rasa NLU examples in Redis, validated like ``rasa data validate``, exported to data/nlu."""
