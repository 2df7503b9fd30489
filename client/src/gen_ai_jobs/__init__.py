"""Client library and CLI for the gen-ai-on-aws jobs API."""
