"""Agent workspace: accounts and sessions, queue operations, notes, canned
replies, suggested answers, replies through an outbound sender, resolve, events.

Plain logic over Redis; the HTTP routes are in ``bot/api/routers/agent_*.py``.
"""
