"""Unanswered questions: what the bot could not answer, grouped for editors to turn into FAQ content."""
