"""Retraining in the background and swapping Rasa servers with no failed request (README, "Retrain and swap")."""
