"""Gateway to KSeF API 2.0. Import submodules lazily: nothing here runs at start-up."""
