"""Meta platform logic: page configuration, Send API client, profiles, send policy."""
