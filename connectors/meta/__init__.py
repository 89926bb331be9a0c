"""Meta (Messenger, Instagram) glue: webhook signatures, event parsing, message rendering.

Plain Python (no Rasa import): the bot service uses it in the Python 3.11 environment.
"""
