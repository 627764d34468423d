"""`python -m target_linkedin_capi`: the same as the `target-linkedin-capi` command."""

from target_linkedin_capi.target import TargetLinkedInCapi

TargetLinkedInCapi.cli()
