"""Handoff to human agents: tickets, the priority queue and support hours."""
