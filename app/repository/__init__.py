"""The model repository: <model_dir>/<name>/<version>/manifest.json plus its artifacts."""
