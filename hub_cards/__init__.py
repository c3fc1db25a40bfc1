"""Model and dataset cards and tooling to share Tarsier models, datasets and results on the Hub."""
