"""Prompts as infrastructure: a registry of numbered versions with labels, the API the AI feature
asks for its prompt, gradual rollout and rollback, and comparison of two versions on real traffic."""
