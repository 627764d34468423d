"""A local stand-in for LinkedIn's REST API (Conversions API, rules, campaigns, OAuth)."""
