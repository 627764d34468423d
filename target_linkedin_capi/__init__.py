"""Singer target that streams server-side conversions to LinkedIn's Conversions API."""
